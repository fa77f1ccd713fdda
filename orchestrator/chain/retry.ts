import { TvmxError } from "../errors/index.js";
import { sleep } from "../util/index.js";
import { isTransientRpcError } from "./rpc-errors.js";

export interface RetryPolicy {
  /** Retries after the first attempt (0 = try once). */
  retries: number;
  /** First backoff; doubles each retry up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 5, baseDelayMs: 200, maxDelayMs: 5_000 };

/** The backoff before retry number `attempt` (1-based): base × 2^(attempt-1), capped. */
export function backoffMs(policy: RetryPolicy, attempt: number): number {
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
}

/** The error a cancelled chain operation rejects with: the signal's reason when it is an error. */
export function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new TvmxError("CHAIN_CANCELLED", "operation cancelled", { cause: signal.reason });
}

/**
 * A protocol deadline that bounds retrying instead of a number of attempts: an RPC call on the way to a reveal is
 * worth retrying for as long as the reveal window is open, and not a moment longer. `atMs` is wall-clock time
 * (Date.now()); `what` names the deadline for messages ("the reveal window of auction 3").
 */
export interface RetryDeadline {
  atMs: number;
  what: string;
}

export interface RetryOptions {
  policy?: RetryPolicy;
  url?: string;
  signal?: AbortSignal;
  /** Retry until this deadline (ignoring `policy.retries`); past it: CHAIN_DEADLINE_PASSED, no further attempt. */
  until?: RetryDeadline;
  onRetry?: (attempt: number, err: unknown, delayMs: number) => void;
  /** The wall clock (tests). */
  now?: () => number;
}

/**
 * Runs `fn`, retrying it on transient RPC errors with exponential backoff. Any other error is thrown at
 * once. When every attempt failed: CHAIN_RPC_UNAVAILABLE naming `what` and `url`, with the last error as cause.
 *
 * With `until`, the budget is the deadline rather than a count: attempts go on (backoff capped by the time left)
 * while the deadline is ahead, none is made once it has passed, and the error is CHAIN_DEADLINE_PASSED.
 */
export async function withRpcRetry<T>(what: string, fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const policy = options.policy ?? DEFAULT_RETRY;
  const now = options.now ?? Date.now;
  const at = options.url ? ` at ${options.url}` : "";
  let lastErr: unknown;
  for (let attempt = 0; ; attempt++) {
    if (options.signal?.aborted) throw abortError(options.signal);
    if (options.until && now() >= options.until.atMs) throw deadlinePassed(what, options.until, attempt, options.url, lastErr);
    try {
      return await fn();
    } catch (err) {
      if (!isTransientRpcError(err)) throw err;
      lastErr = err;
      if (!options.until && attempt >= policy.retries) {
        throw new TvmxError("CHAIN_RPC_UNAVAILABLE", `chain RPC unavailable${at}: ${what} failed after ${attempt + 1} attempt(s)`, {
          details: { component: "chain RPC", what, url: options.url, attempts: attempt + 1 },
          cause: err,
        });
      }
      let delay = backoffMs(policy, attempt + 1);
      if (options.until) {
        const left = options.until.atMs - now();
        if (left <= 0) throw deadlinePassed(what, options.until, attempt + 1, options.url, err);
        delay = Math.min(delay, left);
      }
      options.onRetry?.(attempt + 1, err, delay);
      await sleep(delay, options.signal, abortError);
    }
  }
}

function deadlinePassed(what: string, until: RetryDeadline, attempts: number, url: string | undefined, cause: unknown): TvmxError {
  return new TvmxError(
    "CHAIN_DEADLINE_PASSED",
    `chain RPC unavailable${url ? ` at ${url}` : ""}: ${what} still failing when ${until.what} closed (${attempts} attempt(s)); no further attempts`,
    { details: { component: "chain RPC", what, url, attempts, deadlineMs: until.atMs, deadline: new Date(until.atMs).toISOString() }, ...(cause !== undefined ? { cause } : {}) },
  );
}
