import { rm } from "node:fs/promises";
import { join } from "node:path";
import { getAddress, keccak256, type Wallet } from "ethers";
import type { AttestationPolicy } from "../attestation/index.js";
import { AllocationRegistryClient, HostRegistryClient, openMarket, SUITE_ERROR_INTERFACES, TxSender, type AuctionInfo, type ChainConnection, type SuiteAddresses } from "../chain/index.js";
import { createChannelIdentity } from "../channel/index.js";
import type { HostConfig } from "../config/index.js";
import { ENDPOINT_FILE, ensureControlToken, startControlServer, writeControlEndpoint } from "../control/index.js";
import { HostJournal } from "../journal/index.js";
import type { Logger } from "../log/index.js";
import { createHostMetrics, startMetricsServer, type HostMetrics, type MetricsServer } from "../metrics/index.js";
import { chainClock } from "./chain-clock.js";
import { ChainHostDirectory } from "./chain-directory.js";
import type { AuctionsView, ControlledHost, PlacementView, TransactionReport } from "./control-api.js";
import { auctionsView, auctionView, placementView } from "./control-queries.js";
import { controlRoutes } from "./control-routes.js";
import type { HostContext } from "./context.js";
import { formatEndpoint } from "./endpoint.js";
import { Peers } from "./peers.js";
import type { HostPlatform } from "./platform-setup.js";
import { recoverAfterRestart } from "./recovery.js";
import { listenForImports, routeChannelMessage, watchAllocations } from "./routing.js";
import { migrateTd, type AuctionSummary, type MigrateRequest } from "./source-flow.js";
import { hostStatus, type HostPorts, type HostStatus } from "./status.js";
import { summarize, TdManager, type TdSpec, type TdSummary } from "./td-manager.js";
import { TaskSet, TeardownStack } from "./teardown.js";

export interface HostDeps {
  config: HostConfig;
  /** The host's unlocked on-chain key. */
  wallet: Wallet;
  /** The chain the auctions run on, and the suite's addresses there. */
  chain: ChainConnection;
  addresses: SuiteAddresses;
  /** The host's own chain, where it records the allocations it wins. */
  mirror?: { chain: ChainConnection; allocationRegistry: string };
  /** The CPU model and what vouches for it. */
  cpu: HostPlatform;
  policy: AttestationPolicy;
  logger: Logger;
  signal?: AbortSignal;
  metrics?: HostMetrics;
  onProgress?: HostContext["onProgress"];
}

/**
 * One host daemon: registers in HostRegistry, serves the secure auction channel and incoming migrations,
 * bids as a destination, auctions and migrates as a source, journals everything a crash must not lose, and
 * answers the CLI on its control API. This file composes the subsystems in order; routing.ts says where each input
 * goes, recovery.ts what a restart owes, status.ts and control-queries.ts what the control API answers.
 * `close()` unwinds the one teardown stack that `start` built, in reverse order.
 */
export class Host implements ControlledHost {
  readonly context: HostContext;
  readonly ports: HostPorts;
  readonly #teardown: TeardownStack;
  readonly #tasks: TaskSet;
  readonly #controller: AbortController;
  readonly #mirrorSender: TxSender | undefined;
  #closed: Promise<void> | undefined;

  private constructor(init: { context: HostContext; ports: HostPorts; teardown: TeardownStack; tasks: TaskSet; controller: AbortController; mirrorSender: TxSender | undefined }) {
    this.context = init.context;
    this.ports = init.ports;
    this.#teardown = init.teardown;
    this.#tasks = init.tasks;
    this.#controller = init.controller;
    this.#mirrorSender = init.mirrorSender;
  }

  static async start(deps: HostDeps): Promise<Host> {
    const { config, wallet, chain } = deps;
    const address = getAddress(wallet.address);
    const log = deps.logger.child({ host: config.name, address });
    const controller = new AbortController();
    deps.signal?.addEventListener("abort", () => controller.abort(deps.signal!.reason), { once: true });
    const signal = controller.signal;
    const teardown = new TeardownStack();
    const tasks = new TaskSet(log);
    try {
      // 1. journal: nothing else may act before what the last run left is known
      const journal = await HostJournal.open(config.dataDir, { logger: log.child({ component: "journal" }) });
      teardown.push("journal", () => journal.close());
      // 2. metrics
      const metrics = deps.metrics ?? createHostMetrics();
      let metricsServer: MetricsServer | undefined;
      if (config.metrics) {
        const server = await startMetricsServer(metrics.registry, { port: config.metrics.port, logger: log.child({ component: "metrics" }) });
        metricsServer = server;
        teardown.push("metrics", () => server.close());
      }
      // 3. chain clients
      const market = openMarket(chain, deps.addresses, { wallet, logger: log.child({ component: "chain", chainId: chain.chainId }), metrics, signal });
      let mirror: AllocationRegistryClient | undefined;
      let mirrorRegistry: HostRegistryClient | undefined;
      let mirrorSender: TxSender | undefined;
      if (deps.mirror) {
        mirrorSender = new TxSender(deps.mirror.chain, wallet, { logger: log.child({ component: "mirror-chain", chainId: deps.mirror.chain.chainId }), errorInterfaces: SUITE_ERROR_INTERFACES, signal });
        mirror = new AllocationRegistryClient(deps.mirror.chain, deps.mirror.allocationRegistry, mirrorSender);
        mirrorRegistry = new HostRegistryClient(deps.mirror.chain, await mirror.contract.hostRegistry(), mirrorSender);
      }
      // 4. the channel identity (quote + host-key binding) and whom to trust
      const identity = await createChannelIdentity({ attester: deps.cpu.attester, signer: wallet });
      const directory = new ChainHostDirectory(market.hostRegistry);
      const trust = { trustedRoots: deps.cpu.trustedRoots, collateral: deps.cpu.collateral, policy: deps.policy, directory };
      // 5. TDs and capacity
      const tds = new TdManager(address, deps.cpu.platform, journal, config.capacity, log.child({ component: "tds" }), metrics);
      await tds.reconcileAfterRestart();
      teardown.push("tds", () => tds.stopAll());

      const context: HostContext = {
        config,
        wallet,
        address,
        market,
        mirror,
        journal,
        tds,
        hp: deps.cpu,
        identity,
        trust,
        peers: undefined as unknown as Peers,
        directory,
        clock: chainClock(chain.provider, Math.max(50, chain.pollIntervalMs)),
        logger: log,
        metrics,
        signal,
        migrationPort: 0,
        sessions: new Map(),
        acknowledged: new Map(),
        imports: new Map(),
        acceptances: new Map(),
        outcomes: new Map(),
        downtimeTargets: new Map(),
        ...(deps.onProgress ? { onProgress: deps.onProgress } : {}),
      };

      // 6. incoming migrations
      const listener = await listenForImports(context, tasks);
      teardown.push("migration-listener", () => listener.close());
      context.migrationPort = listener.port;

      // 7. the secure auction channel
      const peers = new Peers({
        identity,
        trust,
        directory,
        logger: log.child({ component: "channel" }),
        limits: config.channel.limits,
        refusedTotal: metrics.channelRefusedTotal,
        onMessage: routeChannelMessage(context),
      });
      context.peers = peers;
      const channelPort = await peers.listen(config.channel.listen.host, config.channel.listen.port);
      teardown.push("channel", () => peers.close());

      // 8. registration (or an update of what changed), on the auction chain and on the host's own chain
      const endpoint = formatEndpoint({ host: config.channel.advertise ?? config.channel.listen.host, channelPort, migrationPort: listener.port });
      const info = deps.cpu.platform.info;
      const publication = {
        endpoint,
        channelKeyFingerprint: identity.keyFingerprint,
        platform: { teeTcbSvn: `0x${info.teeTcbSvn.toString("hex")}`, tdxModuleVersion: (info.moduleVersion.major << 8) | info.moduleVersion.minor, quoteHash: keccak256(identity.quote) },
        capacity: Math.max(1, config.capacity.tvmSlots),
      };
      const registered = await market.hostRegistry.ensureRegistered(publication, config.registration.stakeWei);
      if (mirrorRegistry) await mirrorRegistry.ensureRegistered(publication, config.registration.stakeWei);
      log.info("registered", { endpoint, transactions: registered.map((r) => r.label) });

      // 9. the Allocated event starts live migrations, on both sides, with no command from anyone
      const unwatch = await watchAllocations(context, deps.addresses, tasks);
      teardown.push("watcher", unwatch);

      // 10. the control API
      const token = await ensureControlToken(config.dataDir);
      const ports: HostPorts = { endpoint, channelPort, migrationPort: listener.port, controlPort: 0, metricsUrl: metricsServer?.url };
      const host = new Host({ context, ports, teardown, tasks, controller, mirrorSender });
      const control = await startControlServer({ port: config.control.port, token, routes: controlRoutes(host), logger: log.child({ component: "control" }) });
      ports.controlPort = control.port;
      await writeControlEndpoint(config.dataDir, control.port);
      teardown.push("control", async () => {
        await control.close();
        // The CLI must not find a port nobody listens on any more.
        await rm(join(config.dataDir, ENDPOINT_FILE), { force: true });
      });

      // 11. recovery: reveal the bids and finalize the auctions a previous run left; settle dead migrations
      recoverAfterRestart(context, tasks);
      log.info("host started", { endpoint, channelPort, migrationPort: listener.port, controlPort: control.port, metrics: metricsServer?.url });
      return host;
    } catch (err) {
      controller.abort();
      await teardown.unwind(log);
      throw err;
    }
  }

  get address(): string {
    return this.context.address;
  }

  get endpoint(): string {
    return this.ports.endpoint;
  }

  get channelPort(): number {
    return this.ports.channelPort;
  }

  get migrationPort(): number {
    return this.ports.migrationPort;
  }

  get controlPort(): number {
    return this.ports.controlPort;
  }

  get metricsUrl(): string | undefined {
    return this.ports.metricsUrl;
  }

  /** Runs the source pipeline for one TD (see source-flow.ts). */
  migrate(req: MigrateRequest): Promise<AuctionSummary> {
    return migrateTd(this.context, req);
  }

  /** What this host is doing (see status.ts: the chain's part is bounded by STATUS_CHAIN_BUDGET_MS). */
  status(): Promise<HostStatus> {
    return hostStatus(this.context, this.ports);
  }

  trustDomains(): TdSummary[] {
    return this.context.tds.list();
  }

  trustDomain(id: string): TdSummary {
    return summarize(this.context.tds.get(id));
  }

  async createTd(spec: TdSpec): Promise<TdSummary> {
    return summarize(await this.context.tds.create(spec));
  }

  auctions(): AuctionsView {
    return auctionsView(this.context);
  }

  auction(auctionId: bigint): Promise<AuctionInfo> {
    return auctionView(this.context, auctionId);
  }

  placement(tvmId: string): Promise<PlacementView> {
    return placementView(this.context, tvmId);
  }

  /** Every transaction this host sent (both chains), with its gas. */
  transactions(): TransactionReport[] {
    const all = [...(this.context.market.sender?.reports ?? []), ...(this.#mirrorSender?.reports ?? [])];
    return all.map(({ receipt: _r, ...rest }) => rest);
  }

  /** Stops everything in the reverse order of start; waits (bounded) for work in progress. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      // Stop taking work, stop the servers (which ends the sessions in progress: a source sees its migration aborted
      // and keeps its TD), then let the pipelines finish writing to the journal (5 s at most), close it last.
      this.#controller.abort();
      await this.#teardown.unwind(this.context.logger, { before: "journal", tasks: this.#tasks, timeoutMs: 5_000 });
      this.context.logger.info("host stopped", {});
    })();
    return this.#closed;
  }
}
