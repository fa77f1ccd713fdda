/**
 * One warning that hostile input can trigger at will (a refused connection, a rejected frame), written at most
 * `limit` times per `windowMs`; what is dropped is summed up in one line per window,
 * `{msg: "<msg>: suppressed", suppressed: K, windowMs}`, when that window ends. Count the events themselves in a
 * metric: the log is for a sample, not for the total.
 */
import { RateLimit } from "../util/index.js";
import type { LogFields, Logger } from "./logger.js";

export interface RateLimitedWarningOptions {
  readonly limit: number;
  readonly windowMs: number;
  readonly now?: () => number;
}

export class RateLimitedWarning {
  readonly #log: Logger;
  readonly #msg: string;
  readonly #limit: RateLimit;

  constructor(log: Logger, msg: string, options: RateLimitedWarningOptions) {
    this.#log = log;
    this.#msg = msg;
    this.#limit = new RateLimit({
      ...options,
      onSuppressed: (suppressed) => this.#log.warn(`${this.#msg}: suppressed`, { suppressed, windowMs: options.windowMs }),
    });
  }

  /** Writes the warning unless this window's budget is spent; true when it was written. */
  warn(fields?: LogFields): boolean {
    if (!this.#limit.take()) return false;
    this.#log.warn(this.#msg, fields);
    return true;
  }

  /** Warnings seen and suppressed since creation. */
  get totals(): { readonly seen: number; readonly suppressed: number } {
    return this.#limit.totals;
  }

  /** Writes the summary of the current window now, if it suppressed anything. */
  flush(): void {
    this.#limit.flush();
  }

  close(): void {
    this.#limit.close();
  }
}
