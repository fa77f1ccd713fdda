/**
 * Recycled payload buffers. Bundles of one session mostly have the same size, and fresh memory is slow on these
 * machines (the kernel zeroes every page on first touch): a buffer that went to a worker and came back is reused for
 * the next frame of that size instead of allocating again.
 */
export class BufferPool {
  readonly #free = new Map<number, ArrayBuffer[]>();
  readonly #maxPerSize: number;
  #reused = 0;
  #allocated = 0;

  constructor(maxPerSize = 32) {
    this.#maxPerSize = maxPerSize;
  }

  /** A buffer of exactly `n` bytes, with its own ArrayBuffer (transferable). */
  take(n: number): Buffer {
    const list = this.#free.get(n);
    const ab = list?.pop();
    if (ab) {
      this.#reused++;
      return Buffer.from(ab);
    }
    this.#allocated++;
    return Buffer.allocUnsafeSlow(n);
  }

  /** Returns a buffer for reuse (ignored beyond `maxPerSize` per size, or when detached). */
  give(ab: ArrayBuffer): void {
    if (ab.byteLength === 0) return;
    let list = this.#free.get(ab.byteLength);
    if (!list) {
      list = [];
      this.#free.set(ab.byteLength, list);
    }
    if (list.length < this.#maxPerSize) list.push(ab);
  }

  get stats(): { reused: number; allocated: number } {
    return { reused: this.#reused, allocated: this.#allocated };
  }
}
