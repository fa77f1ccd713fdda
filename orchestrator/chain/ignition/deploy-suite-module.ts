/**
 * Deploys the contract suite with Hardhat Ignition's engine and the project's module (deploy/modules/TvmExchange.ts),
 * against any JSON-RPC node: what `npm run deploy:local` does through Hardhat, for `tvmx deploy`. With a
 * deployment directory Ignition keeps its journal there, so an interrupted deployment resumes where it stopped;
 * without one the deployment is a single run.
 */
import { join, resolve } from "node:path";
import { deploy, DeploymentResultType } from "@nomicfoundation/ignition-core";
import type { DeploymentParameters, DeploymentResult, EIP1193Provider, ExecutionErrorDeploymentResult } from "@nomicfoundation/ignition-core";
import { getAddress, isAddress, type Wallet } from "ethers";
import { TvmxError } from "../../errors/index.js";
import type { SuiteAddresses } from "../deployment.js";
import { projectArtifactResolver } from "./artifact-resolver.js";
import { RpcProvider } from "./rpc-provider.js";

const PROJECT_ROOT = resolve(import.meta.dirname, "..", "..", "..");
export const MODULE_ID = "TvmExchange";

export interface IgnitionDeployOptions {
  rpcUrl: string;
  chainId: bigint;
  /** The deployer's key; default: the node's first unlocked account. */
  wallet?: Wallet;
  /** The module's parameters (module "TvmExchange"). */
  parameters: DeploymentParameters[string];
  /** Ignition's journal directory (resumable); default: none. */
  deploymentDir?: string;
  /** Confirmations Ignition waits for per transaction (default 1). */
  confirmations?: number;
  artifactsDir?: string;
}

/** The suite's addresses (the one addresses type, chain/deployment.ts) and who deployed it. */
export interface IgnitionDeployment extends SuiteAddresses {
  deployer: string;
}

/** The module's parameters, checked before anything is sent: integers as bigints, roles as addresses. */
export function checkSuiteParameters(parameters: DeploymentParameters[string]): void {
  for (const [name, value] of Object.entries(parameters)) {
    const bad = (expected: string): TvmxError =>
      new TvmxError("DEPLOYMENT_INVALID", `parameter ${MODULE_ID}.${name} must be ${expected} (got ${JSON.stringify(String(value))})`, { details: { name } });
    switch (name) {
      case "minStake":
        if (typeof value !== "bigint" || value <= 0n) throw bad("a positive integer of wei");
        break;
      case "withdrawalDelay":
      case "confirmationTimeout":
        if (typeof value !== "bigint" || value < 0n || value >= 2n ** 64n) throw bad("an integer of seconds");
        break;
      case "commitWindowFloor":
      case "revealWindowFloor":
        // MigrationAuction: a floor of a minimum window, non-zero and at most MAX_WINDOW_MINIMUM (one day).
        if (typeof value !== "bigint" || value <= 0n || value > 86_400n) throw bad("an integer of seconds from 1 to 86400");
        break;
      case "maxBond":
        if (typeof value !== "bigint" || value < 0n || value >= 2n ** 96n) throw bad("an integer of wei below 2^96");
        break;
      case "admin":
        if (typeof value !== "string" || !isAddress(value)) throw bad("an address");
        break;
      case "mirrorRecorders":
        if (!Array.isArray(value) || !value.every((a) => typeof a === "string" && isAddress(a))) throw bad("an array of addresses");
        break;
      default:
        throw new TvmxError("DEPLOYMENT_INVALID", `the ${MODULE_ID} module has no parameter ${name}`, { details: { name } });
    }
  }
}

/** Where Ignition sends the deployment from: an EIP-1193 provider whose `eth_accounts` names the deployer first. */
export interface ModuleDeployOptions {
  provider: EIP1193Provider;
  /** The module's parameters (module "TvmExchange"); absent ones take the module's defaults. */
  parameters: DeploymentParameters[string];
  /** Ignition's journal directory (resumable); default: none. */
  deploymentDir?: string;
  /** Confirmations Ignition waits for per transaction (default 1). */
  confirmations?: number;
  /** How often Ignition polls for its transactions' receipts (default 200 ms). */
  pollIntervalMs?: number;
  artifactsDir?: string;
  /** Named in the details of every error (e.g. the RPC endpoint). */
  context?: Record<string, unknown>;
}

/**
 * The one way the suite is deployed: Ignition's engine running the project's module (deploy/modules/TvmExchange.ts),
 * whose parameters have the one set of defaults. `tvmx deploy` reaches it over a node's RPC endpoint
 * (`deploySuiteWithIgnition`); the demo and the tests through their signer (deploy/deploy-suite.ts).
 */
export async function deployTvmExchange(options: ModuleDeployOptions): Promise<IgnitionDeployment> {
  checkSuiteParameters(options.parameters);
  const accounts = (await options.provider.request({ method: "eth_accounts" })) as string[];
  if (!Array.isArray(accounts) || accounts.length === 0) {
    throw new TvmxError("CHAIN_RPC_UNAVAILABLE", "the node has no unlocked account to deploy with: give --keystore", { details: { ...options.context } });
  }
  const { default: ignitionModule } = await import("../../../deploy/modules/TvmExchange.js");
  const result = await deploy({
    config: { requiredConfirmations: options.confirmations ?? 1, blockPollingInterval: options.pollIntervalMs ?? 200 },
    artifactResolver: projectArtifactResolver(options.artifactsDir ?? join(PROJECT_ROOT, "artifacts")),
    provider: options.provider,
    ignitionModule,
    deploymentParameters: { [MODULE_ID]: options.parameters },
    accounts,
    defaultSender: accounts[0]!,
    ...(options.deploymentDir !== undefined ? { deploymentDir: options.deploymentDir } : {}),
  }).catch((err: unknown) => {
    if (err instanceof TvmxError) throw err;
    throw new TvmxError("DEPLOYMENT_FAILED", `deployment failed: ${(err as Error)?.message ?? String(err)}`, { details: { ...options.context }, cause: err });
  });
  if (result.type !== DeploymentResultType.SUCCESSFUL_DEPLOYMENT) throw deploymentError(result);
  const address = (name: "hostRegistry" | "allocationRegistry" | "migrationAuction"): string => {
    const contract = result.contracts[`${MODULE_ID}#${capitalised(name)}`];
    if (!contract) throw new TvmxError("DEPLOYMENT_FAILED", `the deployment did not return ${name}`, { details: { contracts: Object.keys(result.contracts) } });
    return getAddress(contract.address);
  };
  return { hostRegistry: address("hostRegistry"), allocationRegistry: address("allocationRegistry"), migrationAuction: address("migrationAuction"), deployer: getAddress(accounts[0]!) };
}

/** `deployTvmExchange` against a node's JSON-RPC endpoint, sending from `wallet` or from the node's first account. */
export async function deploySuiteWithIgnition(options: IgnitionDeployOptions): Promise<IgnitionDeployment> {
  checkSuiteParameters(options.parameters);
  const provider = new RpcProvider(options.rpcUrl, options.chainId, options.wallet);
  try {
    return await deployTvmExchange({
      provider,
      parameters: options.parameters,
      ...(options.deploymentDir !== undefined ? { deploymentDir: options.deploymentDir } : {}),
      ...(options.confirmations !== undefined ? { confirmations: options.confirmations } : {}),
      ...(options.artifactsDir !== undefined ? { artifactsDir: options.artifactsDir } : {}),
      context: { rpcUrl: options.rpcUrl },
    });
  } finally {
    provider.destroy();
  }
}

function capitalised(name: string): string {
  return name[0]!.toUpperCase() + name.slice(1);
}

/** One error naming what Ignition refused or what failed, future by future. */
function deploymentError(result: Exclude<DeploymentResult, { type: DeploymentResultType.SUCCESSFUL_DEPLOYMENT }>): TvmxError {
  switch (result.type) {
    case DeploymentResultType.VALIDATION_ERROR:
      return new TvmxError("DEPLOYMENT_INVALID", `the module's parameters or futures are invalid: ${describe(result.errors)}`, { details: { errors: result.errors } });
    case DeploymentResultType.RECONCILIATION_ERROR:
      return new TvmxError("DEPLOYMENT_INVALID", `the deployment directory holds a different deployment: ${describe(result.errors)}`, { details: { errors: result.errors } });
    case DeploymentResultType.PREVIOUS_RUN_ERROR:
      return new TvmxError("DEPLOYMENT_FAILED", `an earlier run left transactions pending or failed: ${describe(result.errors)}`, { details: { errors: result.errors } });
    case DeploymentResultType.EXECUTION_ERROR:
      return new TvmxError("DEPLOYMENT_FAILED", `deployment failed: ${executionSummary(result)}`, { details: { failed: result.failed, timedOut: result.timedOut, held: result.held } });
  }
}

function describe(errors: Record<string, string[]>): string {
  return Object.entries(errors).map(([future, messages]) => `${future}: ${messages.join("; ")}`).join(" | ");
}

function executionSummary(result: ExecutionErrorDeploymentResult): string {
  const parts = [
    ...result.failed.map((f) => `${f.futureId} failed (${f.networkInteractionId}): ${f.error}`),
    ...result.timedOut.map((f) => `${f.futureId} timed out`),
    ...result.held.map((f) => `${f.futureId} held: ${f.reason}`),
  ];
  return parts.join(" | ") || "no future completed";
}
