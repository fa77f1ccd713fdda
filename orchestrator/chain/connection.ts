import { JsonRpcProvider, Network, type Provider } from "ethers";
import type { ChainEndpointConfig } from "../config/index.js";
import { TvmxError } from "../errors/index.js";
import { nullLogger, type Logger } from "../log/index.js";
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
  // A throw-away provider just to ask the chain id (ethers would otherwise probe on its own schedule).
  const probe = new JsonRpcProvider(endpoint.rpcUrl, undefined, { staticNetwork: true, batchMaxCount: 1 });
  let chainId: bigint;
  try {
    const hex = await withRpcRetry("eth_chainId", () => probe.send("eth_chainId", []) as Promise<string>, {
      policy: retry,
      url: endpoint.rpcUrl,
      ...(options.signal ? { signal: options.signal } : {}),
      onRetry: (attempt, err, delayMs) => logger.warn("chain: node not answering, retrying", { url: endpoint.rpcUrl, attempt, delayMs, err }),
    });
    chainId = BigInt(hex);
  } finally {
    probe.destroy();
  }
  if (options.expectChainId !== undefined && options.expectChainId !== chainId) {
    throw new TvmxError("CHAIN_WRONG_NETWORK", `chain at ${endpoint.rpcUrl} has id ${chainId}, expected ${options.expectChainId}`, {
      details: { url: endpoint.rpcUrl, chainId, expected: options.expectChainId },
    });
  }
  const network = Network.from(chainId);
  const provider = new JsonRpcProvider(endpoint.rpcUrl, network, { staticNetwork: network, batchMaxCount: 1, pollingInterval: endpoint.pollIntervalMs });
  logger.info("chain connected", { url: endpoint.rpcUrl, chainId });
  return {
    provider,
    chainId,
    url: endpoint.rpcUrl,
    retry,
    confirmations: endpoint.confirmations,
    pollIntervalMs: endpoint.pollIntervalMs,
    close: () => provider.destroy(),
  };
}

/** Wraps a provider that already exists (an in-process EDR network in tests, or a caller-managed one). */
export async function connectionFromProvider(
  provider: Provider,
  options: { url?: string; retry?: Partial<RetryPolicy>; confirmations?: number; pollIntervalMs?: number } = {},
): Promise<ChainConnection> {
  const { chainId } = await provider.getNetwork();
  return {
    provider,
    chainId,
    url: options.url ?? "in-process provider",
    retry: { ...DEFAULT_RETRY, ...options.retry },
    confirmations: options.confirmations ?? 1,
    pollIntervalMs: options.pollIntervalMs ?? 100,
    close: () => {},
  };
}
