import { JsonRpcProvider, Network, type Provider } from "ethers";
import type { ChainEndpointConfig } from "../config/index.js";
import { TvmxError } from "../errors/index.js";
import { nullLogger, type Logger } from "../log/index.js";
import type { FeeCaps } from "./fees.js";
import { DEFAULT_RETRY, withRpcRetry, type RetryPolicy } from "./retry.js";

/**
 * A connection to one chain: the provider plus what every client of it needs (chain id, retry policy,
 * confirmations, polling interval). The provider is created with a static network, so ethers does not run
 * its own endless "detect network" retry loop while the node is down: our retries decide, and report.
 */
export interface ChainConnection {
  provider: Provider;
  chainId: bigint;
  /** For messages: the RPC URL, or a description of an in-process provider. */
  url: string;
  retry: RetryPolicy;
  confirmations: number;
  pollIntervalMs: number;
  /** Caps on what a transaction pays per gas (the endpoint's `fees`), applied by TxSender. */
  fees?: FeeCaps;
  close(): void;
}

export interface ConnectOptions {
  logger?: Logger;
  signal?: AbortSignal;
  /** Overrides the backoff shape; `retries` comes from the endpoint config. */
  retry?: Partial<RetryPolicy>;
  /** The chain id the caller expects (e.g. from a deployment file): a different one is CHAIN_WRONG_NETWORK. */
  expectChainId?: bigint;
}

/** Connects to `endpoint.rpcUrl`, retrying while the node is unreachable; CHAIN_RPC_UNAVAILABLE when it stays so. */
export async function connectChain(endpoint: ChainEndpointConfig, options: ConnectOptions = {}): Promise<ChainConnection> {
  const logger = options.logger ?? nullLogger;
  const retry: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry, retries: endpoint.rpcRetries };
  let chainId: bigint;
  const hex = await withRpcRetry("eth_chainId", () => rpcCall(endpoint.rpcUrl, "eth_chainId", []), {
    policy: retry,
    url: endpoint.rpcUrl,
    ...(options.signal ? { signal: options.signal } : {}),
    onRetry: (attempt, err, delayMs) => logger.warn("chain: node not answering, retrying", { url: endpoint.rpcUrl, attempt, delayMs, err }),
  });
  if (typeof hex !== "string" || !/^0x[0-9a-fA-F]+$/.test(hex)) {
    throw new TvmxError("CHAIN_WRONG_NETWORK", `node at ${endpoint.rpcUrl} answered eth_chainId with ${JSON.stringify(hex)}`, { details: { url: endpoint.rpcUrl } });
  }
  chainId = BigInt(hex);
  if (options.expectChainId !== undefined && options.expectChainId !== chainId) {
    throw new TvmxError("CHAIN_WRONG_NETWORK", `chain at ${endpoint.rpcUrl} has id ${chainId}, expected ${options.expectChainId}`, {
      details: { url: endpoint.rpcUrl, chainId, expected: options.expectChainId },
    });
  }
  const network = Network.from(chainId);
  const provider = new JsonRpcProvider(endpoint.rpcUrl, network, {
    staticNetwork: network,
    batchMaxCount: 1,
    pollingInterval: endpoint.pollIntervalMs,
    // ethers caches identical calls for 250 ms by default: a nonce or block number read twice in a row must be fresh.
    cacheTimeout: -1,
  });
  logger.info("chain connected", { url: endpoint.rpcUrl, chainId });
  return {
    provider,
    chainId,
    url: endpoint.rpcUrl,
    retry,
    confirmations: endpoint.confirmations,
    pollIntervalMs: endpoint.pollIntervalMs,
    ...(endpoint.fees ? { fees: feeCapsOf(endpoint.fees) } : {}),
    close: () => provider.destroy(),
  };
}

/** Wraps a provider that already exists (an in-process EDR network in tests, or a caller-managed one). */
export async function connectionFromProvider(
  provider: Provider,
  options: { url?: string; retry?: Partial<RetryPolicy>; confirmations?: number; pollIntervalMs?: number; fees?: FeeCaps } = {},
): Promise<ChainConnection> {
  const { chainId } = await provider.getNetwork();
  return {
    provider,
    chainId,
    url: options.url ?? "in-process provider",
    retry: { ...DEFAULT_RETRY, ...options.retry },
    confirmations: options.confirmations ?? 1,
    pollIntervalMs: options.pollIntervalMs ?? 100,
    ...(options.fees ? { fees: options.fees } : {}),
    close: () => {},
  };
}

/** The config's `chain.fees` as the TxSender's caps. */
function feeCapsOf(fees: NonNullable<ChainEndpointConfig["fees"]>): FeeCaps {
  return {
    ...(fees.maxFeePerGasWei !== undefined ? { maxFeePerGas: fees.maxFeePerGasWei } : {}),
    ...(fees.maxPriorityFeePerGasWei !== undefined ? { maxPriorityFeePerGas: fees.maxPriorityFeePerGasWei } : {}),
  };
}

/**
 * One JSON-RPC call with fetch (no provider): used to probe a node before trusting it, so no provider runs its
 * own network detection against a node that is down. Connection errors are thrown as they come (transient).
 */
export async function rpcCall(url: string, method: string, params: unknown[], timeoutMs = 5_000): Promise<unknown> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (res.status >= 500) throw Object.assign(new Error(`RPC ${method}: HTTP ${res.status}`), { code: "SERVER_ERROR" });
  const body = (await res.json().catch((err: unknown) => {
    throw new TvmxError("CHAIN_RPC_UNAVAILABLE", `RPC ${method} at ${url}: the answer is not JSON`, { details: { url, status: res.status }, cause: err });
  })) as { result?: unknown; error?: { message?: unknown } };
  if (body.error !== undefined) {
    throw new TvmxError("CHAIN_RPC_UNAVAILABLE", `RPC ${method} at ${url} failed: ${String(body.error.message)}`, { details: { url, method } });
  }
  return body.result;
}
