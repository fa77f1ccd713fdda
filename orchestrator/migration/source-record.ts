/**
 * The record of a committed source session (`CompletedMigration`): a pure function of what the session measured and
 * of the destination's COMMITTED, so that the session keeps only its steps and the record's arithmetic (totals,
 * the blackout's parts, the digest comparison) has one home.
 */
import type { CommittedMessage } from "./control-messages.js";
import type { ConvergenceDecision } from "./convergence.js";
import type { CompletedMigration, RoundRecord } from "./source-options.js";

/** What a source session measured on its way to COMMITTED; instants are wall-clock ms (`wallClockMs`). */
export interface SourceMeasurements {
  migrationId: string;
  streams: number;
  migrationVersion: number;
  /** Pre-copy rounds run, their log, and the decision that ended the last (undefined when none was made). */
  rounds: number;
  roundLog: RoundRecord[];
  finalDecision: ConvergenceDecision | undefined;
  throttlePercent: number;
  pagesSent: number;
  bytesSent: number;
  streamingMs: number;
  startedAt: number;
  pausedAt: number;
  startTokenAt: number;
  readyAt: number;
  /** Pages exported during the blackout. */
  blackoutPages: number;
  /** SHA-384 (hex) of the source TD's state at pause ("" when not computed). */
  sourceDigest: string;
}

/**
 * The record of the migration `m` measured, committed as `committed` says (the time the TD ran on the destination,
 * and its digest there); `recovered` when the commit was learned through a recovery connection after a cut. The
 * digests are compared only when both sides computed one.
 */
export function completedMigration(m: SourceMeasurements, committed: CommittedMessage, recovered: boolean): CompletedMigration {
  const decision = m.finalDecision;
  return {
    migrationId: m.migrationId,
    streams: m.streams,
    migrationVersion: m.migrationVersion,
    rounds: m.rounds,
    roundLog: m.roundLog,
    convergence: { reason: decision?.action === "switchover" ? decision.reason : "unknown", estimatedDowntimeMs: decision?.estimatedDowntimeMs ?? Number.NaN },
    pagesSent: m.pagesSent,
    bytesSent: m.bytesSent,
    streamingMs: m.streamingMs,
    totalMs: committed.runningAt - m.startedAt,
    downtimeMs: committed.runningAt - m.pausedAt,
    blackout: {
      exportMs: m.startTokenAt - m.pausedAt,
      readyMs: m.readyAt - m.startTokenAt,
      commitMs: committed.runningAt - m.readyAt,
      pages: m.blackoutPages,
    },
    startedAt: m.startedAt,
    pausedAt: m.pausedAt,
    runningAt: committed.runningAt,
    throttlePercent: m.throttlePercent,
    sourceDigest: m.sourceDigest,
    destinationDigest: committed.digest,
    digestMatch: m.sourceDigest && committed.digest ? m.sourceDigest === committed.digest : undefined,
    recovered,
  };
}
