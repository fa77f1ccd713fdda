import type { Addressable } from "ethers";
import type { ChainConnection } from "../connection.js";
import { requireContractCode } from "../contract-code.js";
import { withRpcRetry, type RetryDeadline } from "../retry.js";

/**
 * A contract read with the connection's retry policy (views are idempotent, so retrying is always safe).
 * A call that returns no data at all ("0x", which ethers reports as "could not decode result data") is
 * checked against the chain: with no code at the address it is CHAIN_NO_CONTRACT naming the address (a node
 * restarted empty, or a deployment file of another chain), not a decoding failure.
 */
export async function readWithRetry<T>(
  chain: ChainConnection,
  contract: { target: string | Addressable },
  what: string,
  fn: () => Promise<T>,
  signal?: AbortSignal,
  until?: RetryDeadline,
): Promise<T> {
  try {
    return await withRpcRetry(what, fn, { policy: chain.retry, url: chain.url, ...(signal ? { signal } : {}), ...(until ? { until } : {}) });
  } catch (err) {
    if (isEmptyResult(err)) await requireContractCode(chain, { [what.split(".")[0]!]: String(contract.target) }, err);
    throw err;
  }
}

/** ethers' BAD_DATA for a call that returned "0x". */
function isEmptyResult(err: unknown): boolean {
  const e = err as { code?: unknown; value?: unknown };
  return e?.code === "BAD_DATA" && e.value === "0x";
}
