/**
 * The destination's epoch barrier: stream 0 imports an epoch token only once every other stream has delivered
 * everything of that epoch (its EPOCH_MARK), and those streams go on only once the token is imported.
 */
import { deferred, type Deferred } from "../util/index.js";
import { ProtocolError } from "./errors.js";

/** The epoch barrier: a token is imported once every other stream has marked the end of that epoch. */
export class EpochBarrier {
  readonly #others: number;
  readonly #epochs = new Map<number, { arrived: Set<number>; allArrived: Deferred<void>; imported: Deferred<void> }>();

  constructor(streams: number) {
    this.#others = streams - 1;
  }

  #entry(epoch: number): { arrived: Set<number>; allArrived: Deferred<void>; imported: Deferred<void> } {
    let e = this.#epochs.get(epoch);
    if (!e) {
      e = { arrived: new Set(), allArrived: deferred<void>(), imported: deferred<void>() };
      if (this.#others === 0) e.allArrived.resolve();
      this.#epochs.set(epoch, e);
    }
    return e;
  }

  arrive(stream: number, epoch: number): void {
    const e = this.#entry(epoch);
    if (e.arrived.has(stream)) throw new ProtocolError("a stream marked the same epoch twice", { stream, epoch });
    e.arrived.add(stream);
    if (e.arrived.size === this.#others) e.allArrived.resolve();
  }

  allArrived(epoch: number): Promise<void> {
    return this.#entry(epoch).allArrived.promise;
  }

  tokenImported(epoch: number): Promise<void> {
    return this.#entry(epoch).imported.promise;
  }

  markImported(epoch: number): void {
    this.#entry(epoch).imported.resolve();
  }
}
