import type { Provider } from "ethers";
import { sleep } from "../chain/index.js";

/**
 * Time as the chain will judge it. The contracts compare deadlines with `block.timestamp`; the next block's
 * timestamp is at least the wall clock (a node that mines on demand) and at least the latest block's (a chain
 * whose time was moved forward). So "now" is the larger of the two.
 */
export interface ChainClock {
  nowSec(): Promise<number>;
  /** Resolves once `nowSec() >= t` (polling every `pollMs`); rejects when `signal` aborts. */
  until(t: number, signal?: AbortSignal): Promise<void>;
}

export function chainClock(provider: Provider, pollMs: number, wallNow: () => number = () => Date.now()): ChainClock {
  const nowSec = async () => {
    const wall = Math.floor(wallNow() / 1000);
    try {
      const block = await provider.getBlock("latest");
      return Math.max(wall, block?.timestamp ?? 0);
    } catch {
      // The node being unreachable does not stop time: the wall clock is a lower bound either way.
      return wall;
    }
  };
  return {
    nowSec,
    async until(t, signal) {
      while ((await nowSec()) < t) await sleep(pollMs, signal);
    },
  };
}
