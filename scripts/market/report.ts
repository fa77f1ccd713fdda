/** The market benchmark's summary over runs and its targets: medians per configuration, growth from the smallest N to the largest. */
import type { MarketRunResult } from "./market-run.js";

export const TARGETS = {
  /** Time beyond the auction windows at the largest N over the smallest. */
  beyondWindowsGrowthMax: 1.5,
  /** RPC requests per auction at the largest N over the smallest, divided by the ratio of the N's. */
  rpcGrowthOverLinearMax: 1,
};

export function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface ConfigSummary {
  destinations: number;
  concurrent: number;
  runs: number;
  ok: boolean;
  /** TDs offered again after their first migration aborted, over all runs. */
  followUps: number;
  toAllocatedMs: number;
  toCommittedMs: number;
  windowsRanMs: number;
  beyondWindowsToAllocatedMs: number;
  beyondWindowsToCommittedMs: number;
  sourceCpuMsToCommitted: number;
  sourceCpuPerAcknowledgerMs: number;
  clusterIdleCores: number;
  clusterMigratingCores: number;
  rpcPerAuction: number;
  rpcBeyondIdlePerAuction: number;
  rpcIdlePerSec: number;
  getLogsBlocksPerAuction: number;
  gasPerAuction: number;
}

/** Medians over the runs of one configuration. */
export function summarize(runs: MarketRunResult[]): ConfigSummary {
  const m = (f: (r: MarketRunResult) => number) => median(runs.map(f));
  return {
    destinations: runs[0]!.destinations,
    concurrent: runs[0]!.concurrent,
    runs: runs.length,
    ok: runs.every((r) => r.ok),
    followUps: runs.reduce((n, r) => n + r.followUps, 0),
    toAllocatedMs: m((r) => r.toAllocatedMs),
    toCommittedMs: m((r) => r.toCommittedMs),
    windowsRanMs: m((r) => r.windowsRanMs),
    beyondWindowsToAllocatedMs: m((r) => r.beyondWindowsToAllocatedMs),
    beyondWindowsToCommittedMs: m((r) => r.beyondWindowsToCommittedMs),
    sourceCpuMsToCommitted: m((r) => r.sourceCpuMs.toCommitted),
    sourceCpuPerAcknowledgerMs: m((r) => r.sourceCpuPerAcknowledgerMs),
    clusterIdleCores: m((r) => r.clusterCpuCores.idle),
    clusterMigratingCores: m((r) => r.clusterCpuCores.migrating),
    rpcPerAuction: m((r) => r.rpc.perAuction),
    rpcBeyondIdlePerAuction: m((r) => r.rpc.beyondIdlePerAuction),
    rpcIdlePerSec: m((r) => r.rpc.idlePerSec),
    getLogsBlocksPerAuction: m((r) => r.rpc.getLogsBlocksPerAuction),
    gasPerAuction: m((r) => r.gas.perAuction),
  };
}

export interface Growth {
  fromDestinations: number;
  toDestinations: number;
  /** beyond-windows time (to Allocated, to Committed) at the largest N over the smallest; target <= 1.5 */
  beyondWindowsToAllocated: number;
  beyondWindowsToCommitted: number;
  /** RPC requests per auction at the largest N over the smallest, over (largest N / smallest N); target <= 1 */
  rpcPerAuctionOverLinear: number;
  /** The same for the requests beyond the idle rate (what the auctions themselves add). */
  rpcBeyondIdleOverLinear: number;
  meetsTimeTarget: boolean;
  meetsRpcTarget: boolean;
}

/** Growth from the smallest to the largest N of a sweep (undefined with fewer than two N). */
export function growth(configs: ConfigSummary[]): Growth | undefined {
  if (configs.length < 2) return undefined;
  const sorted = [...configs].sort((a, b) => a.destinations - b.destinations);
  const lo = sorted[0]!;
  const hi = sorted.at(-1)!;
  const nRatio = hi.destinations / lo.destinations;
  const g: Growth = {
    fromDestinations: lo.destinations,
    toDestinations: hi.destinations,
    beyondWindowsToAllocated: hi.beyondWindowsToAllocatedMs / lo.beyondWindowsToAllocatedMs,
    beyondWindowsToCommitted: hi.beyondWindowsToCommittedMs / lo.beyondWindowsToCommittedMs,
    rpcPerAuctionOverLinear: hi.rpcPerAuction / lo.rpcPerAuction / nRatio,
    rpcBeyondIdleOverLinear: hi.rpcBeyondIdlePerAuction / lo.rpcBeyondIdlePerAuction / nRatio,
    meetsTimeTarget: false,
    meetsRpcTarget: false,
  };
  g.meetsTimeTarget = g.beyondWindowsToAllocated <= TARGETS.beyondWindowsGrowthMax && g.beyondWindowsToCommitted <= TARGETS.beyondWindowsGrowthMax;
  g.meetsRpcTarget = g.rpcPerAuctionOverLinear <= TARGETS.rpcGrowthOverLinearMax;
  return g;
}

const pad = (s: string, n: number) => s.padStart(n);
const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : "-");
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "-");
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "-");

/** The human report: one row per configuration, then the targets against the figures. */
export function table(configs: ConfigSummary[], g: Growth | undefined, windows: { commit: number; reveal: number }): string {
  const head = ["N", "conc", "runs", "ok", "re-offered", "→Alloc ms", "→Commit ms", "windows ran ms", "beyond win →Alloc", "→Commit", "src CPU ms", "CPU/ack ms", "cluster cores idle", "migrating", "RPC/auction", "beyond idle", "idle RPC/s", "getLogs blocks/auction", "gas/auction"];
  const widths = head.map((h) => Math.max(h.length, 6));
  const rows = configs.map((c) => [
    String(c.destinations),
    String(c.concurrent),
    String(c.runs),
    c.ok ? "yes" : "NO",
    String(c.followUps),
    f0(c.toAllocatedMs),
    f0(c.toCommittedMs),
    f0(c.windowsRanMs),
    f0(c.beyondWindowsToAllocatedMs),
    f0(c.beyondWindowsToCommittedMs),
    f0(c.sourceCpuMsToCommitted),
    f1(c.sourceCpuPerAcknowledgerMs),
    f2(c.clusterIdleCores),
    f2(c.clusterMigratingCores),
    f0(c.rpcPerAuction),
    f0(c.rpcBeyondIdlePerAuction),
    f1(c.rpcIdlePerSec),
    f0(c.getLogsBlocksPerAuction),
    f0(c.gasPerAuction),
  ]);
  const line = (cells: string[]) => cells.map((c, i) => pad(c, widths[i]!)).join("  ");
  const out = [`auction windows (configuration): commit ${windows.commit} s + reveal ${windows.reveal} s of chain time; subtracted as they ran in wall time (\"windows ran\": opening → first block past the reveal deadline)`, line(head), ...rows.map(line)];
  if (g) {
    out.push(
      "",
      `targets, N=${g.fromDestinations} → N=${g.toDestinations}:`,
      `  time beyond the auction windows grows ≤ ${TARGETS.beyondWindowsGrowthMax}x: to Allocated ${g.beyondWindowsToAllocated.toFixed(2)}x, to Committed ${g.beyondWindowsToCommitted.toFixed(2)}x — ${g.meetsTimeTarget ? "met" : "NOT met"}`,
      `  RPC requests per auction grow at most linearly: (requests/auction at N=${g.toDestinations} ÷ at N=${g.fromDestinations}) ÷ (${g.toDestinations}/${g.fromDestinations}) = ${g.rpcPerAuctionOverLinear.toFixed(2)} (beyond the idle rate: ${g.rpcBeyondIdleOverLinear.toFixed(2)}) — ${g.meetsRpcTarget ? "met" : "NOT met"} (target ≤ ${TARGETS.rpcGrowthOverLinearMax})`,
    );
  }
  return out.join("\n");
}
