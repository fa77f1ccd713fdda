/** A promise with its resolve/reject exposed; unhandled rejections are silenced until someone awaits it. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: Error) => void;
  settled: boolean;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const d: Deferred<T> = {
    promise: new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    }),
    resolve: (value) => {
      if (d.settled) return;
      d.settled = true;
      resolve(value);
    },
    reject: (err) => {
      if (d.settled) return;
      d.settled = true;
      reject(err);
    },
    settled: false,
  };
  d.promise.catch(() => undefined);
  return d;
}

/** Resolves after `ms`, or at once when the signal aborts. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

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
