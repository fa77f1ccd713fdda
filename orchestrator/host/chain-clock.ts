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
 */
export interface ChainClock {
  nowSec(): Promise<number>;
  /** Resolves once `nowSec() >= t` (polling every `pollMs`); rejects when `signal` aborts. */
  until(t: number, signal?: AbortSignal): Promise<void>;
}

export function chainClock(provider: Provider, pollMs: number, wallNow: () => number = () => Date.now()): ChainClock {
  let offsetSec: number | undefined;
  let lastBlock = -1;
  let lastTimestamp = 0;
  const nowSec = async () => {
    const wall = wallNow() / 1000;
    try {
      const block = await provider.getBlock("latest");
      if (block && block.number !== lastBlock) {
        lastBlock = block.number;
        lastTimestamp = block.timestamp;
        const observed = block.timestamp - wall;
        offsetSec = offsetSec === undefined ? observed : Math.max(offsetSec, observed);
      }
    } catch {
      // The node being unreachable does not stop time: the last known offset still holds.
    }
    return Math.max(Math.floor(wall + (offsetSec ?? 0)), lastTimestamp);
  };
  return {
    nowSec,
    async until(t, signal) {
      while ((await nowSec()) < t) await sleep(pollMs, signal, abortError);
    },
  };
}
