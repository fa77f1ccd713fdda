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
 * Runs `fn`, retrying it on transient RPC errors with exponential backoff. Any other error is thrown at
 * once. When every attempt failed: CHAIN_RPC_UNAVAILABLE naming `what` and `url`, with the last error as cause.
 */
export async function withRpcRetry<T>(
  what: string,
  fn: () => Promise<T>,
  options: { policy?: RetryPolicy; url?: string; signal?: AbortSignal; onRetry?: (attempt: number, err: unknown, delayMs: number) => void } = {},
): Promise<T> {
  const policy = options.policy ?? DEFAULT_RETRY;
  for (let attempt = 0; ; attempt++) {
    if (options.signal?.aborted) throw abortError(options.signal);
    try {
      return await fn();
    } catch (err) {
      if (!isTransientRpcError(err)) throw err;
      if (attempt >= policy.retries) {
        throw new TvmxError("CHAIN_RPC_UNAVAILABLE", `chain RPC unavailable${options.url ? ` at ${options.url}` : ""}: ${what} failed after ${attempt + 1} attempt(s)`, {
          details: { what, url: options.url, attempts: attempt + 1 },
          cause: err,
        });
      }
      const delay = backoffMs(policy, attempt + 1);
      options.onRetry?.(attempt + 1, err, delay);
      await sleep(delay, options.signal, abortError);
    }
  }
}
