import type { Provider } from "ethers";
import { abortError } from "../chain/index.js";
import { sleep } from "../util/index.js";

/**
 * Time as the chain will judge the next transaction (`block.timestamp`). A chain's clock need not be the
 * wall clock: a node that mines on demand gives each block at least one second more than the last and keeps
 * the lead a burst of transactions gave it; a simulated chain may start behind the wall clock; a test moves
 * it forward on purpose. Blocks tell the offset: a block seen at wall time w with timestamp t says the
 * chain's offset is at least t - w (the block was mined at or before w). The clock keeps the largest such
 * offset and reads "now" as wall + offset, never earlier than the latest block.
 *
 * Since the estimate is a lower bound, an action taken once `now >= deadline` is never early for the chain.
 * A node may estimate gas at the latest block's time rather than the next one's, so transactions valid only
 * after a deadline (reveal, finalize) are sent with an explicit gas limit (see bidding.ts, source-auction.ts).
 *
 * A lower bound is the wrong base for deadlines, though: on a node that mines only when a transaction comes,
 * the latest block is as old as the node has been idle, and deadlines counted from it are already past when
 * the opening transaction is mined. `inclusionSec` therefore estimates from above when a transaction sent
 * now will be mined: the pending block's timestamp (what the node would stamp a block with now; where the
 * node has no pending block, the wall clock) plus one block interval (how long a transaction may wait for
 * its block: none on an automining node, 12 s on Ethereum, 2 s on an OP Stack chain).
 */
export interface ChainClock {
  /** A lower bound of the chain's time now, in seconds. */
  nowSec(): Promise<number>;
  /** An estimate from above of the timestamp of the block that will include a transaction sent now. */
  inclusionSec(): Promise<number>;
  /** Resolves once `nowSec() >= t` (looking at the chain every `pollMs` near `t`, at most once a second before); rejects when `signal` aborts. */
  until(t: number, signal?: AbortSignal): Promise<void>;
}

/** The longest `until` sleeps between two looks at the chain. */
export const UNTIL_MAX_SLEEP_MS = 1_000;
/** Blocks whose timestamp gaps estimate the block interval. */
const INTERVAL_SAMPLE_BLOCKS = 3;
/** Gaps longer than this are idle periods of an on-demand node, not its block interval. */
export const MAX_BLOCK_INTERVAL_SEC = 30;

interface RawBlock {
  number?: string | null;
  timestamp?: string;
}

export function chainClock(provider: Provider, pollMs: number, wallNow: () => number = () => Date.now()): ChainClock {
  let offsetSec: number | undefined;
  let lastBlock = -1;
  let lastTimestamp = 0;
  let automine: boolean | undefined;

  const observe = (timestamp: number, wall: number) => {
    const observed = timestamp - wall;
    offsetSec = offsetSec === undefined ? observed : Math.max(offsetSec, observed);
  };
  const readNow = (wall: number) => Math.max(Math.floor(wall + (offsetSec ?? 0)), lastTimestamp);

  const nowSec = async () => {
    try {
      const block = await provider.getBlock("latest");
      // The wall time of the answer, not of the request: the block may have been mined while the request was on
      // its way, and only "mined at or before the answer" makes the offset a lower bound.
      const wall = wallNow() / 1000;
      if (block && block.number !== lastBlock) {
        lastBlock = block.number;
        lastTimestamp = block.timestamp;
        observe(block.timestamp, wall);
      }
      return readNow(wall);
    } catch {
      // The node being unreachable does not stop time: the last known offset still holds.
      return readNow(wallNow() / 1000);
    }
  };

  /** The pending block's timestamp, or undefined where the node keeps no pending block. */
  const pendingTimestamp = async (): Promise<number | undefined> => {
    try {
      const raw = (await rpc(provider, "eth_getBlockByNumber", ["pending", false])) as RawBlock | null;
      if (!raw?.timestamp) return undefined;
      const t = Number(BigInt(raw.timestamp));
      // A provider that answers "pending" with the latest block says nothing about the time of the next one.
      if (raw.number && Number(BigInt(raw.number)) <= lastBlock) return undefined;
      return t;
    } catch {
      return undefined;
    }
  };

  /** Seconds a transaction may wait for its block: the smallest recent gap between blocks, capped. */
  const blockIntervalSec = async (): Promise<number> => {
    automine ??= await rpc(provider, "hardhat_getAutomine", []).then(
      (v) => v === true,
      () => false,
    );
    if (automine) return 0;
    try {
      const head = await provider.getBlock("latest");
      if (!head || head.number === 0) return MAX_BLOCK_INTERVAL_SEC;
      const from = Math.max(0, head.number - INTERVAL_SAMPLE_BLOCKS);
      const blocks = await Promise.all(Array.from({ length: head.number - from }, (_, i) => provider.getBlock(from + i)));
      let gap = MAX_BLOCK_INTERVAL_SEC;
      let next = head.timestamp;
      for (const b of blocks.reverse()) {
        if (!b) continue;
        if (next - b.timestamp > 0) gap = Math.min(gap, next - b.timestamp);
        next = b.timestamp;
      }
      return gap;
    } catch {
      return MAX_BLOCK_INTERVAL_SEC;
    }
  };

  return {
    nowSec,
    async inclusionSec() {
      const now = await nowSec();
      const [pending, interval] = await Promise.all([pendingTimestamp(), blockIntervalSec()]);
      const wall = wallNow() / 1000;
      if (pending !== undefined) observe(pending, wall);
      const base = pending !== undefined ? Math.max(now, pending) : Math.max(now, Math.ceil(wall));
      return base + interval;
    },
    async until(t, signal) {
      // The estimate is a lower bound that tightens only when a look falls just after a new block, so the last
      // UNTIL_MAX_SLEEP_MS before the estimated deadline are watched every `pollMs`, as the chain may be up to about
      // that much ahead of the estimate. Before that, a look a second (capped so that a chain whose clock jumps ahead,
      // a test or a burst of blocks, is noticed soon): a far deadline no longer costs a call per `pollMs`.
      for (let now = await nowSec(); now < t; now = await nowSec()) {
        const leftMs = (t - (wallNow() / 1000 + (offsetSec ?? 0))) * 1000;
        await sleep(Math.max(pollMs, Math.min(UNTIL_MAX_SLEEP_MS, Math.floor(leftMs - UNTIL_MAX_SLEEP_MS))), signal, abortError);
      }
    },
  };
}

/** A raw JSON-RPC call through the provider (`send` exists on JSON-RPC providers and Hardhat's). */
function rpc(provider: Provider, method: string, params: unknown[]): Promise<unknown> {
  const send = (provider as unknown as { send?: (m: string, p: unknown[]) => Promise<unknown> }).send;
  if (typeof send !== "function") return Promise.reject(new Error(`provider cannot send ${method}`));
  return send.call(provider, method, params);
}
