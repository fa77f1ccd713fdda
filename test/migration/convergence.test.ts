import { expect } from "chai";
import { decideConvergence, estimateDowntimeMs } from "../../orchestrator/migration/convergence.js";
import type { ConvergenceDecision, ConvergenceInput, ConvergencePolicy } from "../../orchestrator/migration/convergence.js";

const MiB = 1024 * 1024;
const policy: ConvergencePolicy = { downtimeTargetMs: 25, maxRounds: 10, timeoutMs: 5000, onLimit: "switchover" };

describe("convergence decision", () => {
  const table: Array<{ name: string; input: ConvergenceInput; policy?: ConvergencePolicy; expected: Partial<ConvergenceDecision> }> = [
    {
      name: "switches over when pending bytes fit bandwidth x downtime target",
      input: { round: 2, pendingBytes: 1 * MiB, bandwidthBytesPerSec: 100 * MiB, elapsedMs: 100 },
      expected: { action: "switchover", reason: "converged" },
    },
    {
      name: "continues when the estimate exceeds the target",
      input: { round: 2, pendingBytes: 10 * MiB, bandwidthBytesPerSec: 100 * MiB, elapsedMs: 100 },
      expected: { action: "continue" },
    },
    {
      name: "counts the fixed blackout cost against the target",
      input: { round: 2, pendingBytes: 2 * MiB, bandwidthBytesPerSec: 100 * MiB, elapsedMs: 100, fixedBlackoutMs: 10 },
      expected: { action: "continue" },
    },
    {
      name: "switches over when the fixed cost alone exceeds the target and the pending memory fits it",
      input: { round: 3, pendingBytes: 1 * MiB, bandwidthBytesPerSec: 100 * MiB, elapsedMs: 100, fixedBlackoutMs: 40 },
      expected: { action: "switchover", reason: "fixed-cost-bound" },
    },
    {
      name: "continues past a fixed cost above the target while the pending memory alone exceeds the target",
      input: { round: 3, pendingBytes: 5 * MiB, bandwidthBytesPerSec: 100 * MiB, elapsedMs: 100, fixedBlackoutMs: 40 },
      expected: { action: "continue" },
    },
    {
      name: "switches over at once when nothing is pending",
      input: { round: 1, pendingBytes: 0, bandwidthBytesPerSec: 0, elapsedMs: 1 },
      expected: { action: "switchover", reason: "nothing-pending" },
    },
    {
      name: "continues without a bandwidth measurement",
      input: { round: 1, pendingBytes: 4096, bandwidthBytesPerSec: 0, elapsedMs: 1 },
      expected: { action: "continue" },
    },
    {
      name: "switches over at the round limit with the switchover strategy",
      input: { round: 10, pendingBytes: 50 * MiB, bandwidthBytesPerSec: 100 * MiB, elapsedMs: 100 },
      expected: { action: "switchover", reason: "round-limit" },
    },
    {
      name: "aborts at the round limit with the abort strategy",
      input: { round: 10, pendingBytes: 50 * MiB, bandwidthBytesPerSec: 100 * MiB, elapsedMs: 100 },
      policy: { ...policy, onLimit: "abort" },
      expected: { action: "abort", reason: "round-limit" },
    },
    {
      name: "applies the strategy at the timeout",
      input: { round: 3, pendingBytes: 50 * MiB, bandwidthBytesPerSec: 100 * MiB, elapsedMs: 5000 },
      policy: { ...policy, onLimit: "abort" },
      expected: { action: "abort", reason: "timeout" },
    },
    {
      name: "prefers converging over a limit reached in the same round",
      input: { round: 10, pendingBytes: 4096, bandwidthBytesPerSec: 100 * MiB, elapsedMs: 9000 },
      policy: { ...policy, onLimit: "abort" },
      expected: { action: "switchover", reason: "converged" },
    },
  ];
  for (const row of table) {
    it(row.name, () => {
      const decision = decideConvergence(row.input, row.policy ?? policy);
      expect(decision).to.include(row.expected);
    });
  }

  it("estimates downtime as pending / bandwidth plus the fixed cost", () => {
    expect(estimateDowntimeMs(10 * MiB, 100 * MiB)).to.equal(100);
    expect(estimateDowntimeMs(10 * MiB, 100 * MiB, 5)).to.equal(105);
    expect(estimateDowntimeMs(0, 0, 3)).to.equal(3);
    expect(estimateDowntimeMs(1, 0)).to.equal(Number.POSITIVE_INFINITY);
  });
});

describe("measurement helpers", () => {
  it("computes nearest-rank percentiles and the median", async () => {
    const { median, percentile } = await import("../../orchestrator/migration/metrics.js");
    const values = [5, 1, 4, 2, 3, 10, 7, 6, 9, 8];
    expect(median(values)).to.equal(5.5);
    expect(median([3, 1, 2])).to.equal(2);
    expect(percentile(values, 99)).to.equal(10);
    expect(percentile(values, 50)).to.equal(5);
    expect(percentile(values, 0)).to.equal(1);
    expect(Number.isNaN(median([]))).to.equal(true);
  });
});
