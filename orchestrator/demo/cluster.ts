/**
 * A whole TVM Exchange deployment on one machine, with real processes: a local chain (and optionally a second
 * one, the hosts' own chain for mirror records), the contract suite deployed on each, and host daemons, each
 * with its own encrypted keystore, config file, platform file and data directory under `workDir`. Used by the
 * demo and the end-to-end tests. Everything it starts is stopped by `stop()` (also after a failed start).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { getAddress, JsonRpcProvider, Network, type JsonRpcSigner } from "ethers";
import type { SuiteParams } from "../../deploy/deploy-suite.js";
import { rpcCall, startLocalNode, SUITE_ERROR_INTERFACES, type LocalNode, type SuiteAddresses } from "../chain/index.js";
import { TvmxError } from "../errors/index.js";
import { ApiClient } from "../control/index.js";
import type { HostControlApi, HostPlatformFile } from "../host/index.js";
import { createKeystore, LIGHT_SCRYPT_N } from "../keystore/index.js";
import { spawnHostProcess, type HostProcess } from "./host-process.js";
import { loadDeploySuite } from "./load-suite.js";

/** The attestation policy every host applies: TCB UpToDate or SWHardeningNeeded, TDX module major version 1. */
export const CLUSTER_POLICY = { policyVersion: 1, acceptedTcbStatuses: ["UpToDate", "SWHardeningNeeded"], tdxModuleMajorVersions: [1] };
/** TEE_TCB_SVN bytes 2.. of a platform the simulated TCB levels judge OutOfDate. */
export const OUT_OF_DATE_TCB = "0100000000000000000000000000";
export const PASSWORD_ENV = "TVMX_HOST_PASSWORD";
/** The hosts' keystore password when the options give none (a local demo's keys guard nothing of value). */
export const DEFAULT_PASSWORD = "tvmx-local-demo";
const ETH = 10n ** 18n;

export interface ClusterHostSpec {
  name: string;
  capacity: { tvmSlots: number; memoryMiB: number };
  /** Fields of the host's platform file beyond its seeds (e.g. an out-of-date `teeTcbSvnRest`). */
  platform?: Partial<HostPlatformFile>;
  /** Configure the second chain as this host's own chain (mirror records). */
  mirror?: boolean;
  /** Top-level config fields replacing the defaults (e.g. `migration`, `auction`). */
  config?: Record<string, unknown>;
  /** Environment of the host process (beyond the keystore password). */
  env?: Record<string, string>;
  /** Fund the host's key (default true). */
  fund?: boolean;
}

export interface ClusterOptions {
  workDir: string;
  hosts: ClusterHostSpec[];
  /** Start a second chain with its own suite (default true). */
  mirrorChain?: boolean;
  /** Auction windows and timeouts written into every host's config. */
  auction?: { commitWindowSec: number; revealWindowSec: number; ackTimeoutMs: number };
  /** Start the host processes (default true; false: only write their files). */
  startHosts?: boolean;
  /** Progress of the set-up, for a human. */
  onStep?: (step: string) => void;
  /** Keystore password of every host. */
  password?: string;
  /** Contract parameters (default LOCAL_SUITE_PARAMS; tests shorten `confirmationTimeout`, after which a source may abort alone). */
  suite?: Partial<Omit<SuiteParams, "mirrorRecorders">>;
  /** Called after the chains are up and the suite deployed, before the host files are written (e.g. to put a proxy in front of a chain and point a host's `config.chain` at it). */
  beforeHosts?: (cluster: Cluster) => Promise<void>;
}

export interface ClusterHost {
  spec: ClusterHostSpec;
  name: string;
  address: string;
  configFile: string;
  dataDir: string;
  logFile: string;
  process: HostProcess | undefined;
}

export interface ChainInfo {
  node: LocalNode;
  addresses: SuiteAddresses;
  deploymentFile: string;
  /** Gas of the deployment transactions (the suite and the hosts' funding). */
  deployGas: bigint;
  /** Each of those transactions. */
  deployTxs: { label: string; hash: string; blockNumber: number; gasUsed: bigint; feeWei: bigint }[];
}

export class Cluster {
  readonly workDir: string;
  readonly hosts = new Map<string, ClusterHost>();
  readonly #stops: { name: string; run: () => Promise<void> }[] = [];
  readonly #password: string;
  readonly #options: ClusterOptions;
  #stopped = false;
  chain!: ChainInfo;
  mirror: ChainInfo | undefined;

  /** A cluster that has started nothing yet: `setUp()` starts it, `stop()` may be called at any time. */
  constructor(options: ClusterOptions) {
    this.workDir = options.workDir;
    this.#options = options;
    this.#password = options.password ?? DEFAULT_PASSWORD;
  }

  /** Creates and sets up a cluster; on failure, whatever was started is stopped. */
  static async start(options: ClusterOptions): Promise<Cluster> {
    const cluster = new Cluster(options);
    try {
      await cluster.setUp();
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  /** Something started that `stop()` must stop; when the cluster is already stopping, it is stopped at once. */
  async #started(name: string, run: () => Promise<void>): Promise<void> {
    if (this.#stopped) {
      await run();
      throw new TvmxError("HOST_SHUTTING_DOWN", "the cluster was stopped while it was being set up", { details: { name } });
    }
    this.#stops.push({ name, run });
  }

  async setUp(): Promise<void> {
    const options = this.#options;
    const step = options.onStep ?? (() => undefined);
    await mkdir(join(this.workDir, "logs"), { recursive: true });
    // chains first (both at once: each takes a couple of seconds to answer)
    step("starting the local chains");
    const withMirror = options.mirrorChain ?? true;
    const [main, mirror] = await Promise.all([
      this.#startNode(31337, "chain"),
      withMirror ? this.#startNode(31338, "mirror-chain") : Promise.resolve(undefined),
    ]);
    // keys: their addresses are needed for the mirror chain's recorder role
    step("creating the host keys");
    for (const spec of options.hosts) {
      const dir = join(this.workDir, spec.name);
      await mkdir(dir, { recursive: true });
      const keyFile = join(dir, "key.json");
      const { address } = await createKeystore(keyFile, this.#password, { scryptN: LIGHT_SCRYPT_N });
      this.hosts.set(spec.name, {
        spec,
        name: spec.name,
        address,
        configFile: join(dir, "host.json"),
        dataDir: join(dir, "data"),
        logFile: join(this.workDir, "logs", `${spec.name}.log`),
        process: undefined,
      });
    }
    step("deploying the contract suite");
    const funded = [...this.hosts.values()].filter((h) => h.spec.fund !== false).map((h) => h.address);
    const recorders = [...this.hosts.values()].filter((h) => h.spec.mirror).map((h) => h.address);
    this.chain = await this.#deploy(main, "chain", [], funded);
    // on the mirror chain only the hosts that record mirrors there need funds
    if (mirror) this.mirror = await this.#deploy(mirror, "mirror-chain", recorders, funded.filter((a) => recorders.includes(a)));
    await options.beforeHosts?.(this);
    step("writing host configs");
    await writeFile(join(this.workDir, "policy.json"), `${JSON.stringify(CLUSTER_POLICY, null, 2)}\n`);
    for (const h of this.hosts.values()) await this.#writeHostFiles(h, options);
    if (options.startHosts ?? true) {
      step(`starting ${this.hosts.size} host processes`);
      await Promise.all([...this.hosts.keys()].map((name) => this.startHost(name)));
    }
  }

  async #startNode(chainId: number, name: string): Promise<LocalNode> {
    const node = await startLocalNode({ chainId });
    await this.#started(name, () => node.stop());
    // Automine stays on (a transaction is mined at once), and a block is also mined every second: a node that
    // mined several blocks in one second runs ahead of the wall clock (each block is at least a second after the
    // previous one), and the hosts read the chain's time from its latest block, which must therefore keep moving.
    await rpcCall(node.url, "evm_setIntervalMining", [1000]);
    return node;
  }

  async #deploy(node: LocalNode, name: string, mirrorRecorders: string[], fund: string[]): Promise<ChainInfo> {
    const provider = new JsonRpcProvider(node.url, Network.from(node.chainId), { staticNetwork: true, pollingInterval: 50 });
    try {
      const accounts = (await provider.send("eth_accounts", [])) as string[];
      const deployer: JsonRpcSigner = await provider.getSigner(accounts[0]);
      const before = Number(await rpcCall(node.url, "eth_blockNumber", []));
      const { deploySuite, LOCAL_SUITE_PARAMS } = await loadDeploySuite();
      const suite = await deploySuite(deployer, { ...LOCAL_SUITE_PARAMS, ...this.#options.suite, mirrorRecorders });
      for (const to of fund) await (await deployer.sendTransaction({ to, value: 100n * ETH })).wait();
      const addresses = { hostRegistry: suite.hostRegistry, migrationAuction: suite.migrationAuction, allocationRegistry: suite.allocationRegistry };
      const names = new Map<string, string>([
        [suite.hostRegistry, "HostRegistry"],
        [suite.migrationAuction, "MigrationAuction"],
        [suite.allocationRegistry, "AllocationRegistry"],
        ...[...this.hosts.values()].map((h) => [h.address, h.name] as [string, string]),
      ]);
      const deployTxs: ChainInfo["deployTxs"] = [];
      // straight from the node: the provider may answer eth_blockNumber from its short cache
      const after = Number(await rpcCall(node.url, "eth_blockNumber", []));
      for (let b = before + 1; b <= after; b++) {
        const block = await provider.getBlock(b, true);
        for (const tx of block?.prefetchedTransactions ?? []) {
          const receipt = await provider.getTransactionReceipt(tx.hash);
          if (!receipt) continue;
          let label: string;
          if (receipt.contractAddress) label = `deploy ${names.get(getAddress(receipt.contractAddress)) ?? receipt.contractAddress}`;
          else if (tx.data === "0x") label = `fund ${names.get(getAddress(tx.to!)) ?? tx.to}`;
          else {
            const target = names.get(getAddress(tx.to!)) ?? tx.to!;
            const parsed = SUITE_ERROR_INTERFACES.map((i) => i.parseTransaction({ data: tx.data })).find((p) => p !== null);
            label = `${target}.${parsed?.name ?? tx.data.slice(0, 10)}`;
          }
          deployTxs.push({ label, hash: tx.hash, blockNumber: receipt.blockNumber, gasUsed: receipt.gasUsed, feeWei: receipt.gasUsed * receipt.gasPrice });
        }
      }
      const deployGas = deployTxs.reduce((sum, t) => sum + t.gasUsed, 0n);
      const deploymentFile = join(this.workDir, `deployment-${name}-${node.chainId}.json`);
      // The first block of the deployment: the hosts' log scans (host discovery, the runner-up) start there, not at 0.
      await writeFile(deploymentFile, `${JSON.stringify({ chainId: node.chainId, ...addresses, deploymentBlock: before + 1 }, null, 2)}\n`);
      return { node, addresses, deploymentFile, deployGas, deployTxs };
    } finally {
      provider.destroy();
    }
  }

  async #writeHostFiles(h: ClusterHost, options: ClusterOptions): Promise<void> {
    const dir = join(this.workDir, h.name);
    const platform: HostPlatformFile = { authoritySeed: "tvmx-demo", platformSeed: h.name, fmspc: "90c06f000000", ...h.spec.platform };
    await writeFile(join(dir, "platform.json"), `${JSON.stringify(platform, null, 2)}\n`);
    const auction = options.auction ?? { commitWindowSec: 8, revealWindowSec: 6, ackTimeoutMs: 10_000 };
    const config = {
      name: h.name,
      chain: { rpcUrl: this.chain.node.url, confirmations: 1, pollIntervalMs: 200, rpcRetries: 8 },
      ...(h.spec.mirror && this.mirror
        ? { mirrorChain: { rpcUrl: this.mirror.node.url, confirmations: 1, pollIntervalMs: 200, rpcRetries: 8, deploymentFile: this.mirror.deploymentFile } }
        : {}),
      deploymentFile: this.chain.deploymentFile,
      keystore: { path: "key.json", passwordEnv: PASSWORD_ENV },
      channel: { listen: "127.0.0.1:0" },
      control: { port: 0 },
      metrics: { port: 0 },
      capacity: h.spec.capacity,
      pricing: { strategy: "scarcity", basePriceWei: "1000000000000000", fullPriceWei: "5000000000000000", exponent: 1, minFreeSlots: 0 },
      policyFile: "../policy.json",
      platformFile: "platform.json",
      migration: { downtimeTargetMs: 300, streams: 2, onFailure: "runner-up", peerTimeoutMs: 20_000 },
      auction: { ...auction, bondWei: "1000000000000000", defaultReservePriceWei: "100000000000000000" },
      // The local chain mines on demand, so windows of a few seconds hold (the defaults are for 12 s slots).
      bidding: { minCommitTimeLeftSec: 1, minRevealWindowSec: 1 },
      registration: { stakeWei: "1000000000000000000" },
      dataDir: "data",
      log: { level: "info" },
      ...h.spec.config,
    };
    await writeFile(h.configFile, `${JSON.stringify(config, null, 2)}\n`);
  }

  host(name: string): ClusterHost {
    const h = this.hosts.get(name);
    if (!h) throw new TvmxError("CONFIG_INVALID", `no host named ${name} in this cluster`, { details: { name, hosts: [...this.hosts.keys()] } });
    return h;
  }

  /** Starts (or restarts) a host's process and waits until it is up. */
  async startHost(name: string, env: Record<string, string> = {}): Promise<HostProcess> {
    const h = this.host(name);
    if (h.process && !h.process.gone) throw new TvmxError("HOST_BUSY", `host ${name} is already running (pid ${h.process.pid})`, { details: { name } });
    const proc = await spawnHostProcess({
      name,
      configFile: h.configFile,
      dataDir: h.dataDir,
      logFile: h.logFile,
      env: { [PASSWORD_ENV]: this.#password, ...h.spec.env, ...env },
    });
    h.process = proc;
    await this.#started(`host ${name} (pid ${proc.pid})`, () => proc.stop());
    return proc;
  }

  /** The processes this cluster started (chains and host daemons, the stopped ones included). */
  processes(): { name: string; pid: number }[] {
    const chains = [this.chain, this.mirror].filter((c): c is ChainInfo => c !== undefined).map((c) => ({ name: `chain ${c.node.chainId}`, pid: c.node.pid }));
    const hosts = [...this.hosts.values()].flatMap((h) => (h.process ? [{ name: h.name, pid: h.process.pid }] : []));
    return [...chains, ...hosts];
  }

  /** A control API client for a running host. */
  async client(name: string, timeoutMs?: number) {
    const p = this.host(name).process;
    if (!p || p.gone) throw new TvmxError("CONTROL_UNREACHABLE", `host ${name} is not running`, { details: { name } });
    return p.client(timeoutMs);
  }

  /** The control API of a running host, typed by its one definition (host/control-api.ts). */
  async api(name: string, timeoutMs?: number): Promise<ApiClient<HostControlApi>> {
    return new ApiClient<HostControlApi>(await this.client(name, timeoutMs));
  }

  /** Stops every process this cluster started, hosts first (in parallel), then the chains. Never throws. */
  async stop(): Promise<{ name: string; error: string }[]> {
    this.#stopped = true;
    const failures: { name: string; error: string }[] = [];
    const all = this.#stops.splice(0).reverse();
    const hosts = all.filter((s) => s.name.startsWith("host "));
    const rest = all.filter((s) => !s.name.startsWith("host "));
    for (const group of [hosts, rest]) {
      await Promise.all(
        group.map(async (s) => {
          try {
            await s.run();
          } catch (err) {
            failures.push({ name: s.name, error: (err as Error).message });
          }
        }),
      );
    }
    return failures;
  }
}
