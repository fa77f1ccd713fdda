/**
 * A fixed-window rate limit for things a hostile peer can cause at will (a log line per refused connection):
 * at most `limit` events pass per `windowMs`; the rest are counted as suppressed. When a window that
 * suppressed something ends, `onSuppressed(count)` is called once (from an unref'd timer, so a limiter never
 * keeps the process alive), letting the owner write one summary line instead of the lines it dropped.
 *
 *   const limit = new RateLimit({ limit: 20, windowMs: 60_000, onSuppressed: (k) => log.warn("peer refused: suppressed", { suppressed: k }) });
 *   if (limit.take()) log.warn("peer refused", { remote });
 */
export interface RateLimitOptions {
  /** Events allowed per window (0: none pass, all are counted). */
  readonly limit: number;
  readonly windowMs: number;
  /** Called once per window that suppressed events, when it ends (or on `flush`/`close`). */
  readonly onSuppressed?: (suppressed: number) => void;
  /** Clock in ms (tests pass a fake one; the summary timer still runs on real time). */
  readonly now?: () => number;
}

export class RateLimit {
  readonly limit: number;
  readonly windowMs: number;
  readonly #onSuppressed: ((suppressed: number) => void) | undefined;
  readonly #now: () => number;
  #windowStart = Number.NEGATIVE_INFINITY;
  #passed = 0;
  #suppressed = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Events seen and events suppressed since the limiter was made. */
  #total = { seen: 0, suppressed: 0 };

  /** A bad limit or window is a programming error (util owns no error codes; callers validate their config). */
  constructor(options: RateLimitOptions) {
    if (!Number.isInteger(options.limit) || options.limit < 0) {
      throw new RangeError(`a rate limit must be a whole number >= 0, got ${options.limit}`);
    }
    if (!Number.isFinite(options.windowMs) || options.windowMs <= 0) {
      throw new RangeError(`a rate limit window must be > 0 ms, got ${options.windowMs}`);
    }
    this.limit = options.limit;
    this.windowMs = options.windowMs;
    this.#onSuppressed = options.onSuppressed;
    this.#now = options.now ?? Date.now;
  }

  /** Counts one event; true when it may pass (e.g. be logged), false when it is suppressed. */
  take(): boolean {
    const now = this.#now();
    if (now - this.#windowStart >= this.windowMs) {
      this.flush();
      this.#windowStart = now;
      this.#passed = 0;
    }
    this.#total.seen += 1;
    if (this.#passed < this.limit) {
      this.#passed += 1;
      return true;
    }
    this.#suppressed += 1;
    this.#total.suppressed += 1;
    if (this.#onSuppressed && !this.#timer) {
      this.#timer = setTimeout(() => this.flush(), Math.max(1, this.#windowStart + this.windowMs - now));
      this.#timer.unref();
    }
    return false;
  }

  /** Events suppressed in the current window and not yet reported. */
  get suppressed(): number {
    return this.#suppressed;
  }

  /** Totals since the limiter was made. */
  get totals(): { readonly seen: number; readonly suppressed: number } {
    return { ...this.#total };
  }

  /** Reports the suppressed count now (if any) and starts counting afresh. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const k = this.#suppressed;
    this.#suppressed = 0;
    if (k > 0) this.#onSuppressed?.(k);
  }

  /** Reports what is left and stops the summary timer. */
  close(): void {
    this.flush();
  }
}
