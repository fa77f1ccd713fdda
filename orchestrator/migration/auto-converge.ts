/**
 * Auto-converge, as QEMU does it (migration/ram.c, `mig_throttle_guest_down`): when the guest dirtied more than
 * `triggerThresholdPercent` of what the stream sent in a round, twice in a row, slow the guest down: first to
 * `initialPercent`, then by `incrementPercent` more per trigger, up to `maxPercent`. A pure function; the session
 * applies the resulting throttle to the guest workload.
 */

export interface AutoConvergePolicy {
  enabled: boolean;
  /** QEMU cpu-throttle-initial (20). */
  initialPercent: number;
  /** QEMU cpu-throttle-increment (10). */
  incrementPercent: number;
  /** QEMU max-cpu-throttle (99). */
  maxPercent: number;
  /** QEMU throttle-trigger-threshold (50): dirtied bytes as a percentage of sent bytes. */
  triggerThresholdPercent: number;
}

export const DEFAULT_AUTO_CONVERGE_POLICY: Readonly<AutoConvergePolicy> = Object.freeze({
  enabled: true,
  initialPercent: 20,
  incrementPercent: 10,
  maxPercent: 99,
  triggerThresholdPercent: 50,
});

export interface AutoConvergeState {
  /** Percentage of guest time taken away (0 = full speed). */
  throttlePercent: number;
  /** Consecutive rounds in which the guest dirtied above the threshold. */
  highDirtyRounds: number;
}

export const INITIAL_AUTO_CONVERGE_STATE: Readonly<AutoConvergeState> = Object.freeze({ throttlePercent: 0, highDirtyRounds: 0 });

export interface RoundRates {
  /** Bytes the guest dirtied during the round. */
  dirtiedBytes: number;
  /** Bytes the stream sent during the round. */
  sentBytes: number;
}

export function nextAutoConverge(state: AutoConvergeState, round: RoundRates, policy: AutoConvergePolicy): AutoConvergeState {
  if (!policy.enabled) return state;
  const threshold = (round.sentBytes * policy.triggerThresholdPercent) / 100;
  if (round.dirtiedBytes <= threshold) return { ...state, highDirtyRounds: 0 };
  const highDirtyRounds = state.highDirtyRounds + 1;
  if (highDirtyRounds < 2) return { ...state, highDirtyRounds };
  const throttlePercent =
    state.throttlePercent === 0
      ? policy.initialPercent
      : Math.min(policy.maxPercent, state.throttlePercent + policy.incrementPercent);
  return { throttlePercent, highDirtyRounds: 0 };
}

/** The fraction of its nominal rate the guest may still run at (1 = full speed). */
export function guestSpeedFactor(state: AutoConvergeState): number {
  return (100 - state.throttlePercent) / 100;
}
