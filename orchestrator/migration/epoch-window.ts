/**
 * The pre-copy's epoch tokens in flight, oldest first, each with what its round sent. An acknowledgement gives the
 * end-to-end rate: the round's bytes over the time from its start to the destination's EPOCH_ACK.
 */
interface EpochInFlight {
  acked: Promise<number>;
  ackedAt: number | undefined;
  startedAt: number;
  bytes: number;
}

export class EpochWindow {
  readonly #capacity: number;
  readonly #inFlight: EpochInFlight[] = [];
  #delivered: { bytes: number; ms: number } | undefined;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#inFlight.length;
  }

  /** The latest rate sample (undefined before the first acknowledgement). */
  get delivered(): { bytes: number; ms: number } | undefined {
    return this.#delivered;
  }

  /** A token just sent; `acked` settles with its acknowledgement's arrival time (`performance.now()`). */
  push(acked: Promise<number>, startedAt: number, bytes: number): void {
    const entry: EpochInFlight = { acked, ackedAt: undefined, startedAt, bytes };
    acked.then((at) => (entry.ackedAt = at), () => undefined);
    this.#inFlight.push(entry);
  }

  /** Takes in the acknowledgements already arrived, then waits for the oldest ones until there is room for a token. */
  async makeRoom(): Promise<void> {
    while (this.#inFlight.length > 0 && (this.#inFlight[0]!.ackedAt !== undefined || this.#inFlight.length >= this.#capacity)) await this.#takeOldest();
  }

  /** Waits for every acknowledgement in flight. */
  async drain(): Promise<void> {
    while (this.#inFlight.length > 0) await this.#takeOldest();
  }

  async #takeOldest(): Promise<void> {
    const oldest = this.#inFlight.shift()!;
    this.#delivered = { bytes: oldest.bytes, ms: (await oldest.acked) - oldest.startedAt };
  }
}
