import type { Provider } from "ethers";
import { sleep } from "../chain/index.js";

/**
 * Time as the chain will judge it. The contracts compare deadlines with `block.timestamp`, and a chain's time
 * can run ahead of the wall clock: a node that mines on demand gives each block at least one second more than
 * the last, so a burst of transactions pushes its clock forward, and it keeps that offset; a chain whose time was
 * moved forward on purpose does the same. So "now" is the wall clock plus the largest offset seen between a new
 * block's timestamp and the wall clock when that block was first seen (never less than the wall clock).
 */
export interface ChainClock {
  nowSec(): Promise<number>;
  /** Resolves once `nowSec() >= t` (polling every `pollMs`); rejects when `signal` aborts. */
  until(t: number, signal?: AbortSignal): Promise<void>;
}

export function chainClock(provider: Provider, pollMs: number, wallNow: () => number = () => Date.now()): ChainClock {
  let offsetSec = 0;
  let lastBlock = -1;
  const nowSec = async () => {
    const wall = wallNow() / 1000;
    try {
      const block = await provider.getBlock("latest");
      if (block && block.number !== lastBlock) {
        lastBlock = block.number;
        offsetSec = Math.max(offsetSec, block.timestamp - wall);
      }
    } catch {
      // The node being unreachable does not stop time: the last known offset still holds.
    }
    return Math.floor(wall + offsetSec);
  };
  return {
    nowSec,
    async until(t, signal) {
      while ((await nowSec()) < t) await sleep(pollMs, signal);
    },
  };
}
