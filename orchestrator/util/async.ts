/**
 * Shared async helpers: a deferred promise, waits (abortable or cut short), a timeout around a promise, and a
 * polling loop. Every part of the daemon waits with these, so that a timer is always cleared and a wait always
 * ends when its AbortSignal does.
 */

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

/** Resolves after `ms`, or at once (without an error) when the signal aborts: a pause that a shutdown cuts short. */
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
 * Resolves after `ms`, or rejects when the signal aborts first (with the signal's reason, or what `abortError`
 * makes of the signal): a wait that a shutdown cancels.
 */
export function sleep(ms: number, signal?: AbortSignal, abortError: (signal: AbortSignal) => unknown = (s) => s.reason): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal!));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * `p`, or a rejection with `onTimeout()` when it has not settled after `ms`; the timer is cleared either way.
 * `p` keeps running: the caller that gives up on it owns cancelling it (an AbortSignal, closing a socket).
 */
export function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export interface PollOptions {
  /** Pause between two reads. */
  readonly intervalMs: number;
  /** Give up after this long: `onTimeout()` is thrown, or (without it) the last read's undefined is returned. */
  readonly timeoutMs?: number;
  readonly onTimeout?: () => Error;
  /** Stop early: the last read's result is returned (undefined when it had none). */
  readonly signal?: AbortSignal;
}

/**
 * Calls `read` until it returns a value other than undefined and returns that value. Reads once more after the
 * deadline passed, so a slow read that just made it counts.
 */
export async function pollUntil<T>(read: () => T | undefined | Promise<T | undefined>, options: PollOptions): Promise<T | undefined> {
  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
  for (;;) {
    const v = await read();
    if (v !== undefined) return v;
    if (Date.now() > deadline) {
      if (options.onTimeout) throw options.onTimeout();
      return undefined;
    }
    if (options.signal?.aborted) return undefined;
    await delay(options.intervalMs, options.signal);
  }
}
