import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hexlify, randomBytes, Wallet } from "ethers";
import { network } from "hardhat";
import { deploySuite, LOCAL_AUCTION_LIMITS } from "../../deploy/deploy-suite.js";
import { connectionFromProvider, type ChainConnection, type SuiteAddresses } from "../../orchestrator/chain/index.js";
import { parseHostConfig, type HostConfig } from "../../orchestrator/config/index.js";
import { Host, readPolicy, setupPlatform, type HostPlatformFile } from "../../orchestrator/host/index.js";
import { MemoryLogger } from "../../orchestrator/log/index.js";

export const POLICY = { policyVersion: 1, acceptedTcbStatuses: ["UpToDate", "SWHardeningNeeded"], tdxModuleMajorVersions: [1] };

export interface TestHost {
  host: Host;
  wallet: Wallet;
  log: MemoryLogger;
  dir: string;
  config: HostConfig;
}

/** Builds hosts in this process against one chain: each with its own data dir, key, platform and config. */
export class HostFactory {
  readonly dirs: string[] = [];
  readonly hosts: TestHost[] = [];
  constructor(
    private readonly chain: ChainConnection,
    private readonly addresses: SuiteAddresses,
    private readonly fund: (to: string) => Promise<void>,
  ) {}

  async start(name: string, options: { platform?: Partial<HostPlatformFile>; raw?: Record<string, unknown>; wallet?: Wallet; dir?: string } = {}): Promise<TestHost> {
    const dir = options.dir ?? (await mkdtemp(join(tmpdir(), `tvmx-${name}-`)));
    if (!options.dir) this.dirs.push(dir);
    await writeFile(join(dir, "policy.json"), JSON.stringify(POLICY));
    const raw = {
      name,
      chain: { rpcUrl: "http://127.0.0.1:1", pollIntervalMs: 50 },
      contracts: this.addresses,
      keystore: { path: "unused.json", passwordEnv: "UNUSED" },
      channel: { listen: "127.0.0.1:0" },
      control: { port: 0 },
      capacity: { tvmSlots: 4, memoryMiB: 1024 },
      pricing: { strategy: "scarcity", basePriceWei: "1000000000000000", fullPriceWei: "5000000000000000", exponent: 1 },
      policyFile: "policy.json",
      auction: { commitWindowSec: 10, revealWindowSec: 6, ackTimeoutMs: 5000 },
      bidding: { minCommitTimeLeftSec: 1, minRevealWindowSec: 1 },
      migration: { peerTimeoutMs: 20_000 },
      registration: { stakeWei: "1000000000000000000" },
      dataDir: "data",
      ...options.raw,
    };
    const config = parseHostConfig(raw, dir, name);
    const wallet = options.wallet ?? new Wallet(hexlify(randomBytes(32)));
    if (!options.wallet) await this.fund(wallet.address);
    const log = new MemoryLogger();
    const cpu = await setupPlatform({ authoritySeed: "tvmx-test-authority", platformSeed: `platform-${name}`, fmspc: "90c06f000000", ...options.platform });
    const host = await Host.start({ config, wallet, chain: this.chain, addresses: this.addresses, cpu, policy: await readPolicy(config.policyFile), logger: log });
    const t = { host, wallet, log, dir, config };
    this.hosts.push(t);
    return t;
  }

  async closeAll(): Promise<void> {
    await Promise.allSettled(this.hosts.map((h) => h.host.close()));
    for (const d of this.dirs) await rm(d, { recursive: true, force: true });
  }
}

/** A deployed suite on an in-process chain, and a factory of hosts funded by the deployer. */
export interface HostCluster {
  chain: ChainConnection;
  addresses: SuiteAddresses;
  factory: HostFactory;
}

const ONE_ETH = 10n ** 18n;

/**
 * Deploys the suite on a fresh in-process chain and returns a host factory whose hosts are funded with
 * 50 ETH each. `sameTimestampBlocks` lets blocks share a timestamp, so that the chain's clock follows the wall
 * clock and short auction windows suffice.
 */
export async function startHostCluster(options: { confirmationTimeout: bigint; sameTimestampBlocks?: boolean }): Promise<HostCluster> {
  const { ethers } = options.sameTimestampBlocks
    ? await network.create({ override: { allowBlocksWithSameTimestamp: true } })
    : await network.create();
  const [deployer] = await ethers.getSigners();
  const suite = await deploySuite(deployer!, { minStake: ONE_ETH, withdrawalDelay: 3600n, confirmationTimeout: options.confirmationTimeout, auctionLimits: LOCAL_AUCTION_LIMITS });
  const addresses = { hostRegistry: suite.hostRegistry, migrationAuction: suite.migrationAuction, allocationRegistry: suite.allocationRegistry };
  const chain = await connectionFromProvider(ethers.provider, { url: "edr", pollIntervalMs: 50 });
  const factory = new HostFactory(chain, addresses, async (to) => {
    await (await deployer!.sendTransaction({ to, value: 50n * ONE_ETH })).wait();
  });
  return { chain, addresses, factory };
}

/** Polls `predicate` until it holds, or fails naming `what`. */
export async function until(predicate: () => boolean, what: string, timeoutMs = 60_000, pollMs = 10): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
