import { getAddress } from "ethers";
import { TvmxError } from "../errors/index.js";
import type { ChainConnection } from "./connection.js";
import { withRpcRetry } from "./retry.js";

/**
 * Fails with CHAIN_NO_CONTRACT, naming the contract and its address, when any of `contracts` (name → address)
 * has no code on the chain: the node was restarted empty, or the addresses belong to another chain.
 */
export async function requireContractCode(chain: ChainConnection, contracts: Record<string, string>, cause?: unknown): Promise<void> {
  for (const [name, address] of Object.entries(contracts)) {
    const code = await withRpcRetry(`eth_getCode(${name})`, () => chain.provider.getCode(address), { policy: chain.retry, url: chain.url });
    if (code === "0x") throw noContractError(chain, name, address, cause);
  }
}

export function noContractError(chain: ChainConnection, name: string, address: string, cause?: unknown): TvmxError {
  return new TvmxError("CHAIN_NO_CONTRACT", `no contract code at ${getAddress(address)} (${name}) on chain ${chain.chainId} at ${chain.url}: the node was restarted empty, or the deployment belongs to another chain`, {
    details: { contract: name, address: getAddress(address), chainId: chain.chainId, url: chain.url },
    ...(cause !== undefined ? { cause } : {}),
  });
}
