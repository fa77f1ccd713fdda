/**
 * When the chain's time reached an instant, in wall-clock time: the benchmark watches the node (directly, not
 * through the source's counting proxy) and notes when it first saw each block and its timestamp.
 *
 * Needed because a chain's seconds are not the wall's: a local node that mines a block per transaction stamps each
 * block at least a second after the last, so while the hosts send transactions its clock runs ahead, and an
 * auction window of W chain seconds lasts less than W wall seconds (the more bidders, the shorter). The benchmark
 * subtracts the windows as they ran, from the auction's opening to the first block at or past its reveal deadline.
 */
import { rpcCall } from "../../orchestrator/chain/index.js";

export interface BlockSighting {
  number: number;
  timestamp: number;
  seenAtMs: number;
}

/** The wall time the first block with `timestamp >= t` was seen, or undefined (none seen yet). */
export function wallTimeWhenChainReached(sightings: readonly BlockSighting[], t: number): number | undefined {
  return sightings.find((s) => s.timestamp >= t)?.seenAtMs;
}

export class BlockObserver {
  readonly sightings: BlockSighting[] = [];
  #last = -1;
  #stopped = false;
  readonly #done: Promise<void>;

  constructor(readonly url: string, readonly intervalMs = 100) {
    this.#done = this.#loop();
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      try {
        const head = Number(await rpcCall(this.url, "eth_blockNumber", []));
        for (let n = this.#last + 1; n <= head; n++) {
          if (this.#last < 0) n = head; // the first look: only the head matters
          const block = (await rpcCall(this.url, "eth_getBlockByNumber", [`0x${n.toString(16)}`, false])) as { timestamp: string } | null;
          if (!block) break;
          this.sightings.push({ number: n, timestamp: Number(BigInt(block.timestamp)), seenAtMs: Date.now() });
          this.#last = n;
        }
      } catch {
        // the node busy or gone for a moment: look again
      }
      await new Promise((r) => setTimeout(r, this.intervalMs));
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
  }
}
