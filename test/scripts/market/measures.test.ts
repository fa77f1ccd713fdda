import { expect } from "chai";
import { wallTimeWhenChainReached } from "../../../scripts/market/block-observer.js";
import { parseLogRecords, timeOf } from "../../../scripts/market/log-records.js";
import { parseProcStat, processCpuMs } from "../../../scripts/market/process-cpu.js";
import { growth, median, type ConfigSummary } from "../../../scripts/market/report.js";

describe("bench:market's measures", () => {
  it("reads utime and stime from /proc/<pid>/stat, a command name with spaces and parentheses included", () => {
    const line = "4242 (node (tvmx) x) S 1 4242 4242 0 -1 4194304 5000 0 0 0 1234 567 0 0 20 0 11 0 100 1000000 2000 18446744073709551615";
    expect(parseProcStat(line)).to.deep.equal({ utimeTicks: 1234, stimeTicks: 567 });
    expect(() => parseProcStat("garbage")).to.throw(/not a \/proc/);
  });

  it("measures this process's own CPU time, which grows with work", () => {
    const before = processCpuMs(process.pid);
    // busy until the kernel has charged at least one clock tick (bounded: a starved machine still ends the loop)
    const until = Date.now() + 3_000;
    let x = 0;
    do for (let i = 0; i < 100_000; i++) x += Math.sqrt(i);
    while (processCpuMs(process.pid) === before && Date.now() < until);
    expect(x).to.be.greaterThan(0);
    expect(processCpuMs(process.pid)).to.be.greaterThan(before);
  });

  it("finds when the chain's time reached an instant from the blocks seen", () => {
    const seen = [
      { number: 10, timestamp: 100, seenAtMs: 5_000 },
      { number: 11, timestamp: 101, seenAtMs: 6_000 },
      { number: 12, timestamp: 103, seenAtMs: 7_000 },
    ];
    expect(wallTimeWhenChainReached(seen, 101)).to.equal(6_000);
    expect(wallTimeWhenChainReached(seen, 102)).to.equal(7_000);
    expect(wallTimeWhenChainReached(seen, 104)).to.equal(undefined);
  });

  it("takes step times from a host's JSON log lines, skipping other lines", () => {
    const records = parseLogRecords('not json\n{"time":"2026-12-03T10:00:00.250Z","msg":"auction opened","migrationId":"0x1"}\n{"torn');
    expect(records).to.have.length(1);
    expect(timeOf(records[0])).to.equal(Date.parse("2026-12-03T10:00:00.250Z"));
    expect(timeOf(undefined)).to.equal(undefined);
  });

  it("takes medians (ignoring missing figures) and judges growth against the targets", () => {
    expect(median([3, 1, 2])).to.equal(2);
    expect(median([4, 1, Number.NaN, 2, 3])).to.equal(2.5);
    const config = (n: number, beyond: number, rpc: number): ConfigSummary => ({
      destinations: n,
      concurrent: 1,
      runs: 1,
      ok: true,
      followUps: 0,
      toAllocatedMs: 0,
      toCommittedMs: 0,
      windowsRanMs: 0,
      beyondWindowsToAllocatedMs: beyond,
      beyondWindowsToCommittedMs: beyond,
      sourceCpuMsToCommitted: 0,
      sourceCpuPerAcknowledgerMs: 0,
      clusterIdleCores: 0,
      clusterMigratingCores: 0,
      rpcPerAuction: rpc,
      rpcBeyondIdlePerAuction: rpc,
      rpcIdlePerSec: 0,
      getLogsBlocksPerAuction: 0,
      gasPerAuction: 0,
    });
    const fine = growth([config(12, 1400, 600), config(2, 1000, 300)])!;
    expect(fine.fromDestinations).to.equal(2);
    expect(Math.abs(fine.beyondWindowsToAllocated - 1.4)).to.be.lessThan(1e-9);
    expect(Math.abs(fine.rpcPerAuctionOverLinear - 2 / 6)).to.be.lessThan(1e-9);
    expect(fine.meetsTimeTarget && fine.meetsRpcTarget).to.equal(true);
    const slow = growth([config(2, 1000, 100), config(12, 1600, 700)])!;
    expect(slow.meetsTimeTarget).to.equal(false);
    expect(slow.meetsRpcTarget).to.equal(false);
    expect(growth([config(2, 1, 1)])).to.equal(undefined);
  });
});
