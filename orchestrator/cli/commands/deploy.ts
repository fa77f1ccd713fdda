/**
 * `tvmx deploy`: deploys the contract suite (HostRegistry, AllocationRegistry, MigrationAuction, wired together)
 * on a chain, prints the addresses and writes a deployment file that host configs can name (`deploymentFile`).
 * The deployer is a keystore key, or by default the node's first unlocked account (a local development node).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { JsonRpcProvider, Network, type Signer } from "ethers";
import { connectChain, rpcCall } from "../../chain/index.js";
import { TvmxError } from "../../errors/index.js";
import { loadDeploySuite } from "../../demo/load-suite.js";
import { readPassword, unlockKeystore } from "../../keystore/index.js";
import { CliArgumentError } from "../errors.js";
import type { CliIo } from "../io.js";
import { fields, printJson } from "./output.js";

export interface DeployOptions {
  rpc: string;
  out?: string;
  keystore?: string;
  passwordEnv?: string;
  passwordFile?: string;
  mirrorRecorder?: string[];
  minStakeWei?: string;
  json?: boolean;
}

export async function run(options: DeployOptions, io: CliIo): Promise<number> {
  if (options.keystore === undefined && (options.passwordEnv !== undefined || options.passwordFile !== undefined)) {
    throw new CliArgumentError("--password-env/--password-file need --keystore", {});
  }
  if (options.keystore !== undefined && (options.passwordEnv === undefined) === (options.passwordFile === undefined)) {
    throw new CliArgumentError("--keystore needs exactly one of --password-env <VAR> or --password-file <file>", {});
  }
  const chain = await connectChain({ rpcUrl: options.rpc, confirmations: 1, pollIntervalMs: 500, rpcRetries: 2 });
  const provider = new JsonRpcProvider(options.rpc, Network.from(chain.chainId), { staticNetwork: true });
  try {
    const { deploySuite, LOCAL_SUITE_PARAMS } = await loadDeploySuite();
    const deployer = await deployerOf(options, provider);
    const params = { ...LOCAL_SUITE_PARAMS, ...(options.minStakeWei ? { minStake: BigInt(options.minStakeWei) } : {}), mirrorRecorders: options.mirrorRecorder ?? [] };
    const suite = await deploySuite(deployer, params);
    const deployment = {
      chainId: chain.chainId.toString(),
      hostRegistry: suite.hostRegistry,
      migrationAuction: suite.migrationAuction,
      allocationRegistry: suite.allocationRegistry,
      deployer: await deployer.getAddress(),
      mirrorRecorders: params.mirrorRecorders,
    };
    if (options.out) {
      try {
        await mkdir(dirname(options.out), { recursive: true });
        await writeFile(options.out, `${JSON.stringify(deployment, null, 2)}\n`);
      } catch (cause) {
        throw new CliArgumentError(`--out: cannot write ${options.out}`, { path: options.out }, cause);
      }
    }
    if (options.json) printJson(io, { ...deployment, ...(options.out ? { file: options.out } : {}) });
    else {
      io.out(fields([["chain id", deployment.chainId], ["HostRegistry", suite.hostRegistry], ["MigrationAuction", suite.migrationAuction], ["AllocationRegistry", suite.allocationRegistry], ["deployer", deployment.deployer]]));
      if (options.out) io.out(`wrote ${options.out}`);
    }
    return 0;
  } finally {
    provider.destroy();
    chain.close();
  }
}

async function deployerOf(options: DeployOptions, provider: JsonRpcProvider): Promise<Signer> {
  if (options.keystore !== undefined) {
    const password = await readPassword(options.passwordEnv !== undefined ? { kind: "env", name: options.passwordEnv } : { kind: "file", path: options.passwordFile! });
    return (await unlockKeystore(options.keystore, password)).connect(provider);
  }
  const accounts = (await rpcCall(options.rpc, "eth_accounts", [])) as string[];
  if (!Array.isArray(accounts) || accounts.length === 0) {
    throw new TvmxError("CHAIN_RPC_UNAVAILABLE", "the node has no unlocked account to deploy with: give --keystore", { details: {} });
  }
  return provider.getSigner(accounts[0]!);
}
