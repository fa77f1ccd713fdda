import { rm } from "node:fs/promises";
import { join } from "node:path";
import { getAddress, keccak256, type Wallet } from "ethers";
import type { AttestationPolicy } from "../attestation/index.js";
import {
  AllocationRegistryClient,
  HostRegistryClient,
  openMarket,
  SUITE_ERROR_INTERFACES,
  TxSender,
  watchEvents,
  type ChainConnection,
  type CursorStore,
  type SuiteAddresses,
  type TxReport,
  type Unwatch,
} from "../chain/index.js";
import { createChannelIdentity, type ChannelConnection } from "../channel/index.js";
import type { HostConfig } from "../config/index.js";
import { ENDPOINT_FILE, ensureControlToken, startControlServer, writeControlEndpoint, type ControlServer } from "../control/index.js";
import { describeError, innermostCodeOf, isTvmxError } from "../errors/index.js";
import { HostJournal } from "../journal/index.js";
import type { Logger } from "../log/index.js";
import { createHostMetrics, startMetricsServer, type HostMetrics, type MetricsServer } from "../metrics/index.js";
import { listenIncoming, type IncomingListener } from "../migration/index.js";
import { codecReport, type CodecReport } from "../tdx/index.js";
import { revealPending } from "./bidding.js";
import { chainClock } from "./chain-clock.js";
import { ChainHostDirectory } from "./chain-directory.js";
import { deferred, pollUntil } from "../util/index.js";
import type { HostContext } from "./context.js";
import { controlRoutes } from "./control-routes.js";
import { pendingMirrors, recordUntilLanded } from "./mirror-settlement.js";
import { biddingOf, mirrorDeps, onAdmissionTicket, onAllocatedAsDestination, onMigrationRequest, awaitsStream, streamAdmission } from "./destination-flow.js";
import { abortOnChain } from "./settlement.js";
import { formatEndpoint } from "./endpoint.js";
import { engineMigrationId } from "./peer-messages.js";
import { confirmWithHandOver } from "./hand-over.js";
import { Peers, type InboundMessage } from "./peers.js";
import type { HostPlatform } from "./platform-setup.js";
import { finalizePending } from "./source-auction.js";
import { migrateTd, onAllocatedAsSource, type AuctionSummary, type MigrateRequest } from "./source-flow.js";
import { TdManager, type TdSummary } from "./td-manager.js";

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

export interface HostStatus {
  name: string;
  address: string;
  chainId: bigint;
  endpoint: string;
  channelPort: number;
  migrationPort: number;
  controlPort: number;
  metricsUrl?: string;
  /** The registry's word on this host ("Active", ...), or "unknown" when the chain did not answer. */
  registration: string;
  /** The daemon's process id. */
  pid: number;
  /** Whether the auction chain answered the status query; the rest of the status is local state either way. */
  chain: ChainAvailability;
  capacity: ReturnType<TdManager["capacity"]>;
  tds: number;
  /** The TDs running here (local state). */
  trustDomains: TdSummary[];
  migrationsInFlight: number;
  /** Every migration the journal knows, in flight or finished (local state). */
  migrations: MigrationStatus[];
  journal: { dir: string; fromSnapshot: number; fromLog: number; tornTail: boolean };
  mirrorChainId?: bigint;
  /** The page codec sealing and opening migration bundles: native (the addon) or node (node:crypto). */
  crypto: CodecReport;
}

/** The auction chain as the status query found it: answering, or not (with the error's code and message). */
export interface ChainAvailability {
  url: string;
  available: boolean;
  error?: { code: string; message: string };
}

/** One migration of the journal, for `host status`. */
export interface MigrationStatus {
  allocationId: bigint;
  role: string;
  status: string;
  tvmId: string;
  peer: string;
}

/**
 * How long `status()` waits for the chain (retrying through an outage) before answering from local state with the
 * chain marked unavailable: the operator asks exactly when something is wrong, and must get an answer.
 */
export const STATUS_CHAIN_BUDGET_MS = 2_000;

/**
 * One host daemon: registers in HostRegistry, serves the secure auction channel and incoming migrations,
 * bids as a destination, auctions and migrates as a source, journals everything a crash must not lose, and
 * answers the CLI on its control API. `close()` tears the subsystems down in the reverse order of `start`.
 */
export class Host {
  readonly context: HostContext;
  readonly endpoint: string;
  readonly channelPort: number;
  readonly migrationPort: number;
  readonly controlPort: number;
  readonly metricsUrl: string | undefined;
  readonly #teardown: { name: string; run: () => Promise<void> | void }[];
  readonly #tasks: Set<Promise<unknown>>;
  readonly #controller: AbortController;
  readonly #mirrorSender: TxSender | undefined;
  #closed: Promise<void> | undefined;

  private constructor(init: {
    context: HostContext;
    endpoint: string;
    channelPort: number;
    migrationPort: number;
    controlPort: number;
    metricsUrl: string | undefined;
    teardown: { name: string; run: () => Promise<void> | void }[];
    tasks: Set<Promise<unknown>>;
    controller: AbortController;
    mirrorSender: TxSender | undefined;
  }) {
    this.context = init.context;
    this.endpoint = init.endpoint;
    this.channelPort = init.channelPort;
    this.migrationPort = init.migrationPort;
    this.controlPort = init.controlPort;
    this.metricsUrl = init.metricsUrl;
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
    const teardown: { name: string; run: () => Promise<void> | void }[] = [];
    const tasks = new Set<Promise<unknown>>();
    const spawn = (name: string, work: () => Promise<unknown>) => {
      const p = work().catch((err: unknown) => log.error(`${name} failed`, { err }));
      tasks.add(p);
      void p.finally(() => tasks.delete(p));
    };
    const undo = async () => {
      controller.abort();
      for (const step of [...teardown].reverse()) {
        try {
          await step.run();
        } catch (err) {
          log.error("teardown step failed", { step: step.name, err });
        }
      }
    };
    try {
      // 1. journal: nothing else may act before what the last run left is known
      const journal = await HostJournal.open(config.dataDir, { logger: log.child({ component: "journal" }) });
      teardown.push({ name: "journal", run: () => journal.close() });
      // 2. metrics
      const metrics = deps.metrics ?? createHostMetrics();
      let metricsServer: MetricsServer | undefined;
      if (config.metrics) {
        metricsServer = await startMetricsServer(metrics.registry, { port: config.metrics.port, logger: log.child({ component: "metrics" }) });
        teardown.push({ name: "metrics", run: () => metricsServer!.close() });
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
      teardown.push({ name: "tds", run: () => tds.stopAll() });

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
        ...(deps.onProgress ? { onProgress: deps.onProgress } : {}),
      };

      // 6. incoming migrations: keys come from the protected sessions, outcomes go to the waiting pipelines
      const listener: IncomingListener = await listenIncoming({
        platform: deps.cpu.platform,
        host: config.channel.listen.host,
        port: 0,
        logger: log.child({ component: "migration" }),
        // The engine names the stream with 16 bytes; the logs of the host's migration carry the host's 32-byte id.
        logContext: (streamId) => {
          const migrationId = [...context.acknowledged.keys()].find((id) => engineMigrationId(id) === streamId);
          return migrationId ? { migrationId, role: "destination" } : undefined;
        },
        // Admitted: a migration this host won (its allocation is awaited in `imports`) whose session key is
        // installed; the TD size is the one its capacity accounting reserved. The stream may arrive a moment
        // before this side has installed the key its fresh session just agreed: wait for it, within the
        // stream's handshake deadline.
        // A stranger's id (no request this host acknowledged) is refused at once, without waiting.
        key: (req) => (awaitsStream(context, req.migrationId) ? pollUntil(() => streamAdmission(context, req.migrationId), { intervalMs: 20, timeoutMs: 5_000 }) : undefined),
        onRefused: (reason) => context.metrics.streamRefusedTotal.inc({ reason }),
        onStateChange: (migrationId, state) => {
          if (state.phase === "aborted") context.imports.get(migrationId)?.reject(new Error(`import aborted: ${state.status} ${state.reason}`));
        },
      });
      teardown.push({ name: "migration-listener", run: () => listener.close() });
      context.migrationPort = listener.port;
      spawn("import accept loop", async () => {
        while (!signal.aborted) {
          try {
            const done = await listener.accept();
            const waiting = context.imports.get(done.migrationId) ?? deferred();
            context.imports.set(done.migrationId, waiting);
            waiting.resolve(done);
          } catch (err) {
            if (signal.aborted) return;
            log.debug("incoming migration ended without commit", { err: describeError(err) });
          }
        }
      });

      // 7. the secure auction channel
      const peers = new Peers({
        identity,
        trust,
        directory,
        logger: log.child({ component: "channel" }),
        limits: config.channel.limits,
        refusedTotal: metrics.channelRefusedTotal,
        onMessage: (conn: ChannelConnection, m: InboundMessage) => {
          switch (m.type) {
            case "MIGRATION_REQUEST":
              return onMigrationRequest(context, conn, m);
            case "ADMISSION_TICKET":
              return onAdmissionTicket(context, conn, m);
          }
        },
      });
      context.peers = peers;
      const channelPort = await peers.listen(config.channel.listen.host, config.channel.listen.port);
      teardown.push({ name: "channel", run: () => peers.close() });

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
      const cursorName = "allocations";
      const startBlock = journal.state.cursors.get(cursorName) ?? (await chain.provider.getBlockNumber());
      const cursor: CursorStore = {
        load: () => journal.state.cursors.get(cursorName) ?? startBlock,
        save: (block) => journal.record({ type: "cursor", name: cursorName, block }),
      };
      const unwatch: Unwatch = watchEvents({
        provider: chain.provider,
        name: cursorName,
        address: deps.addresses.allocationRegistry,
        iface: market.allocations.contract.interface,
        events: ["Allocated"],
        fromBlock: startBlock + 1,
        cursor,
        pollIntervalMs: chain.pollIntervalMs,
        confirmations: chain.confirmations,
        retry: { retries: Number.POSITIVE_INFINITY, baseDelayMs: chain.pollIntervalMs, maxDelayMs: 5_000 },
        logger: log.child({ component: "watcher" }),
        onEvent: (event) => {
          const destination = getAddress(event.args.destination as string);
          const source = getAddress(event.args.source as string);
          if (destination === address) spawn("incoming migration", () => onAllocatedAsDestination(context, event));
          if (source === address) spawn("outgoing migration", () => onAllocatedAsSource(context, event));
        },
        onRemoved: (event) => {
          const party = [getAddress(event.args.destination as string), getAddress(event.args.source as string)].includes(address);
          log.warn("Allocated event removed by a reorg before it was acted on; no migration started, its blocks are scanned again", {
            allocationId: event.args.allocationId as bigint,
            auctionId: event.args.auctionId as bigint,
            block: event.log.blockNumber,
            blockHash: event.log.blockHash,
            tx: event.log.transactionHash,
            party,
          });
        },
      });
      teardown.push({ name: "watcher", run: unwatch });

      // 10. the control API
      const token = await ensureControlToken(config.dataDir);
      let control: ControlServer | undefined;
      const host: Host = new Host({
        context,
        endpoint,
        channelPort,
        migrationPort: listener.port,
        controlPort: 0,
        metricsUrl: metricsServer?.url,
        teardown,
        tasks,
        controller,
        mirrorSender,
      });
      control = await startControlServer({ port: config.control.port, token, routes: controlRoutes(host), logger: log.child({ component: "control" }) });
      (host as { controlPort: number }).controlPort = control.port;
      await writeControlEndpoint(config.dataDir, control.port);
      teardown.push({
        name: "control",
        run: async () => {
          await control!.close();
          // The CLI must not find a port nobody listens on any more.
          await rm(join(config.dataDir, ENDPOINT_FILE), { force: true });
        },
      });

      // 11. recovery: reveal the bids and finalize the auctions a previous run left; settle dead migrations
      spawn("recovery: reveals", () => revealPending(biddingOf(context)));
      spawn("recovery: finalizations", () =>
        finalizePending({ market, wallet, journal, clock: context.clock, logger: log.child({ role: "source" }), metrics, signal }),
      );
      for (const m of journal.state.migrations.values()) {
        if (m.status !== "running") continue;
        if (m.role === "destination" && m.handOver && m.imported) {
          // It committed the import with the source's hand-over: confirm with it, whatever became of the source. A
          // hand-over without `migration.imported` means this process died before its commit: the TD never ran here,
          // so it is aborted below like any other migration the restart cut.
          spawn("recovery: confirm", () => confirmWithHandOver(context, m.allocationId, log.child({ role: "destination", migrationId: m.migrationId, allocationId: m.allocationId })));
          continue;
        }
        // The streams of a migration die with the process that ran them: abort it on-chain. A source's abort is only a
        // request after the confirmation deadline: a destination that committed still confirms in its dispute window.
        spawn("recovery: abort", () => abortOnChain(context, m.allocationId, new Error("host restarted during the migration")));
      }
      // A mirror owed by a previous run is retried until it lands (it never changes the outcome).
      if (context.mirror) {
        for (const allocationId of pendingMirrors(journal)) spawn("recovery: mirror", () => recordUntilLanded(mirrorDeps(context), allocationId));
      }
      log.info("host started", { endpoint, channelPort, migrationPort: listener.port, controlPort: control.port, metrics: metricsServer?.url });
      return host;
    } catch (err) {
      await undo();
      throw err;
    }
  }

  get address(): string {
    return this.context.address;
  }

  /** Runs the source pipeline for one TD (see source-flow.ts). */
  migrate(req: MigrateRequest): Promise<AuctionSummary> {
    return migrateTd(this.context, req);
  }

  /**
   * What this host is doing. Everything but the registration is local state (ports, TDs, journal, migrations), so a
   * chain that does not answer within STATUS_CHAIN_BUDGET_MS is reported (`chain.available: false`, with the error
   * code) rather than failing the whole status.
   */
  async status(): Promise<HostStatus> {
    const ctx = this.context;
    const chain: ChainAvailability = { url: ctx.market.chain.url, available: true };
    let registration = "unknown";
    try {
      const until = { atMs: Date.now() + STATUS_CHAIN_BUDGET_MS, what: `the status query's ${STATUS_CHAIN_BUDGET_MS} ms chain budget` };
      registration = (await ctx.market.hostRegistry.hostInfo(ctx.address, until)).state;
    } catch (err) {
      chain.available = false;
      chain.error = { code: innermostCodeOf(err) ?? "UNKNOWN", message: isTvmxError(err) ? err.message : describeError(err) };
      ctx.logger.warn("status: the chain did not answer; answering from local state", { code: chain.error.code, err });
    }
    const report = ctx.journal.report;
    return {
      name: ctx.config.name,
      address: ctx.address,
      chainId: ctx.market.chain.chainId,
      endpoint: this.endpoint,
      channelPort: this.channelPort,
      migrationPort: this.migrationPort,
      controlPort: this.controlPort,
      ...(this.metricsUrl ? { metricsUrl: this.metricsUrl } : {}),
      registration,
      pid: process.pid,
      chain,
      capacity: ctx.tds.capacity(),
      tds: ctx.tds.list().length,
      trustDomains: ctx.tds.list(),
      migrationsInFlight: [...ctx.journal.state.migrations.values()].filter((m) => m.status === "running").length,
      migrations: [...ctx.journal.state.migrations.values()].map((m) => ({ allocationId: m.allocationId, role: m.role, status: m.status, tvmId: m.tvmId, peer: m.peer })),
      journal: { dir: ctx.journal.dir, fromSnapshot: report.fromSnapshot, fromLog: report.fromLog, tornTail: report.tornTail !== undefined },
      ...(ctx.mirror ? { mirrorChainId: ctx.mirror.chainId } : {}),
      crypto: codecReport(),
    };
  }

  /** Every transaction this host sent (both chains), with its gas. */
  transactions(): Omit<TxReport, "receipt">[] {
    const all = [...(this.context.market.sender?.reports ?? []), ...(this.#mirrorSender?.reports ?? [])];
    return all.map(({ receipt: _r, ...rest }) => rest);
  }

  /** Stops everything in the reverse order of start; waits (bounded) for work in progress. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      // Stop taking work, stop the servers (which ends the sessions in progress: a source sees its
      // migration aborted and keeps its TD), then let the pipelines finish writing to the journal, close it last.
      this.#controller.abort();
      const log = this.context.logger;
      for (const step of [...this.#teardown].reverse()) {
        if (step.name === "journal") await Promise.race([Promise.allSettled([...this.#tasks]), new Promise((r) => setTimeout(r, 5_000).unref())]);
        try {
          await step.run();
        } catch (err) {
          log.error("teardown step failed", { step: step.name, err });
        }
      }
      log.info("host stopped", {});
    })();
    return this.#closed;
  }
}
