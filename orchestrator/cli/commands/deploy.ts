/**
 * `tvmx deploy`: deploys the contract suite (HostRegistry, AllocationRegistry, MigrationAuction, wired together)
 * with Hardhat Ignition and the project's module (deploy/modules/TvmExchange.ts), prints the addresses and writes a
 * deployment file that host configs can name (`deploymentFile`). The deployer is a keystore key, or by default the
 * node's first unlocked account (a local development node). Parameters come from an Ignition parameters file
 * (`--parameters`, e.g. deploy/parameters/testnet.json) and the flags, which win.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { DeploymentParameters } from "@nomicfoundation/ignition-core";
import { connectChain } from "../../chain/index.js";
import { checkSuiteParameters, deploySuiteWithIgnition, MODULE_ID } from "../../chain/ignition/index.js";
import { CliArgumentError } from "../errors.js";
import type { CliIo } from "../io.js";
import { fields, printJson } from "./output.js";
import { walletOf } from "./signer-options.js";

export interface DeployOptions {
  rpc: string;
  out?: string;
  keystore?: string;
  passwordEnv?: string;
  passwordFile?: string;
  mirrorRecorder?: string[];
  minStakeWei?: string;
  commitWindowFloor?: number;
  revealWindowFloor?: number;
  parameters?: string;
  deploymentDir?: string;
  confirmations?: number;
  json?: boolean;
}

export async function run(options: DeployOptions, io: CliIo): Promise<number> {
  const fromFile = options.parameters !== undefined ? await readParameters(options.parameters) : {};
  const wallet = await walletOf(options);
  const mirrorRecorders = options.mirrorRecorder ?? [];
  // What neither the file nor a flag sets keeps the module's default (1 ETH stake, one-hour withdrawal delay,
  // ten-minute confirmation timeout: deploy/modules/TvmExchange.ts).
  const parameters: DeploymentParameters[string] = {
    ...fromFile,
    ...(options.minStakeWei !== undefined ? { minStake: BigInt(options.minStakeWei) } : {}),
    ...(options.commitWindowFloor !== undefined ? { commitWindowFloor: BigInt(options.commitWindowFloor) } : {}),
    ...(options.revealWindowFloor !== undefined ? { revealWindowFloor: BigInt(options.revealWindowFloor) } : {}),
    ...(mirrorRecorders.length > 0 ? { mirrorRecorders } : {}),
  };
  const chain = await connectChain({ rpcUrl: options.rpc, confirmations: 1, pollIntervalMs: 500, rpcRetries: 2 });
  try {
    // Recorded so that log scans start at the deployment, not at block 0 (public RPCs refuse long ranges).
    const deploymentBlock = await chain.provider.getBlockNumber();
    const suite = await deploySuiteWithIgnition({
      rpcUrl: options.rpc,
      chainId: chain.chainId,
      ...(wallet ? { wallet } : {}),
      parameters,
      ...(options.deploymentDir !== undefined ? { deploymentDir: options.deploymentDir } : {}),
      ...(options.confirmations !== undefined ? { confirmations: options.confirmations } : {}),
    });
    const deployment = {
      chainId: chain.chainId.toString(),
      deploymentBlock,
      hostRegistry: suite.hostRegistry,
      migrationAuction: suite.migrationAuction,
      allocationRegistry: suite.allocationRegistry,
      deployer: suite.deployer,
      mirrorRecorders,
      ignitionModule: MODULE_ID,
      ...(options.deploymentDir !== undefined ? { ignitionDeploymentDir: options.deploymentDir } : {}),
    };
    if (options.out) {
      try {
        await mkdir(dirname(options.out), { recursive: true });
        await writeFile(options.out, `${JSON.stringify(deployment, null, 2)}\n`);
      } catch (cause) {
        throw new CliArgumentError(`--out: cannot write ${options.out}`, { details: { path: options.out }, cause });
      }
    }
    if (options.json) printJson(io, { ...deployment, ...(options.out ? { file: options.out } : {}) });
    else {
      io.out(fields([["chain id", deployment.chainId], ["HostRegistry", suite.hostRegistry], ["MigrationAuction", suite.migrationAuction], ["AllocationRegistry", suite.allocationRegistry], ["deployer", deployment.deployer]]));
      if (options.out) io.out(`wrote ${options.out}`);
    }
    return 0;
  } finally {
    chain.close();
  }
}

/**
 * An Ignition parameters file: `{"TvmExchange": {"minStake": "1000000000000000000n", ...}}`, integers written
 * as strings ending in "n" (Ignition's convention for bigints).
 */
async function readParameters(file: string): Promise<Record<string, unknown>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, "utf8"));
  } catch (cause) {
    throw new CliArgumentError(`--parameters: cannot read ${file} as JSON`, { details: { path: file }, cause });
  }
  const forModule = (parsed as Record<string, unknown> | null)?.[MODULE_ID];
  if (typeof forModule !== "object" || forModule === null || Array.isArray(forModule)) {
    throw new CliArgumentError(`--parameters: ${file} has no "${MODULE_ID}" object`, { details: { path: file } });
  }
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(forModule)) out[name] = typeof value === "string" && /^\d+n$/.test(value) ? BigInt(value.slice(0, -1)) : value;
  try {
    checkSuiteParameters(out as DeploymentParameters[string]);
  } catch (cause) {
    throw new CliArgumentError(`--parameters ${file}: ${(cause as Error).message}`, { details: { path: file }, cause });
  }
  return out;
}
