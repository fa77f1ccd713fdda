import { readFile } from "node:fs/promises";
import { getAddress, isAddress } from "ethers";
import type { ContractsConfig } from "../config/index.js";
import { TvmxError } from "../errors/index.js";

export interface SuiteAddresses {
  hostRegistry: string;
  migrationAuction: string;
  allocationRegistry: string;
  /** A block at or before the one the suite was deployed in: log scans start here, not at block 0. */
  deploymentBlock?: number;
}

/** What a deployment file says beside the addresses: the chain it was deployed on (`tvmx deploy` writes it). */
export interface DeploymentFacts {
  chainId?: bigint;
}

type ContractKey = "hostRegistry" | "migrationAuction" | "allocationRegistry";

const CONTRACT_NAMES: Record<ContractKey, string> = { hostRegistry: "HostRegistry", migrationAuction: "MigrationAuction", allocationRegistry: "AllocationRegistry" };

/**
 * Reads contract addresses from a deployment file, in either of two shapes:
 * - Hardhat Ignition's `deployed_addresses.json`: { "<Module>#HostRegistry": "0x..", ... } (the future id is
 *   matched after the "#");
 * - a plain object: { "hostRegistry": "0x..", "migrationAuction": "0x..", "allocationRegistry": "0x.." }.
 * `required` names the contracts that must be present (the mirror chain only needs the AllocationRegistry).
 */
export async function loadDeploymentFile(
  file: string,
  required: readonly ContractKey[] = ["hostRegistry", "migrationAuction", "allocationRegistry"],
): Promise<Partial<SuiteAddresses> & DeploymentFacts> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, "utf8"));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TvmxError(
      code === "ENOENT" ? "DEPLOYMENT_NOT_FOUND" : "DEPLOYMENT_INVALID",
      code === "ENOENT" ? `deployment file not found: ${file} (deploy the contracts first)` : `cannot read deployment file ${file}`,
      { details: { file }, cause: err },
    );
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new TvmxError("DEPLOYMENT_INVALID", `deployment file ${file} is not a JSON object`, { details: { file } });
  }
  const entries = Object.entries(parsed as Record<string, unknown>);
  const out: Partial<SuiteAddresses> & DeploymentFacts = {};
  const chainId = (parsed as { chainId?: unknown }).chainId;
  if (chainId !== undefined) {
    if ((typeof chainId !== "string" && typeof chainId !== "number") || !/^[0-9]{1,20}$/.test(String(chainId))) {
      throw new TvmxError("DEPLOYMENT_INVALID", `deployment file ${file}: chainId is not a chain id (${JSON.stringify(chainId)})`, { details: { file, chainId } });
    }
    out.chainId = BigInt(chainId);
  }
  const deploymentBlock = (parsed as { deploymentBlock?: unknown }).deploymentBlock;
  if (deploymentBlock !== undefined) {
    if (typeof deploymentBlock !== "number" || !Number.isSafeInteger(deploymentBlock) || deploymentBlock < 0) {
      throw new TvmxError("DEPLOYMENT_INVALID", `deployment file ${file}: deploymentBlock is not a block number (${JSON.stringify(deploymentBlock)})`, { details: { file, deploymentBlock } });
    }
    out.deploymentBlock = deploymentBlock;
  }
  for (const [key, contractName] of Object.entries(CONTRACT_NAMES) as [ContractKey, string][]) {
    const matches = entries.filter(([k]) => k === key || k.split("#").pop() === contractName);
    if (matches.length > 1) {
      throw new TvmxError("DEPLOYMENT_INVALID", `deployment file ${file} has ${matches.length} entries for ${contractName}: ${matches.map(([k]) => k).join(", ")}`, {
        details: { file, contract: contractName, keys: matches.map(([k]) => k) },
      });
    }
    const match = matches[0];
    if (!match) continue;
    const [k, value] = match;
    if (typeof value !== "string" || !isAddress(value)) {
      throw new TvmxError("DEPLOYMENT_INVALID", `deployment file ${file}: ${k} is not an address (${JSON.stringify(value)})`, { details: { file, key: k, value } });
    }
    out[key] = getAddress(value);
  }
  const missing = required.filter((k) => out[k] === undefined);
  if (missing.length > 0) {
    throw new TvmxError("DEPLOYMENT_INVALID", `deployment file ${file} has no address for ${missing.map((k) => CONTRACT_NAMES[k]).join(", ")}`, {
      details: { file, missing },
    });
  }
  return out;
}

/** The suite's addresses from a host config's `contracts` (explicit addresses or a deployment file). */
export async function resolveContracts(contracts: ContractsConfig): Promise<SuiteAddresses & DeploymentFacts> {
  if (contracts.kind === "addresses") {
    return {
      hostRegistry: getAddress(contracts.hostRegistry),
      migrationAuction: getAddress(contracts.migrationAuction),
      allocationRegistry: getAddress(contracts.allocationRegistry),
    };
  }
  return (await loadDeploymentFile(contracts.path)) as SuiteAddresses & DeploymentFacts;
}
