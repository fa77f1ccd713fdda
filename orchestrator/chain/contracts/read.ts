import type { ChainConnection } from "../connection.js";
import { withRpcRetry } from "../retry.js";

/** A contract read with the connection's retry policy (views are idempotent, so retrying is always safe). */
export function readWithRetry<T>(chain: ChainConnection, what: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  return withRpcRetry(what, fn, { policy: chain.retry, url: chain.url, ...(signal ? { signal } : {}) });
}
