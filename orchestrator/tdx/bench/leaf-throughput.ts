/**
 * Throughput of the CPU model's memory leaves against raw AES-256-GCM on one core, in CPU time of this thread
 * (so that other load on the machine does not distort the ratio), plus the cost of a blackout's leaves.
 *
 *   npx tsx orchestrator/tdx/bench/leaf-throughput.ts [--memory-mib 64] [--pages-per-bundle 256] [--runs 3] [--json]
 *
 * Memory and bundle buffers are pre-touched and reused (fresh pages are slow on these machines); the first run is
 * reported separately as warm-up.
 */
import { createCipheriv, randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { memBundleSize, PAGE_SIZE, Platform, type TrustDomain } from "../index.js";

const { values } = parseArgs({
  options: {
    "memory-mib": { type: "string", default: "64" },
    "pages-per-bundle": { type: "string", default: "256" },
    runs: { type: "string", default: "3" },
    "dirty-pages": { type: "string", default: "2048" },
    json: { type: "boolean", default: false },
  },
});
const memoryMiB = Number(values["memory-mib"]);
const perBundle = Number(values["pages-per-bundle"]);
const runs = Number(values.runs);
const dirtyPages = Number(values["dirty-pages"]);
if (![memoryMiB, perBundle, runs, dirtyPages].every((v) => Number.isInteger(v) && v > 0) || perBundle > 512) {
  process.stderr.write("leaf-throughput: --memory-mib, --runs, --dirty-pages are positive integers, --pages-per-bundle 1..512\n");
  process.exit(2);
}

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const mbps = (bytes: number, ms: number): number => bytes / 1e6 / (ms / 1000);

/** Raw AES-256-GCM of 4 KiB pages, one cipher per page, TDX IV and 8-byte AAD, no I/O. */
function rawAesGcm(pages: number): number {
  const key = randomBytes(32);
  const pool = randomBytes(256 * PAGE_SIZE);
  const iv = Buffer.alloc(12);
  const aad = Buffer.alloc(8);
  const t = cpuMs();
  for (let i = 0; i < pages; i++) {
    iv.writeBigUInt64LE(BigInt(i + 1));
    aad.writeUInt32LE((i % 256) * PAGE_SIZE);
    const c = createCipheriv("aes-256-gcm", key, iv);
    c.setAAD(aad);
    c.update(pool.subarray((i % 256) * PAGE_SIZE, (i % 256 + 1) * PAGE_SIZE));
    c.final();
    c.getAuthTag();
  }
  return mbps(pages * PAGE_SIZE, cpuMs() - t);
}

const source = new Platform({ name: "bench-source" });
const destination = new Platform({ name: "bench-destination" });
const memoryBytes = memoryMiB * 1024 * 1024;
const td = source.createTd({ memoryBytes, numVcpus: 4 });
td.memory.set(randomBytes(Math.min(memoryBytes, 16 << 20)));
const destinationMemory = new SharedArrayBuffer(memoryBytes);
const bundles = Array.from({ length: Math.ceil(td.memoryPages / perBundle) }, () => Buffer.alloc(memBundleSize(perBundle), 1));
const key = randomBytes(32);
source.module.setMigrationKey(td, key, 1);
const s0 = source.module.streamCreate(td, 0).stream!;

interface RunFigures {
  rawMBps: number;
  exportMBps: number;
  importMBps: number;
  exportRatio: number;
  importRatio: number;
  blackoutLeavesMs: number;
  blackoutLeavesCpuMs: number;
}

function fail(what: string, status: bigint): never {
  throw new Error(`${what} failed: 0x${status.toString(16)}`);
}

function run(): RunFigures {
  const dtd: TrustDomain = destination.createImportTd({ memoryBytes, numVcpus: 4, memory: destinationMemory });
  destination.module.setMigrationKey(dtd, key, 1);
  const d0 = destination.module.streamCreate(dtd, 0).stream!;
  const imm = source.module.exportStateImmutable(td, s0);
  if (imm.status !== 0n) fail("TDH.EXPORT.STATE.IMMUTABLE", imm.status);
  const ir = destination.module.importStateImmutable(dtd, d0, imm.bundle!);
  if (ir.status !== 0n) fail("TDH.IMPORT.STATE.IMMUTABLE", ir.status);
  source.module.exportBlockwAll(td);

  const gpas = new Uint32Array(perBundle);
  const sealed: Buffer[] = [];
  let t = cpuMs();
  for (let p = 0, b = 0; p < td.memoryPages; p += perBundle, b++) {
    const n = Math.min(perBundle, td.memoryPages - p);
    for (let i = 0; i < n; i++) gpas[i] = (p + i) * PAGE_SIZE;
    const r = source.module.exportMem(td, s0, n === perBundle ? gpas : gpas.subarray(0, n), bundles[b]);
    if (r.status !== 0n) fail("TDH.EXPORT.MEM", r.status);
    sealed.push(r.bundle!);
  }
  const exportMs = cpuMs() - t;
  t = cpuMs();
  for (const b of sealed) {
    const r = destination.module.importMem(dtd, d0, b);
    if (r.status !== 0n) fail("TDH.IMPORT.MEM", r.status);
  }
  const importMs = cpuMs() - t;

  // The blackout's leaves with `dirtyPages` dirty pages: PAUSE, TRACK, BLOCKW, EXPORT.MEM, STATE.TD/VP, start
  // token on the source; the same imports, COMMIT and END on the destination (no transport).
  const dirty = Math.min(dirtyPages, td.memoryPages);
  for (let p = 0; p < dirty; p++) td.guestFill32(p * PAGE_SIZE, 64, p);
  t = performance.now();
  const tCpu = cpuMs();
  const out: Buffer[] = [];
  const push = (r: { status: bigint; bundle?: Buffer }, what: string): void => {
    if (r.status !== 0n) fail(what, r.status);
    if (r.bundle) out.push(r.bundle);
  };
  push(source.module.exportPause(td), "TDH.EXPORT.PAUSE");
  push(source.module.exportTrack(td, s0), "TDH.EXPORT.TRACK");
  const log = td.drainDirtyLog();
  source.module.exportBlockw(td, log);
  for (let i = 0, b = 0; i < log.length; i += perBundle, b++) push(source.module.exportMem(td, s0, log.subarray(i, i + perBundle), bundles[b]), "TDH.EXPORT.MEM");
  push(source.module.exportStateTd(td, s0), "TDH.EXPORT.STATE.TD");
  for (let vp = 0; vp < td.numVcpus; vp++) push(source.module.exportStateVp(td, s0, vp), "TDH.EXPORT.STATE.VP");
  push(source.module.exportTrack(td, s0, { start: true }), "TDH.EXPORT.TRACK(start)");
  for (const b of out) {
    const r = destination.module.importBundle(dtd, d0, b);
    if (r.status !== 0n) fail("import", r.status);
  }
  if (destination.module.importCommit(dtd).status !== 0n) fail("TDH.IMPORT.COMMIT", 1n);
  if (destination.module.importEnd(dtd).status !== 0n) fail("TDH.IMPORT.END", 1n);
  const blackoutLeavesMs = performance.now() - t;
  const blackoutLeavesCpuMs = cpuMs() - tCpu;

  // Back to a running source for the next run.
  const abortDst = destination.createImportTd({ memoryBytes, numVcpus: 4, memory: destinationMemory });
  destination.module.setMigrationKey(abortDst, key, 1);
  const a0 = destination.module.streamCreate(abortDst, 0).stream!;
  const abortToken = destination.module.importAbort(abortDst, a0).bundle!;
  const ab = source.module.exportAbort(td, s0, { abortToken });
  if (ab.status !== 0n) fail("TDH.EXPORT.ABORT", ab.status);
  source.module.exportRestore(td);

  const raw = rawAesGcm(16384);
  const bytes = td.memoryPages * PAGE_SIZE;
  const exportMBps = mbps(bytes, exportMs);
  const importMBps = mbps(bytes, importMs);
  return { rawMBps: raw, exportMBps, importMBps, exportRatio: exportMBps / raw, importRatio: importMBps / raw, blackoutLeavesMs, blackoutLeavesCpuMs };
}

const results = Array.from({ length: runs + 1 }, run);
const [warmup, ...measured] = results;
const med = (f: (r: RunFigures) => number): number => {
  const v = measured.map(f).sort((a, b) => a - b);
  return v[Math.floor(v.length / 2)]!;
};
const summary = {
  memoryMiB,
  pagesPerBundle: perBundle,
  runs,
  dirtyPagesInBlackout: Math.min(dirtyPages, td.memoryPages),
  rawAesGcmMBps: +med((r) => r.rawMBps).toFixed(1),
  exportMemMBps: +med((r) => r.exportMBps).toFixed(1),
  importMemMBps: +med((r) => r.importMBps).toFixed(1),
  exportRatio: +med((r) => r.exportRatio).toFixed(3),
  importRatio: +med((r) => r.importRatio).toFixed(3),
  blackoutLeavesMs: +med((r) => r.blackoutLeavesMs).toFixed(2),
  blackoutLeavesCpuMs: +med((r) => r.blackoutLeavesCpuMs).toFixed(2),
  warmup: warmup,
};
if (values.json) {
  process.stdout.write(JSON.stringify(summary) + "\n");
} else {
  process.stdout.write(
    [
      `TDX memory leaves, ${memoryMiB} MiB TD, ${perBundle} pages per bundle, median of ${runs} runs (CPU time of one thread)`,
      `  raw AES-256-GCM, one cipher per 4 KiB page   ${summary.rawAesGcmMBps} MB/s`,
      `  TDH.EXPORT.MEM                               ${summary.exportMemMBps} MB/s  (${summary.exportRatio} of raw)`,
      `  TDH.IMPORT.MEM                               ${summary.importMemMBps} MB/s  (${summary.importRatio} of raw)`,
      `  blackout leaves, ${summary.dirtyPagesInBlackout} dirty pages, both sides, no transport: ${summary.blackoutLeavesMs} ms wall, ${summary.blackoutLeavesCpuMs} ms CPU`,
      "",
    ].join("\n"),
  );
}
