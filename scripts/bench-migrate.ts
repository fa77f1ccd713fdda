/**
 * Benchmark of the live-migration engine: migrates a running TD over loopback TCP, `--runs` times, and compares
 * the stream's payload rate with the raw AES-256-GCM limit of one core measured in the same run.
 *
 *   npm run bench:migrate                      readable report
 *   npm run -s bench:migrate -- --json         one JSON object on stdout (-s: no npm banner)
 *   npm run bench:migrate -- --memory-mib 64 --runs 3 --workload-mibps 40 --hot-set-mib 16 --streams 1 \
 *                            --downtime-target-ms 10 [--fresh-memory] [--aes-ms 1000] [--aes-run-ms 500]
 *
 * The limits are sampled before and after the runs and right before each run (AES-GCM for --aes-ms and --aes-run-ms,
 * the native codec and loopback TCP for half those); the report
 * compares the median run with the median sample (and, for the record, with the fastest sample). Two AES-GCM limits:
 * node:crypto with one cipher per page (nodeAesGcmLimitMBps, the old yardstick, also as aesGcmLimitMBps) and the
 * native codec sealing 128-page batches (nativeAesGcmLimitMBps, null without the addon); and one loopback TCP
 * connection (loopbackTcpLimitMBps). `backend` is the page codec the workers use (TVMX_CRYPTO_BACKEND=node forces
 * node:crypto).
 *
 * Source and destination run in this one process (each with its own worker pool) and share the machine's cores.
 * Memory is pre-touched and reused across runs unless --fresh-memory is given (fresh pages are slow on these
 * machines: the kernel zeroes each on first touch). The npm script starts node with the engine's V8 flags
 * (orchestrator/runtime/engine-flags.ts); started without them the report says so.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { availableParallelism, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  measureAesGcmLimit,
  measureLoopbackTcpLimit,
  measureNativeAesGcmLimit,
  migrateOut,
  migrationWorkerEntry,
  WorkerPool,
} from "../orchestrator/migration/index.js";
import type { CompletedMigration } from "../orchestrator/migration/index.js";
import { median, percentile } from "../orchestrator/migration/metrics.js";
import { INITIAL_OLD_SPACE_MIB, initialOldSpaceMiB } from "../orchestrator/runtime/engine-flags.js";
import { codecReport, GuestWorkload, PAGE_SIZE, Platform } from "../orchestrator/tdx/index.js";
import { childDestination, inProcessDestination } from "./bench-migrate/destination.js";
import type { BenchDestination } from "./bench-migrate/destination.js";
import { LINK_PROFILES, linkUnavailable, setUpLink } from "./bench-migrate/link.js";
import type { LinkProfile, LinkStats } from "./bench-migrate/link.js";
import { measureTcpRateMBps, measureTcpRttMs } from "./bench-migrate/probe.js";

const MiB = 1024 * 1024;

const { values: args } = parseArgs({
  options: {
    json: { type: "boolean", default: false },
    "memory-mib": { type: "string", default: "256" },
    runs: { type: "string", default: "10" },
    "workload-mibps": { type: "string", default: "20" },
    "hot-set-mib": { type: "string", default: "8" },
    // Two streams (the engine's default): while one stream's worker waits for its socket or its next descriptor,
    // the other's keeps the core busy.
    streams: { type: "string", default: "2" },
    // Default 10 ms; with --link, the link's target 2 x RTT + 5 ms.
    "downtime-target-ms": { type: "string" },
    "pages-per-bundle": { type: "string", default: "256" },
    "aes-ms": { type: "string", default: "1000" },
    "aes-run-ms": { type: "string", default: "500" },
    "warmup-ms": { type: "string", default: "100" },
    "fresh-memory": { type: "boolean", default: false },
    // The destination in its own process (implied by --link).
    "destination-process": { type: "boolean", default: false },
    // An emulated link (dc | metro | wan), with its rate (e.g. 1gbit, 500mbit), RTT and loss overridable.
    link: { type: "string" },
    rate: { type: "string" },
    "rtt-ms": { type: "string" },
    "loss-percent": { type: "string" },
    // Internal: set on the copy of this benchmark that runs as the source inside the link's source namespace.
    "link-role": { type: "string" },
  },
  strict: true,
});

function num(name: keyof typeof args, min: number): number {
  const raw = args[name];
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min) {
    process.stderr.write(`bench-migrate: --${name} must be a number >= ${min} (got ${String(raw)})\n`);
    process.exit(2);
  }
  return v;
}

const config = {
  memoryMiB: num("memory-mib", 1),
  runs: Math.floor(num("runs", 1)),
  workloadMiBps: num("workload-mibps", 0),
  hotSetMiB: num("hot-set-mib", 0.004),
  streams: Math.floor(num("streams", 1)),
  downtimeTargetMs: args["downtime-target-ms"] === undefined ? undefined : num("downtime-target-ms", 0.001),
  pagesPerBundle: Math.floor(num("pages-per-bundle", 1)),
  aesMs: num("aes-ms", 100),
  aesRunMs: num("aes-run-ms", 50),
  warmupMs: num("warmup-ms", 0),
  freshMemory: args["fresh-memory"] === true,
};
const json = args.json === true;
const link = resolveLink();
// The engine is given the downtime target it is held to: over a link, 2 x RTT + 5 ms.
const downtimeTargetMs = config.downtimeTargetMs ?? (link ? 2 * link.rttMs + 5 : 10);
const inLinkNamespace = args["link-role"] === "source";

/** The link profile asked for with --link, its values overridden by --rate, --rtt-ms and --loss-percent. */
function resolveLink(): LinkProfile | undefined {
  if (args.link === undefined) {
    if (args.rate !== undefined || args["rtt-ms"] !== undefined || args["loss-percent"] !== undefined) fail("--rate, --rtt-ms and --loss-percent need --link");
    return undefined;
  }
  const base = LINK_PROFILES[args.link];
  if (!base) fail(`--link must be one of ${Object.keys(LINK_PROFILES).join(", ")} (got ${args.link})`);
  const profile = { ...base };
  if (args.rate !== undefined) {
    const m = /^(\d+(?:\.\d+)?)(k|m|g)?bit$/i.exec(args.rate);
    if (!m) fail(`--rate must look like 10gbit, 1gbit or 500mbit (got ${args.rate})`);
    profile.rateBitsPerSec = Number(m[1]) * ({ k: 1e3, m: 1e6, g: 1e9 } as Record<string, number>)[(m[2] ?? "").toLowerCase()]! || Number(m[1]);
  }
  if (args["rtt-ms"] !== undefined) profile.rttMs = num("rtt-ms", 0);
  if (args["loss-percent"] !== undefined) profile.lossPercent = num("loss-percent", 0);
  if (!(profile.rateBitsPerSec >= 1e6) || profile.lossPercent >= 100) fail("the link needs a rate of at least 1mbit and a loss below 100 %");
  return profile;
}

function fail(message: string): never {
  process.stderr.write(`bench-migrate: ${message}\n`);
  process.exit(2);
}
const say = (line: string): void => {
  if (!json) process.stdout.write(`${line}\n`);
};

interface RunResult {
  run: number;
  rounds: number;
  bytesSent: number;
  pagesSent: number;
  totalMs: number;
  downtimeMs: number;
  streamingMs: number;
  throughputMBps: number;
  /** The first round alone (the bulk copy of all memory, one long pipelined transfer). */
  bulkThroughputMBps: number;
  digestMatch: boolean;
  /** The raw AES-GCM limit sampled just before this run, and this run's throughput over it. */
  aesLimitMBps: number;
  ratio: number;
  guestWrites: number;
  throttlePercent: number;
  convergence: string;
  blackout: CompletedMigration["blackout"];
  /** CPU time of this process (both sides, all threads) per MB sent, from start to the TD running on the destination. */
  cpuMsPerMB: number;
  /** The same split by thread: the main loop (both sides and the guest), the export workers, the import workers. */
  cpuSplitMsPerMB: { main: number; export: number; import: number };
  /** Per pre-copy round: pages, bytes and ms (the epoch token's acknowledgement included). */
  roundLog: { round: number; pages: number; bytes: number; ms: number }[];
}

/**
 * --link: sets the link up, runs this benchmark again as the source inside the source namespace (which starts the
 * destination in the destination namespace), and tears the link down whatever happens; the emulator's counters join
 * the JSON report.
 */
async function runOverLink(profile: LinkProfile): Promise<void> {
  const unavailable = linkUnavailable();
  if (unavailable !== undefined) {
    process.stderr.write(`bench-migrate: --link ${profile.name} skipped: ${unavailable}\n`);
    if (json) process.stdout.write(`${JSON.stringify({ link: profile, skipped: unavailable })}\n`);
    return;
  }
  const emulated = await setUpLink(profile);
  let code: number | null = 1;
  let stats: LinkStats | undefined;
  try {
    say(`  link ${profile.name}: ${profile.rateBitsPerSec / 1e9} Gbit/s, RTT ${profile.rttMs} ms, loss ${profile.lossPercent} %, router buffer ${(emulated.queueBytes / MiB).toFixed(2)} MiB; source in ${emulated.sourceNamespace}, destination in ${emulated.destinationNamespace}`);
    const child = spawn("ip", ["netns", "exec", emulated.sourceNamespace, process.execPath, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2), "--link-role", "source"], {
      stdio: ["ignore", json ? "pipe" : "inherit", "inherit"],
      env: { ...process.env, TVMX_BENCH_LINK: JSON.stringify({ destinationNamespace: emulated.destinationNamespace, destinationAddress: emulated.destinationAddress, queueBytes: emulated.queueBytes }) },
    });
    let out = "";
    child.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
    code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
    stats = await emulated.tearDown();
    if (json && out.trim() !== "") {
      const report = JSON.parse(out.trim().split("\n").at(-1)!) as Record<string, unknown>;
      process.stdout.write(`${JSON.stringify({ ...report, linkEmulator: stats ?? null })}\n`);
    }
  } finally {
    await emulated.tearDown();
  }
  if (stats) say(`  link emulator: forward ${stats.forward.frames} frames (${(stats.forward.bytes / MiB).toFixed(1)} MiB), ${stats.forward.lost} lost, ${stats.forward.tailDropped} tail-dropped; backward ${stats.backward.frames} frames, ${stats.backward.lost} lost`);
  say(`  link torn down`);
  if (code !== 0) process.exitCode = code ?? 1;
}

async function main(): Promise<void> {
  if (link && !inLinkNamespace) return runOverLink(link);
  const memoryBytes = Math.round(config.memoryMiB * MiB / PAGE_SIZE) * PAGE_SIZE;
  const hotSetBytes = Math.min(memoryBytes, Math.max(PAGE_SIZE, Math.round(config.hotSetMiB * MiB / PAGE_SIZE) * PAGE_SIZE));
  say(`TVM Exchange live-migration benchmark`);
  say(`  TD ${config.memoryMiB} MiB, ${config.streams} stream(s), ${config.runs} run(s), guest writing ${config.workloadMiBps} MiB/s over ${hotSetBytes / MiB} MiB, downtime target ${downtimeTargetMs} ms`);

  const oldSpaceMiB = initialOldSpaceMiB();
  if (oldSpaceMiB === undefined) {
    process.stderr.write(`bench-migrate: node was started without --initial-old-space-size=${INITIAL_OLD_SPACE_MIB} (npm run bench:migrate passes it); V8's default heap sizing costs the engine about a quarter more CPU\n`);
  }
  // The raw limit first, while nothing else runs.
  const aesBefore = measureAesGcmLimit({ durationMs: config.aesMs });
  say(`  raw AES-256-GCM, one core, 4 KiB pages: ${aesBefore.mbPerSec.toFixed(0)} MB/s`);
  // The machine's speed drifts (a shared VM): the limit is sampled again right before every run, so the runs are
  // compared with the machine as it was while they ran, not with one moment before or after them.
  const aesSamples: number[] = [aesBefore.mbPerSec];
  const nativeSamples: number[] = [];
  const sampleNative = (durationMs: number): void => {
    const native = measureNativeAesGcmLimit({ durationMs });
    if (native !== undefined) nativeSamples.push(native.mbPerSec);
  };
  sampleNative(config.aesMs);
  if (nativeSamples.length > 0) say(`  native codec AES-256-GCM, one core, 128-page batches: ${nativeSamples[0]!.toFixed(0)} MB/s`);
  const tcpSamples: number[] = [(await measureLoopbackTcpLimit({ durationMs: config.aesRunMs })).mbPerSec];
  say(`  loopback TCP, one connection: ${tcpSamples[0]!.toFixed(0)} MB/s`);

  const source = new Platform({ name: "bench-source" });
  const key = randomBytes(32);
  const sourcePool = await WorkerPool.start({ size: config.streams, entry: migrationWorkerEntry(), name: "bench-export" });
  // Pre-touched memory, reused by every run (a real VMM prepares the destination's memory before -incoming).
  const touched = (): SharedArrayBuffer => {
    const sab = new SharedArrayBuffer(memoryBytes);
    new Uint8Array(sab).fill(1);
    return sab;
  };
  const sourceMemory = config.freshMemory ? undefined : touched();
  // CPU time at the moment the TD starts running on the destination (before any digest is computed), in this process.
  let cpuAtCommit: NodeJS.CpuUsage | undefined;
  let mainCpuAtCommit: NodeJS.CpuUsage | undefined;
  const linkEnv = inLinkNamespace ? (JSON.parse(process.env.TVMX_BENCH_LINK ?? "{}") as { destinationNamespace: string; destinationAddress: string }) : undefined;
  const destination: BenchDestination = linkEnv
    ? await childDestination({ prefix: ["ip", "netns", "exec", linkEnv.destinationNamespace], host: linkEnv.destinationAddress, key, streams: config.streams, memoryBytes, freshMemory: config.freshMemory })
    : args["destination-process"] === true
      ? await childDestination({ prefix: [], host: "127.0.0.1", key, streams: config.streams, memoryBytes, freshMemory: config.freshMemory })
      : await inProcessDestination({
          platform: new Platform({ name: "bench-destination" }),
          key,
          streams: config.streams,
          memoryBytes,
          memory: config.freshMemory ? undefined : touched(),
          onCommitted: () => {
            cpuAtCommit = process.cpuUsage();
            mainCpuAtCommit = process.threadCpuUsage();
          },
        });
  const workerCodecs = [...(await sourcePool.codecs()), ...destination.codecs];
  const backends = new Set(workerCodecs.map((c) => c.backend));
  const backend = backends.size === 1 ? [...backends][0]! : "mixed";
  say(`  page codec in the workers: ${backend}${workerCodecs[0]?.fallbackReason !== undefined ? ` (${workerCodecs[0].fallbackReason})` : ""}`);
  say(`  destination: ${destination.separateProcess ? `its own process${linkEnv ? ` in network namespace ${linkEnv.destinationNamespace}` : ""}` : "this process"} at ${destination.host}:${destination.port}`);
  // Over a link: its round trip and one connection's rate, measured like the limits (before, between, after the runs).
  const linkRttSamples: number[] = [];
  const linkTcpSamples: number[] = [];
  const sampleLink = async (): Promise<void> => {
    if (!link || destination.probePort === undefined) return;
    linkRttSamples.push(await measureTcpRttMs(destination.host, destination.probePort));
    const bytes = Math.min(256 * MiB, Math.max(8 * MiB, Math.round(link.rateBitsPerSec / 8 / 2)));
    linkTcpSamples.push(await measureTcpRateMBps(destination.host, destination.probePort, bytes));
  };
  await sampleLink();
  if (linkRttSamples.length > 0) say(`  link ${link!.name}: TCP round trip ${linkRttSamples[0]!.toFixed(2)} ms, one connection ${linkTcpSamples[0]!.toFixed(0)} MB/s`);
  const loadBefore = loadavg()[0]!;

  const results: RunResult[] = [];
  let destinationPeak: number | undefined;
  try {
    for (let run = 1; run <= config.runs; run++) {
      const aesLimitMBps = measureAesGcmLimit({ durationMs: config.aesRunMs }).mbPerSec;
      aesSamples.push(aesLimitMBps);
      sampleNative(config.aesRunMs / 2);
      tcpSamples.push((await measureLoopbackTcpLimit({ durationMs: config.aesRunMs / 2 })).mbPerSec);
      const td = source.createTd({ memoryBytes, numVcpus: 2, ...(sourceMemory ? { memory: sourceMemory } : {}) });
      for (let gpa = 0; gpa < memoryBytes; gpa += PAGE_SIZE) td.guestFill32(gpa, PAGE_SIZE, Math.imul(gpa / PAGE_SIZE + run, 2654435761));
      const workload = new GuestWorkload(td, { bytesPerSecond: config.workloadMiBps * MiB, hotSetBytes, seed: run, tickMs: 2 });
      workload.start();
      await new Promise((r) => setTimeout(r, config.warmupMs));
      const incoming = (await destination.accept()).imported;
      incoming.catch(() => undefined);
      const exportCpuAtStart = await sourcePool.cpuUsage();
      const mainCpuAtStart = process.threadCpuUsage();
      const cpuAtStart = process.cpuUsage();
      let done: CompletedMigration;
      let imported: Awaited<typeof incoming>;
      try {
        done = await migrateOut({
          td,
          module: source.module,
          peer: { host: destination.host, port: destination.port },
          key,
          streams: config.streams,
          downtimeTargetMs: downtimeTargetMs,
          pagesPerBundle: config.pagesPerBundle,
          workload,
          pool: sourcePool,
        });
        if (destination.separateProcess) {
          // This process's share ends with the source's: the destination reports its own up to its commit.
          cpuAtCommit = process.cpuUsage();
          mainCpuAtCommit = process.threadCpuUsage();
        }
        imported = await incoming;
      } finally {
        workload.stop();
      }
      // The workers are idle once the TD runs on the destination: their CPU time now is their share of the migration.
      const exportCpuAtEnd = await sourcePool.cpuUsage();
      const mb = done.bytesSent / 1e6;
      const runThroughputMBps = done.bytesSent / 1e6 / (done.streamingMs / 1000);
      const result: RunResult = {
        run,
        rounds: done.rounds,
        bytesSent: done.bytesSent,
        pagesSent: done.pagesSent,
        totalMs: done.totalMs,
        downtimeMs: done.downtimeMs,
        streamingMs: done.streamingMs,
        throughputMBps: runThroughputMBps,
        bulkThroughputMBps: done.roundLog[0]!.bytes / 1e6 / (done.roundLog[0]!.ms / 1000),
        digestMatch: done.digestMatch === true,
        aesLimitMBps,
        ratio: runThroughputMBps / aesLimitMBps,
        guestWrites: workload.writes,
        throttlePercent: done.throttlePercent,
        convergence: done.convergence.reason,
        blackout: done.blackout,
        roundLog: done.roundLog.map((r) => ({ round: r.round, pages: r.pages, bytes: r.bytes, ms: round(r.ms) })),
        cpuMsPerMB: (cpuMs(cpuAtStart, cpuAtCommit!) + imported.processCpuMs) / mb,
        cpuSplitMsPerMB: {
          main: (cpuMs(mainCpuAtStart, mainCpuAtCommit!) + (imported.mainCpuMs ?? 0)) / mb,
          export: cpuMs(exportCpuAtStart, exportCpuAtEnd) / mb,
          import: imported.importWorkersCpuMs / mb,
        },
      };
      results.push(result);
      say(
        `  run ${String(run).padStart(2)}: ${result.rounds} rounds, ${(result.bytesSent / MiB).toFixed(1)} MiB sent, total ${result.totalMs.toFixed(0)} ms, ` +
          `downtime ${result.downtimeMs.toFixed(2)} ms, stream ${result.throughputMBps.toFixed(0)} MB/s, digest ${result.digestMatch ? "match" : "MISMATCH"}`,
      );
    }
    await sampleLink();
  } finally {
    destinationPeak = (await destination.close()).peakRssMiB;
    await sourcePool.close();
  }

  // The limit again after the runs: the report uses the better of the two (the ratio can only get stricter).
  const loadAfter = loadavg()[0]!;
  const aesCpu0 = process.cpuUsage();
  const aesAfter = measureAesGcmLimit({ durationMs: config.aesMs });
  const aesCpuMsPerMB = cpuMs(aesCpu0, process.cpuUsage()) / ((aesAfter.pages * PAGE_SIZE) / 1e6);
  const cpuMsPerMB = median(results.map((r) => r.cpuMsPerMB));
  const cores = availableParallelism();
  aesSamples.push(aesAfter.mbPerSec);
  sampleNative(config.aesMs);
  tcpSamples.push((await measureLoopbackTcpLimit({ durationMs: config.aesRunMs })).mbPerSec);
  const nativeAesGcmLimitMBps = nativeSamples.length > 0 ? median(nativeSamples) : undefined;
  // The median of the samples, like the throughput it is compared with (a median over the runs).
  const aesGcmLimitMBps = median(aesSamples);
  const aesGcmLimitMaxMBps = Math.max(...aesSamples);
  const throughputMBps = median(results.map((r) => r.throughputMBps));
  const report = {
    memoryMiB: config.memoryMiB,
    streams: config.streams,
    runs: results.length,
    rounds: median(results.map((r) => r.rounds)),
    bytesSent: median(results.map((r) => r.bytesSent)),
    totalMs: round(median(results.map((r) => r.totalMs))),
    downtimeMs: round(median(results.map((r) => r.downtimeMs))),
    downtimeMsP99: round(percentile(results.map((r) => r.downtimeMs), 99)),
    throughputMBps: round(throughputMBps),
    aesGcmLimitMBps: round(aesGcmLimitMBps),
    ratio: round(throughputMBps / aesGcmLimitMBps, 3),
    digestMatch: results.every((r) => r.digestMatch),
    backend,
    nativeAesGcmLimitMBps: nativeAesGcmLimitMBps === undefined ? null : round(nativeAesGcmLimitMBps),
    nodeAesGcmLimitMBps: round(aesGcmLimitMBps),
    loopbackTcpLimitMBps: round(median(tcpSamples)),
    ratioToNativeLimit: nativeAesGcmLimitMBps === undefined ? null : round(throughputMBps / nativeAesGcmLimitMBps, 3),
    nativeAesGcmLimitSamplesMBps: nativeSamples.map((x) => round(x)),
    loopbackTcpLimitSamplesMBps: tcpSamples.map((x) => round(x)),
    mainThreadBackend: codecReport(),
    memory: config.freshMemory ? "fresh" : "warm",
    v8InitialOldSpaceMiB: oldSpaceMiB ?? null,
    workloadMiBps: config.workloadMiBps,
    hotSetMiB: hotSetBytes / MiB,
    downtimeTargetMs: downtimeTargetMs,
    pagesPerBundle: config.pagesPerBundle,
    // Every sample (before the runs, before each run, after them), the fastest, and the ratio against the fastest.
    aesGcmLimitSamplesMBps: aesSamples.map((x) => round(x)),
    aesGcmLimitMaxMBps: round(aesGcmLimitMaxMBps),
    ratioToMaxLimit: round(throughputMBps / aesGcmLimitMaxMBps, 3),
    blackoutMedianMs: {
      exportMs: round(median(results.map((r) => r.blackout.exportMs))),
      readyMs: round(median(results.map((r) => r.blackout.readyMs))),
      commitMs: round(median(results.map((r) => r.blackout.commitMs))),
      pages: median(results.map((r) => r.blackout.pages)),
    },
    bulkThroughputMBps: round(median(results.map((r) => r.bulkThroughputMBps))),
    bulkRatio: round(median(results.map((r) => r.bulkThroughputMBps)) / aesGcmLimitMBps, 3),
    // Load-independent view: CPU cost of a migrated MB (both sides) against the CPU cost of one raw AES-GCM MB;
    // with `cores` cores fully available the ratio could reach cores x aesCpuMsPerMB / cpuMsPerMB.
    cpuMsPerMB: round(cpuMsPerMB),
    cpuSplitMsPerMB: {
      main: round(median(results.map((r) => r.cpuSplitMsPerMB.main))),
      export: round(median(results.map((r) => r.cpuSplitMsPerMB.export))),
      import: round(median(results.map((r) => r.cpuSplitMsPerMB.import))),
    },
    aesCpuMsPerMB: round(aesCpuMsPerMB),
    cores,
    cpuBoundRatio: round((cores * aesCpuMsPerMB) / cpuMsPerMB, 3),
    loadAverage1m: [round(loadBefore), round(loadAfter)],
    // Peak resident memory of this process (both sides, all threads): maxRSS of getrusage, KiB on Linux.
    peakRssMiB: round(process.resourceUsage().maxRSS / 1024),
    // The destination's own process, when it runs in one (null: it is in peakRssMiB).
    destinationPeakRssMiB: destinationPeak === undefined ? null : round(destinationPeak),
    peakRssTargetMiB: 2 * config.memoryMiB + 512,
    destination: destination.separateProcess ? "process" : "in-process",
    link: link ? { ...link, rateMBps: link.rateBitsPerSec / 8 / 1e6 } : null,
    linkRttMsMeasured: linkRttSamples.length > 0 ? round(median(linkRttSamples), 3) : null,
    linkTcpLimitMBps: linkTcpSamples.length > 0 ? round(median(linkTcpSamples)) : null,
    linkUtilization: link ? round(throughputMBps / (link.rateBitsPerSec / 8 / 1e6), 3) : null,
    // Downtime against the link's round trip: the target is 2 x RTT + 5 ms.
    downtimeTargetForLinkMs: link ? round(2 * link.rttMs + 5, 2) : null,
    downtimeOverRtt: link && link.rttMs > 0 ? round(median(results.map((r) => r.downtimeMs)) / link.rttMs, 2) : null,
    perRun: results.map((r) => ({
      ...r,
      totalMs: round(r.totalMs),
      downtimeMs: round(r.downtimeMs),
      streamingMs: round(r.streamingMs),
      throughputMBps: round(r.throughputMBps),
      aesLimitMBps: round(r.aesLimitMBps),
      ratio: round(r.ratio, 3),
      bulkThroughputMBps: round(r.bulkThroughputMBps),
      cpuMsPerMB: round(r.cpuMsPerMB),
      cpuSplitMsPerMB: { main: round(r.cpuSplitMsPerMB.main), export: round(r.cpuSplitMsPerMB.export), import: round(r.cpuSplitMsPerMB.import) },
      blackout: { exportMs: round(r.blackout.exportMs), readyMs: round(r.blackout.readyMs), commitMs: round(r.blackout.commitMs), pages: r.blackout.pages },
    })),
  };
  if (json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }
  say("");
  say(`  downtime: median ${report.downtimeMs} ms, p99 ${report.downtimeMsP99} ms (target <= 25 ms median)`);
  say(`  stream payload rate: median ${report.throughputMBps} MB/s = ${report.ratio} x the AES-GCM limit ${report.aesGcmLimitMBps} MB/s (target >= 0.5)`);
  say(`  page codec: ${report.backend}; native AES-GCM limit ${report.nativeAesGcmLimitMBps ?? "n/a (addon not built)"} MB/s, ratio to it ${report.ratioToNativeLimit ?? "n/a"}; loopback TCP (one connection) ${report.loopbackTcpLimitMBps} MB/s`);
  say(`  AES-GCM limit: median of ${aesSamples.length} samples (before the runs, before each, after them), ${report.aesGcmLimitSamplesMBps.map((x) => x.toFixed(0)).join(" ")} MB/s; against the fastest (${report.aesGcmLimitMaxMBps}) the ratio is ${report.ratioToMaxLimit}`);
  say(`  blackout (median): ${report.blackoutMedianMs.pages} pages; pause → start token ${report.blackoutMedianMs.exportMs} ms, → READY ${report.blackoutMedianMs.readyMs} ms, → running ${report.blackoutMedianMs.commitMs} ms`);
  say(`  bulk copy (round 1 alone): median ${report.bulkThroughputMBps} MB/s = ${report.bulkRatio} x the limit`);
  say(`  total: median ${report.totalMs} ms, ${report.rounds} rounds, ${(report.bytesSent / MiB).toFixed(1)} MiB sent`);
  say(`  digests: ${report.digestMatch ? "every run's destination state equals the source's at pause" : "MISMATCH in at least one run"}`);
  say(`  memory: ${report.memory} (pre-touched and reused across runs unless --fresh-memory)`);
  say(`  CPU: ${report.cpuMsPerMB} ms per migrated MB (both sides) vs ${report.aesCpuMsPerMB} ms per raw AES-GCM MB; on ${cores} idle cores the ratio could reach ${report.cpuBoundRatio}`);
  say(`  CPU by thread (ms per MB): main loop ${report.cpuSplitMsPerMB.main}, export workers ${report.cpuSplitMsPerMB.export}, import workers ${report.cpuSplitMsPerMB.import}`);
  if (link) {
    say(`  link ${link.name}: configured ${link.rateBitsPerSec / 1e9} Gbit/s, RTT ${link.rttMs} ms (measured ${report.linkRttMsMeasured} ms, one connection ${report.linkTcpLimitMBps} MB/s); linkUtilization ${report.linkUtilization} (target >= 0.85); downtime ${report.downtimeMs} ms = ${report.downtimeOverRtt} x RTT (target <= ${report.downtimeTargetForLinkMs} ms)`);
  }
  if (report.destinationPeakRssMiB !== null) say(`  peak memory (RSS) of the destination's process: ${report.destinationPeakRssMiB} MiB`);
  say(`  peak memory (RSS) of this process: ${report.peakRssMiB} MiB (target <= 2 x TD + 512 = ${report.peakRssTargetMiB} MiB)`);
  say(`  machine load average (1 min) before/after: ${report.loadAverage1m.join(" / ")} on ${cores} cores`);
}

function cpuMs(from: NodeJS.CpuUsage, to: NodeJS.CpuUsage): number {
  return (to.user - from.user + to.system - from.system) / 1000;
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench-migrate failed: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}\n`);
  if (err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  for (let cause = (err as Error | undefined)?.cause; cause !== undefined; cause = (cause as Error).cause) {
    process.stderr.write(`  caused by: ${cause instanceof Error ? `${cause.name}: ${cause.message} ${JSON.stringify((cause as { details?: unknown }).details ?? {})}` : String(cause)}\n`);
  }
  process.exit(1);
});
