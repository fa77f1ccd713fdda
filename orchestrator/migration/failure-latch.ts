import { deferred } from "../util/index.js";

/**
 * The first failure of a session. Every wait of the session's pipeline is raced against it (`guard`), so a
 * failure anywhere (a cut connection, a refusal, the caller's abort) ends whatever step is waiting.
 */
export class FailureLatch {
  readonly #failure = deferred<never>();
  #error: Error | undefined;

  /** The first failure, once there is one. */
  get error(): Error | undefined {
    return this.#error;
  }

  /** Records `err` unless a failure was recorded already (the first one is the root cause). */
  fail(err: Error): void {
    if (this.#error) return;
    this.#error = err;
    this.#failure.reject(err);
  }

  /** Races a step against the session's failure. */
  guard<T>(p: Promise<T>): Promise<T> {
    if (this.#error) {
      p.catch(() => undefined);
      return Promise.reject(this.#error);
    }
    return Promise.race([p, this.#failure.promise]);
  }
}
