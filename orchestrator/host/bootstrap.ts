import { readFile } from "node:fs/promises";
import type { Wallet } from "ethers";
import { parsePolicy, type AttestationPolicy } from "../attestation/index.js";
import { checkChain, checkMirrorIsAnotherChain, connectChain, loadDeploymentFile, resolveContracts, type ChainConnection } from "../chain/index.js";
import { loadHostConfig, parseJsonText, type HostConfig } from "../config/index.js";
import { TvmxError } from "../errors/index.js";
import { unlockFromConfig } from "../keystore/index.js";
import { createJsonLogger, type Logger } from "../log/index.js";
import { Host, type HostDeps } from "./host.js";
import { readPlatformFile, setupPlatform, type HostPlatform } from "./platform-setup.js";

/**
 * `tvmx host start --config <file>`: everything from the config file to a running Host — the key unlocked
 * from its keystore, the chains connected (retrying while they come up), the contracts found, the simulated
 * platform provisioned, the policy read. Each failure is a typed error that names the file or the endpoint.
 */
export async function startHostFromConfig(
  configFile: string,
  options: { logger?: Logger; signal?: AbortSignal; env?: NodeJS.ProcessEnv; onProgress?: HostDeps["onProgress"] } = {},
): Promise<{ host: Host; config: HostConfig; close(): Promise<void> }> {
  const { config, wallet, policy, cpu } = await readHostFiles(configFile, options.env);
  const logger = options.logger ?? createJsonLogger({ level: config.log.level, fields: { host: config.name } });
  const chains: ChainConnection[] = [];
  try {
    const chain = await connectChain(config.chain, { logger: logger.child({ component: "chain" }), ...(options.signal ? { signal: options.signal } : {}) });
    chains.push(chain);
    const { chainId: deploymentChainId, ...addresses } = await resolveContracts(config.contracts);
    await checkChain(chain, {
      section: "chain",
      ...(config.chain.chainId !== undefined ? { configChainId: config.chain.chainId } : {}),
      ...(deploymentChainId !== undefined && config.contracts.kind === "deploymentFile" ? { deployment: { file: config.contracts.path, chainId: deploymentChainId } } : {}),
      contracts: { HostRegistry: addresses.hostRegistry, MigrationAuction: addresses.migrationAuction, AllocationRegistry: addresses.allocationRegistry },
    });
    let mirror: HostDeps["mirror"];
    if (config.mirrorChain) {
      const m = config.mirrorChain;
      const mirrorChain = await connectChain(m, { logger: logger.child({ component: "mirror-chain" }), ...(options.signal ? { signal: options.signal } : {}) });
      chains.push(mirrorChain);
      checkMirrorIsAnotherChain(chain, mirrorChain);
      const fromFile = m.allocationRegistry === undefined ? await loadDeploymentFile(m.deploymentFile!, ["allocationRegistry"]) : undefined;
      const allocationRegistry = m.allocationRegistry ?? fromFile!.allocationRegistry!;
      await checkChain(mirrorChain, {
        section: "mirrorChain",
        ...(m.chainId !== undefined ? { configChainId: m.chainId } : {}),
        ...(fromFile?.chainId !== undefined ? { deployment: { file: m.deploymentFile!, chainId: fromFile.chainId } } : {}),
        contracts: { "mirror AllocationRegistry": allocationRegistry },
      });
      mirror = { chain: mirrorChain, allocationRegistry };
    }
    const host = await Host.start({
      config,
      wallet,
      chain,
      addresses,
      ...(mirror ? { mirror } : {}),
      cpu,
      policy,
      logger,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    return {
      host,
      config,
      close: async () => {
        await host.close();
        for (const c of chains) c.close();
      },
    };
  } catch (err) {
    for (const c of chains) c.close();
    throw err;
  }
}

/** What a host is made of before it talks to any chain: its config, its unlocked key, its policy, its platform. */
export interface HostFiles {
  config: HostConfig;
  wallet: Wallet;
  policy: AttestationPolicy;
  cpu: HostPlatform;
}

/**
 * Reads a host's config file and the files it names: the keystore (unlocked with the password the config points
 * to in `env`), the policy and the platform file (provisioned). What `startHostFromConfig` starts a host from.
 */
export async function readHostFiles(configFile: string, env?: NodeJS.ProcessEnv): Promise<HostFiles> {
  const config = await loadHostConfig(configFile);
  const wallet = await unlockFromConfig(config.keystore, env);
  const policy = await readPolicy(config.policyFile);
  const cpu = await setupPlatform(await readPlatformFile(config.platformFile));
  return { config, wallet, policy, cpu };
}

export async function readPolicy(file: string): Promise<AttestationPolicy> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new TvmxError("CONFIG_NOT_FOUND", `policy file not found: ${file}`, { details: { path: file }, cause: err });
  }
  try {
    return parsePolicy(parseJsonText(text, file));
  } catch (err) {
    if (err instanceof TvmxError && err.code === "CONFIG_SYNTAX") throw err;
    throw new TvmxError("POLICY_INVALID", `${file}: ${(err as Error).message}`, { details: { path: file }, cause: err });
  }
}
