/**
 * When to stop pre-copy and switch over: a pure function of what the last round measured.
 *
 * As QEMU does, the switch-over happens once the bytes still dirty can be sent within the downtime target at the
 * bandwidth the stream achieved: `pendingBytes <= bandwidth x downtimeTarget` (here with the fixed blackout cost,
 * the TD and vCPU state and the commit round trips, subtracted from the target). Past the round limit or the
 * timeout, a strategy decides: switch over anyway (a longer blackout) or abort (the TD stays on the source). When the
 * fixed cost alone exceeds the target (a link whose round trips are longer than the target), the switch-over happens
 * as soon as the memory part fits the target ("fixed-cost-bound"): rounds cannot shorten round trips.
 */

export type ConvergenceLimitStrategy = "switchover" | "abort";

export interface ConvergencePolicy {
  /** Target blackout, ms (QEMU's downtime-limit defaults to 300 ms). */
  downtimeTargetMs: number;
  /** Pre-copy rounds after which the strategy applies (round 1 is the full copy). */
  maxRounds: number;
  /** Pre-copy time after which the strategy applies, ms. */
  timeoutMs: number;
  onLimit: ConvergenceLimitStrategy;
}

export const DEFAULT_CONVERGENCE_POLICY: Readonly<ConvergencePolicy> = Object.freeze({
  downtimeTargetMs: 300,
  maxRounds: 30,
  timeoutMs: 60_000,
  onLimit: "switchover",
});

export interface ConvergenceInput {
  /** Rounds completed so far (>= 1). */
  round: number;
  /** Bytes of dirty memory that would have to be sent during the blackout. */
  pendingBytes: number;
  /** Stream payload rate measured over the last round, bytes/s (0 when nothing could be measured). */
  bandwidthBytesPerSec: number;
  /** Time spent in pre-copy so far, ms. */
  elapsedMs: number;
  /** Blackout time that does not depend on memory (state bundles, commit round trips), ms. */
  fixedBlackoutMs?: number;
}

export type ConvergenceReason = "converged" | "nothing-pending" | "fixed-cost-bound" | "round-limit" | "timeout";

export type ConvergenceDecision =
  | { action: "continue"; estimatedDowntimeMs: number }
  | { action: "switchover"; reason: ConvergenceReason; estimatedDowntimeMs: number }
  | { action: "abort"; reason: "round-limit" | "timeout"; estimatedDowntimeMs: number };

/** Estimated blackout for sending `pendingBytes` at `bandwidth`, ms (Infinity without a bandwidth measurement). */
export function estimateDowntimeMs(pendingBytes: number, bandwidthBytesPerSec: number, fixedBlackoutMs = 0): number {
  if (pendingBytes <= 0) return fixedBlackoutMs;
  if (!(bandwidthBytesPerSec > 0)) return Number.POSITIVE_INFINITY;
  return fixedBlackoutMs + (pendingBytes / bandwidthBytesPerSec) * 1000;
}

export function decideConvergence(input: ConvergenceInput, policy: ConvergencePolicy): ConvergenceDecision {
  const estimatedDowntimeMs = estimateDowntimeMs(input.pendingBytes, input.bandwidthBytesPerSec, input.fixedBlackoutMs);
  if (input.pendingBytes <= 0) return { action: "switchover", reason: "nothing-pending", estimatedDowntimeMs };
  if (estimatedDowntimeMs <= policy.downtimeTargetMs) return { action: "switchover", reason: "converged", estimatedDowntimeMs };
  // Over a long link the fixed cost (round trips) alone can exceed the target, and no pre-copy round shrinks it: once
  // the part the rounds do shrink (the pending memory) fits the target, more rounds only cost more round trips.
  const fixedMs = input.fixedBlackoutMs ?? 0;
  if (fixedMs >= policy.downtimeTargetMs && estimatedDowntimeMs - fixedMs <= policy.downtimeTargetMs) {
    return { action: "switchover", reason: "fixed-cost-bound", estimatedDowntimeMs };
  }
  const limit: "round-limit" | "timeout" | undefined =
    input.round >= policy.maxRounds ? "round-limit" : input.elapsedMs >= policy.timeoutMs ? "timeout" : undefined;
  if (limit === undefined) return { action: "continue", estimatedDowntimeMs };
  return policy.onLimit === "abort"
    ? { action: "abort", reason: limit, estimatedDowntimeMs }
    : { action: "switchover", reason: limit, estimatedDowntimeMs };
}
