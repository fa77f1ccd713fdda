/**
 * The pre-copy's bookkeeping of rounds: what each round sent and how long it took, the bandwidth estimate, the
 * auto-converge state (and the guest's throttle it sets), and the convergence decision taken after each round.
 */
import type { GuestWorkload } from "../tdx/index.js";
import { PAGE_SIZE } from "../tdx/index.js";
import { guestSpeedFactor, INITIAL_AUTO_CONVERGE_STATE, nextAutoConverge } from "./auto-converge.js";
import type { AutoConvergePolicy, AutoConvergeState } from "./auto-converge.js";
import { decideConvergence } from "./convergence.js";
import type { ConvergenceDecision, ConvergencePolicy } from "./convergence.js";
import type { RoundRecord } from "./source-options.js";

const MIB = 1024 * 1024;

export interface RoundMeasurement {
  round: number;
  pages: number;
  /** Bytes of frames the round sent (its epoch token included). */
  bytes: number;
  ms: number;
  /**
   * The latest end-to-end rate sample: bytes of an earlier round over the time from its start to its epoch
   * acknowledgement (undefined before the first acknowledgement).
   */
  delivered: { bytes: number; ms: number } | undefined;
  /** Pages the guest dirtied during the round. */
  dirtyPages: number;
  /** Shortest epoch round trip seen so far, ms (Infinity before the first). */
  minAckMs: number;
  /** Time spent in pre-copy so far, ms. */
  elapsedMs: number;
}

export class PrecopyRounds {
  readonly #policy: ConvergencePolicy;
  readonly #autoPolicy: AutoConvergePolicy;
  readonly #workload: GuestWorkload | undefined;
  readonly log: RoundRecord[] = [];
  #auto: AutoConvergeState = INITIAL_AUTO_CONVERGE_STATE;
  #bandwidth = 0;
  #pendingBytes = 0;
  #decision: ConvergenceDecision | undefined;

  constructor(policy: ConvergencePolicy, autoPolicy: AutoConvergePolicy, workload: GuestWorkload | undefined) {
    this.#policy = policy;
    this.#autoPolicy = autoPolicy;
    this.#workload = workload;
  }

  /** Dirty bytes still to send after the last round. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  get throttlePercent(): number {
    return this.#auto.throttlePercent;
  }

  /** The decision that ended pre-copy (undefined while it goes on). */
  get finalDecision(): ConvergenceDecision | undefined {
    return this.#decision;
  }

  /** Records a round, throttles the guest as auto-converge says, and decides whether to go on. */
  record(m: RoundMeasurement): ConvergenceDecision {
    if (m.delivered) {
      const measured = m.delivered.ms > 0 ? (m.delivered.bytes * 1000) / m.delivered.ms : 0;
      // A small round measures its fixed costs more than the link: keep the estimate of the last large round.
      if (m.delivered.bytes >= MIB || this.#bandwidth === 0) this.#bandwidth = measured;
    }
    this.#pendingBytes = m.dirtyPages * PAGE_SIZE;
    this.#auto = nextAutoConverge(this.#auto, { dirtiedBytes: this.#pendingBytes, sentBytes: m.bytes }, this.#autoPolicy);
    if (this.#workload) this.#workload.throttle = guestSpeedFactor(this.#auto);
    this.log.push({ round: m.round, pages: m.pages, bytes: m.bytes, ms: m.ms, dirtyPagesAfter: m.dirtyPages, bandwidthBytesPerSec: this.#bandwidth, throttlePercent: this.#auto.throttlePercent });
    const decision = this.#decide(m.round, this.#pendingBytes, m.minAckMs, m.elapsedMs);
    if (decision.action !== "continue") this.#decision = decision;
    return decision;
  }

  /**
   * The decision again after the wait for the acknowledgements still in flight, with the pages dirtied meanwhile: a
   * switch-over that no longer holds becomes "continue" (one more round).
   */
  recheck(dirtyPages: number, round: number, minAckMs: number, elapsedMs: number): ConvergenceDecision {
    this.#pendingBytes = dirtyPages * PAGE_SIZE;
    const decision = this.#decide(round, this.#pendingBytes, minAckMs, elapsedMs);
    this.#decision = decision.action === "continue" ? undefined : decision;
    return decision;
  }

  #decide(round: number, pendingBytes: number, minAckMs: number, elapsedMs: number): ConvergenceDecision {
    return decideConvergence(
      {
        round,
        pendingBytes,
        // The blackout seals the last pages and the destination opens them one bundle after the other, without
        // the pre-copy's pipelining of both sides: count on half the pre-copy rate.
        bandwidthBytesPerSec: this.#bandwidth / 2,
        elapsedMs,
        // The start token there and READY back (one token round trip, its import included), then COMMIT there: the
        // TD runs at the destination's commit, one and a half round trips after the pause (on a long link the
        // measured blackout is 1.5-1.7 RTT; two RTT made the estimate miss targets near 2 x RTT).
        fixedBlackoutMs: Number.isFinite(minAckMs) ? 1.5 * minAckMs : 0,
      },
      this.#policy,
    );
  }
}
