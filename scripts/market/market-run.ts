/**
 * One configuration of the market benchmark: a source and `destinations` host daemons (real processes, the demo's
 * Cluster: both local chains, the suite on each, the destinations recording mirrors on the second chain), the
 * source's auction-chain RPC behind a counting proxy, `concurrent` TDs of the source migrated at once through the
 * control API (what `tvmx migrate` calls). It measures, per TD, the time from the call to the source acting on
 * `Allocated` and to the source seeing Committed on-chain (from the source's own log records), the source daemon's
 * CPU time (/proc), the JSON-RPC calls it made and the gas it paid, and checks the outcome: every TD committed, runs
 * on exactly one destination, and no destination runs more TDs than its capacity.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { rpcCall } from "../../orchestrator/chain/index.js";
import { Cluster, type ClusterHostSpec } from "../../orchestrator/demo/cluster.js";
import { describeError } from "../../orchestrator/errors/index.js";
import { BlockObserver, wallTimeWhenChainReached } from "./block-observer.js";
import { readLogRecords, timeOf } from "./log-records.js";
import { CpuSampler, processCpuMs } from "./process-cpu.js";
import { median } from "./report.js";
import { startRpcCounter, tallyCalls, type RpcCounter } from "./rpc-counter.js";

export interface MarketRunOptions {
  destinations: number;
  concurrent: number;
  commitWindowSec: number;
  revealWindowSec: number;
  ackTimeoutMs: number;
  tdMemoryMiB: number;
  /** TD slots of each destination (default: the fewest that hold every TD, at least 2: capacity binds at small N). */
  destinationSlots?: number;
  /** How long the source's RPC calls are counted with nothing going on, before the migration (its idle rate). */
  idleMs: number;
  /** How long to wait for the follow-up of a migration that aborted (default 180 s). */
  followUpTimeoutMs?: number;
  /**
   * "interval": the chains mine one block a second and nothing else (transactions wait for it), like a chain with a
   * 1 s block time; "auto": also a block per transaction, as the demo runs (each such block is a second after the
   * last, so the chain's clock runs ahead of the wall while the hosts transact, and the windows shrink with N).
   */
  mining: "interval" | "auto";
  onStep?: (step: string) => void;
  /** Environment of the source's daemon beyond the cluster's (e.g. NODE_OPTIONS=--cpu-prof to profile it). */
  sourceEnv?: Record<string, string>;
  /** Keep the work directory (keys, configs, journals, host logs). */
  keep?: boolean;
}

export interface TdTiming {
  tdId: string;
  migrationId: string;
  status: string;
  /** The outcome of the source's follow-up migration, when the first one aborted. */
  followUp?: string;
  winner?: string;
  acknowledged: number;
  /** From the migrate call to the source logging "auction opened". */
  toOpenedMs?: number;
  /** From the migrate call to the source acting on Allocated. */
  toAllocatedMs?: number;
  /** From the migrate call to the source seeing Committed on-chain. */
  toCommittedMs?: number;
  /** The auction windows in wall-clock time: from "auction opened" to the first block at or past the reveal deadline. */
  windowsRanMs?: number;
  /** From the migrate call to its answer (the withdrawal after Committed included). */
  toAnswerMs: number;
}

export interface MarketRunResult {
  destinations: number;
  concurrent: number;
  destinationSlots: number;
  mining: MarketRunOptions["mining"];
  windowsSec: { commit: number; reveal: number };
  auctions: number;
  /** TDs whose first migration aborted and that the source offered again. */
  followUps: number;
  /** Acknowledgements the source verified, summed over its auctions. */
  acknowledgers: number;
  tds: TdTiming[];
  /** Medians over this run's TDs; `beyond…` subtract the auction windows as they ran (`windowsRanMs`). */
  toAllocatedMs: number;
  windowsRanMs: number;
  toCommittedMs: number;
  beyondWindowsToAllocatedMs: number;
  beyondWindowsToCommittedMs: number;
  sourceCpuMs: { toAllocated: number; toCommitted: number };
  sourceCpuPerAcknowledgerMs: number;
  /** CPU cores the whole cluster (both nodes, every host daemon) kept busy: while idle before the migration, and during it. */
  clusterCpuCores: { idle: number; migrating: number };
  rpc: {
    requests: number;
    perAuction: number;
    /** The source's calls per second with nothing to do (its watchers), measured just before, and what is left after subtracting them. */
    idlePerSec: number;
    beyondIdlePerAuction: number;
    byMethod: Record<string, number>;
    getLogsCalls: number;
    getLogsBlocks: number;
    getLogsBlocksPerAuction: number;
    /** The auction chain's head when the migrations ended (log scans from block 0 cover all of it). */
    headBlock: number;
  };
  gas: { gasUsed: number; perAuction: number; feeWei: string; byLabel: Record<string, number> };
  checks: { check: string; ok: boolean; detail?: string }[];
  ok: boolean;
  loadAverage: { before: number[]; after: number[] };
  setUpMs: number;
  workDir: string;
}

interface MigrateAnswer {
  status: string;
  migrationId: string;
  tvmId: string;
  acknowledged: { host: string }[];
  auctionId?: string;
  winner?: string;
  outcome?: { followUp?: string };
}

interface TxView {
  label: string;
  hash: string;
  chainId: string | number;
  gasUsed: string | number;
  feeWei: string | number;
}


export function destinationName(i: number): string {
  return `dest-${String(i + 1).padStart(2, "0")}`;
}

export async function runMarket(options: MarketRunOptions): Promise<MarketRunResult> {
  const step = options.onStep ?? (() => undefined);
  const slots = options.destinationSlots ?? Math.max(2, Math.ceil(options.concurrent / options.destinations));
  const mem = options.tdMemoryMiB;
  const hosts: ClusterHostSpec[] = [
    { name: "source", capacity: { tvmSlots: options.concurrent, memoryMiB: options.concurrent * mem * 2 }, ...(options.sourceEnv ? { env: options.sourceEnv } : {}) },
    ...Array.from({ length: options.destinations }, (_, i) => ({ name: destinationName(i), capacity: { tvmSlots: slots, memoryMiB: slots * mem * 2 }, mirror: true })),
  ];
  const workDir = await mkdtemp(join(tmpdir(), "tvmx-bench-market-"));
  let counter: RpcCounter | undefined;
  const loadBefore = loadavg();
  const t0 = performance.now();
  const cluster = new Cluster({
    workDir,
    hosts,
    onStep: step,
    auction: { commitWindowSec: options.commitWindowSec, revealWindowSec: options.revealWindowSec, ackTimeoutMs: options.ackTimeoutMs },
    beforeHosts: async (c) => {
      counter = await startRpcCounter(c.chain.node.url);
      const source = c.host("source");
      source.spec.config = { ...source.spec.config, chain: { rpcUrl: counter.url, confirmations: 1, pollIntervalMs: 200, rpcRetries: 8 } };
    },
  });
  let ok = false;
  try {
    await cluster.setUp();
    const setUpMs = performance.now() - t0;
    if (options.mining === "interval") {
      // Blocks once a second only, as on a chain with a block time: each block's timestamp then keeps pace with the
      // wall clock, so an auction window of W chain seconds lasts W wall seconds whatever the number of bidders.
      for (const c of [cluster.chain, cluster.mirror]) if (c) await rpcCall(c.node.url, "evm_setAutomine", [false]);
    }
    const sourceHost = cluster.host("source");
    const source = await cluster.client("source", 600_000);
    step(`creating ${options.concurrent} TD(s) of ${mem} MiB on the source`);
    const tds: { tdId: string; tvmId: string }[] = [];
    for (let i = 0; i < options.concurrent; i++) {
      tds.push(await source.post<{ tdId: string; tvmId: string }>("/v1/tds", { memoryMiB: mem, vcpus: 1, workload: { bytesPerSecond: 1_000_000, hotSetMiB: 2, seed: 100 + i } }));
    }
    const txsBefore = new Set((await source.get<TxView[]>("/v1/transactions")).map((t) => t.hash));
    step(`counting the source's idle RPC calls for ${options.idleMs} ms`);
    const everyPid = cluster.processes().map((p) => p.pid);
    const clusterCpu = () => everyPid.reduce((sum, pid) => sum + processCpuMs(pid), 0);
    const idleFrom = Date.now();
    const idleCpuFrom = clusterCpu();
    await new Promise((r) => setTimeout(r, options.idleMs));
    const idleTo = Date.now();
    const idleCpuMs = clusterCpu() - idleCpuFrom;
    const idleCalls = counter!.callsBetween(idleFrom, idleTo).length;

    step(`migrating ${tds.length} TD(s) at once to ${options.destinations} destination(s)`);
    const blocks = new BlockObserver(cluster.chain.node.url);
    const cpu = new CpuSampler(sourceHost.process!.pid);
    const startMs = Date.now();
    const busyCpuFrom = clusterCpu();
    const answers = await Promise.all(
      tds.map(async (td) => {
        // A migration that fails outright is a result too (its check fails), not the end of the sweep.
        const answer = await source.post<MigrateAnswer>(`/v1/tds/${td.tdId}/migrate`, {}).catch(
          (err: unknown): MigrateAnswer => ({ status: `error: ${describeError(err)}`, migrationId: "", tvmId: td.tvmId, acknowledged: [] }),
        );
        return { td, answer, answeredMs: Date.now() };
      }),
    );
    // A TD whose first migration aborted (e.g. its winner had no room left) is offered again by the source itself
    // (`migration.onFailure`): wait for that follow-up to finish, and count its cost in.
    const followed = answers.filter((a) => a.answer.status !== "Committed" && a.answer.outcome?.followUp !== undefined).map((a) => a.answer.migrationId);
    if (followed.length > 0) step(`waiting for the follow-up migration of ${followed.length} TD(s)`);
    const followUps = await waitForFollowUps(sourceHost.logFile, followed, options.followUpTimeoutMs ?? 180_000);
    const endMs = Date.now();
    const busyCpuMs = clusterCpu() - busyCpuFrom;
    cpu.stop();
    await blocks.stop();
    const records = await readLogRecords(sourceHost.logFile);
    const timings: TdTiming[] = answers.map(({ td, answer, answeredMs }) => {
      const mine = records.filter((r) => r.migrationId === answer.migrationId);
      const at = (msg: string) => {
        const t = timeOf(mine.find((r) => r.msg === msg));
        return t === undefined ? undefined : t - startMs;
      };
      const openedRecord = mine.find((r) => r.msg === "auction opened");
      const opened = at("auction opened");
      // the windows as they ran: from the opening to the first block at or past the reveal deadline
      const revealDeadline = Number(openedRecord?.revealDeadline);
      const windowEnd = Number.isFinite(revealDeadline) ? wallTimeWhenChainReached(blocks.sightings, revealDeadline) : undefined;
      const windowsRanMs = opened !== undefined && windowEnd !== undefined ? windowEnd - startMs - opened : undefined;
      const allocated = at("allocated: starting the live migration");
      const followUp = followUps.get(answer.migrationId);
      const committed = followUp?.status === "Committed" ? followUp.atMs - startMs : at("migration settled on-chain");
      return {
        tdId: td.tdId,
        migrationId: answer.migrationId,
        status: followUp ? `${answer.status}, then ${followUp.status} (${answer.outcome?.followUp})` : answer.status,
        ...(followUp ? { followUp: followUp.status } : {}),
        ...(answer.winner ? { winner: answer.winner } : {}),
        acknowledged: answer.acknowledged.length,
        ...(opened !== undefined ? { toOpenedMs: opened } : {}),
        ...(allocated !== undefined ? { toAllocatedMs: allocated } : {}),
        ...(committed !== undefined ? { toCommittedMs: committed } : {}),
        ...(windowsRanMs !== undefined ? { windowsRanMs } : {}),
        toAnswerMs: answeredMs - startMs,
      };
    });
    const auctions = answers.filter((a) => a.answer.auctionId !== undefined).length + followUps.size;
    const acknowledgers = timings.reduce((s, t) => s + t.acknowledged, 0);
    const allocatedAt = timings.map((t) => t.toAllocatedMs ?? Number.NaN);
    const committedAt = timings.map((t) => t.toCommittedMs ?? Number.NaN);
    const beyondAllocated = timings.map((t) => (t.toAllocatedMs ?? Number.NaN) - (t.windowsRanMs ?? Number.NaN));
    const beyondCommitted = timings.map((t) => (t.toCommittedMs ?? Number.NaN) - (t.windowsRanMs ?? Number.NaN));
    const lastAllocated = startMs + Math.max(...allocatedAt);
    const lastCommitted = startMs + Math.max(...committedAt);
    const cpuToAllocated = cpu.at(lastAllocated) - cpu.at(startMs);
    const cpuToCommitted = cpu.at(lastCommitted) - cpu.at(startMs);

    // RPC: the source's calls from the migrate call to the last answer
    const calls = counter!.callsBetween(startMs, endMs);
    const tally = tallyCalls(calls);
    const idlePerSec = (idleCalls * 1000) / (idleTo - idleFrom);
    const head = Number(await rpcCall(cluster.chain.node.url, "eth_blockNumber", []));

    // gas: the source's transactions sent during the migrations
    const txs = (await source.get<TxView[]>("/v1/transactions")).filter((t) => !txsBefore.has(t.hash));
    const byLabel: Record<string, number> = {};
    for (const t of txs) byLabel[t.label] = (byLabel[t.label] ?? 0) + Number(t.gasUsed);
    const gasUsed = txs.reduce((s, t) => s + Number(t.gasUsed), 0);
    const feeWei = txs.reduce((s, t) => s + BigInt(t.feeWei), 0n);

    // the outcome: where each TD runs, and every destination within its capacity
    step("checking where the TDs run and the destinations' capacity");
    const placements = new Map<string, string[]>();
    const overCapacity: string[] = [];
    for (const h of cluster.hosts.values()) {
      const client = await cluster.client(h.name);
      const status = await client.get<{ tds: number; capacity: { tvmSlots: number } }>("/v1/status");
      if (status.tds > status.capacity.tvmSlots) overCapacity.push(`${h.name}: ${status.tds} TDs in ${status.capacity.tvmSlots} slots`);
      for (const td of await client.get<{ tvmId: string; running: boolean }[]>("/v1/tds")) {
        if (td.running) placements.set(td.tvmId, [...(placements.get(td.tvmId) ?? []), h.name]);
      }
    }
    const misplaced = tds.filter((td) => (placements.get(td.tvmId) ?? []).length !== 1 || placements.get(td.tvmId)![0] === "source");
    const checks: MarketRunResult["checks"] = [
      {
        check: "every TD committed (at once, or by the source's follow-up when its winner declined)",
        ok: timings.every((t) => t.status === "Committed" || t.followUp === "Committed"),
        detail: timings.map((t) => t.status).join("; "),
      },
      { check: "each TD runs on exactly one destination", ok: misplaced.length === 0, detail: misplaced.map((td) => `${td.tdId}: ${(placements.get(td.tvmId) ?? []).join("+") || "nowhere"}`).join("; ") },
      { check: "no host runs more TDs than its capacity", ok: overCapacity.length === 0, detail: overCapacity.join("; ") },
      { check: "every host that passed the policy acknowledged", ok: timings.every((t) => t.acknowledged === options.destinations), detail: timings.map((t) => t.acknowledged).join(",") },
    ];
    ok = checks.every((c) => c.ok);
    return {
      destinations: options.destinations,
      concurrent: options.concurrent,
      destinationSlots: slots,
      mining: options.mining,
      windowsSec: { commit: options.commitWindowSec, reveal: options.revealWindowSec },
      auctions,
      followUps: followUps.size,
      acknowledgers,
      tds: timings,
      toAllocatedMs: median(allocatedAt),
      toCommittedMs: median(committedAt),
      windowsRanMs: median(timings.map((t) => t.windowsRanMs ?? Number.NaN)),
      beyondWindowsToAllocatedMs: median(beyondAllocated),
      beyondWindowsToCommittedMs: median(beyondCommitted),
      sourceCpuMs: { toAllocated: cpuToAllocated, toCommitted: cpuToCommitted },
      clusterCpuCores: { idle: idleCpuMs / (idleTo - idleFrom), migrating: busyCpuMs / (endMs - startMs) },
      sourceCpuPerAcknowledgerMs: acknowledgers > 0 ? cpuToCommitted / acknowledgers : Number.NaN,
      rpc: {
        requests: tally.requests,
        perAuction: tally.requests / Math.max(1, auctions),
        idlePerSec,
        beyondIdlePerAuction: (tally.requests - (idlePerSec * (endMs - startMs)) / 1000) / Math.max(1, auctions),
        byMethod: tally.byMethod,
        getLogsCalls: tally.getLogsCalls,
        getLogsBlocks: tally.getLogsBlocks,
        getLogsBlocksPerAuction: tally.getLogsBlocks / Math.max(1, auctions),
        headBlock: head,
      },
      gas: { gasUsed, perAuction: gasUsed / Math.max(1, auctions), feeWei: feeWei.toString(), byLabel },
      checks,
      ok,
      loadAverage: { before: loadBefore, after: loadavg() },
      setUpMs,
      workDir,
    };
  } finally {
    const failures = await cluster.stop();
    if (failures.length > 0) step(`could not stop cleanly: ${failures.map((f) => `${f.name}: ${f.error}`).join("; ")}`);
    await counter?.close();
    if (!options.keep && ok) await rm(workDir, { recursive: true, force: true });
    else step(`work directory kept: ${workDir}`);
  }
}

/** Polls the source's log until each migration's "follow-up migration finished" record is there; their outcomes and times. */
async function waitForFollowUps(logFile: string, migrationIds: string[], timeoutMs: number): Promise<Map<string, { status: string; atMs: number }>> {
  const found = new Map<string, { status: string; atMs: number }>();
  const deadline = Date.now() + timeoutMs;
  while (found.size < migrationIds.length) {
    for (const r of await readLogRecords(logFile)) {
      if (r.msg === "follow-up migration finished" && typeof r.migrationId === "string" && migrationIds.includes(r.migrationId)) {
        found.set(r.migrationId, { status: String(r.status), atMs: timeOf(r) ?? Date.now() });
      }
    }
    if (found.size === migrationIds.length) break;
    if (Date.now() > deadline) {
      for (const id of migrationIds) if (!found.has(id)) found.set(id, { status: "no follow-up outcome in time", atMs: Date.now() });
      break;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return found;
}
