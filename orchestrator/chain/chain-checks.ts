/**
 * Start-up checks of the chains a host is configured for, before it registers, stakes or watches anything:
 * the node serves the chain the config and the deployment file name (CHAIN_WRONG_NETWORK), every contract
 * address has code (CHAIN_NO_CONTRACT naming the address), and the mirror chain is not the auction chain
 * (CHAIN_MIRROR_IS_AUCTION_CHAIN: a mirror there would record every allocation twice in one registry).
 */
import type { ChainConnection } from "./connection.js";
import { requireContractCode } from "./contract-code.js";
import { TvmxError } from "../errors/index.js";

export interface ExpectedChain {
  /** "chain" or "mirrorChain": the config section, for messages. */
  section: string;
  /** The config's `<section>.chainId`, if set. */
  configChainId?: bigint;
  /** The deployment file's chain id, if it records one. */
  deployment?: { file: string; chainId: bigint };
  /** name → address, each must have code. */
  contracts: Record<string, string>;
}

export async function checkChain(chain: ChainConnection, expected: ExpectedChain): Promise<void> {
  if (expected.configChainId !== undefined && expected.configChainId !== chain.chainId) {
    throw new TvmxError("CHAIN_WRONG_NETWORK", `${expected.section}.chainId is ${expected.configChainId} but the node at ${chain.url} serves chain ${chain.chainId}`, {
      details: { section: expected.section, url: chain.url, chainId: chain.chainId, expected: expected.configChainId },
    });
  }
  if (expected.deployment !== undefined && expected.deployment.chainId !== chain.chainId) {
    throw new TvmxError(
      "CHAIN_WRONG_NETWORK",
      `deployment file ${expected.deployment.file} is for chain ${expected.deployment.chainId} but the node at ${chain.url} (${expected.section}.rpcUrl) serves chain ${chain.chainId}`,
      { details: { section: expected.section, url: chain.url, chainId: chain.chainId, expected: expected.deployment.chainId, file: expected.deployment.file } },
    );
  }
  await requireContractCode(chain, expected.contracts);
}

export function checkMirrorIsAnotherChain(chain: ChainConnection, mirror: ChainConnection): void {
  if (mirror.chainId === chain.chainId) {
    throw new TvmxError("CHAIN_MIRROR_IS_AUCTION_CHAIN", `mirrorChain (${mirror.url}) serves chain ${mirror.chainId}, the auction chain itself (${chain.url}): a mirror must be another chain`, {
      details: { chainId: chain.chainId, url: chain.url, mirrorUrl: mirror.url },
    });
  }
}
