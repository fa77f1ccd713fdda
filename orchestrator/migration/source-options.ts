/**
 * The source session's options (`migrateOut`), the records it reports, and the options resolved once: every default
 * filled in and every bound checked in one place, before the pipeline starts.
 */
import { randomBytes } from "node:crypto";
import type { Logger } from "../log/index.js";
import { nullLogger } from "../log/index.js";
import type { GuestWorkload, TdxModule, TrustDomain } from "../tdx/index.js";
import { DEFAULT_AUTO_CONVERGE_POLICY } from "./auto-converge.js";
import type { AutoConvergePolicy } from "./auto-converge.js";
import type { PeerAddress } from "./connect.js";
import { DEFAULT_CONVERGENCE_POLICY } from "./convergence.js";
import type { ConvergencePolicy } from "./convergence.js";
import { InvalidArgumentError } from "./errors.js";
import type { SourceState } from "./session-state.js";
import type { WorkerPool } from "./worker-pool.js";

export type MigrationPhase = SourceState["phase"];

export interface MigrationProgress {
  migrationId: string;
  phase: MigrationPhase;
  round: number;
  /** Dirty bytes still to send (after the last round). */
  pendingBytes: number;
  /** Bytes of frames sent so far on all streams. */
  bytesSent: number;
  /** Total memory of the TD, for a progress bar's scale. */
  memoryBytes: number;
  throttlePercent: number;
  elapsedMs: number;
}

export interface RoundRecord {
  round: number;
  pages: number;
  bytes: number;
  ms: number;
  /** Pages the guest dirtied during the round (to send in the next one). */
  dirtyPagesAfter: number;
  bandwidthBytesPerSec: number;
  throttlePercent: number;
}

/** The record of a committed migration (`finalize()`). */
export interface CompletedMigration {
  migrationId: string;
  streams: number;
  migrationVersion: number;
  rounds: number;
  roundLog: RoundRecord[];
  /** Why pre-copy ended. */
  convergence: { reason: string; estimatedDowntimeMs: number };
  pagesSent: number;
  /** Bytes of frames sent on all streams (bundles, tokens, control). */
  bytesSent: number;
  /** Time spent streaming (pre-copy rounds and the blackout's sends), ms: bytesSent / streamingMs is the stream rate. */
  streamingMs: number;
  /** From the start of `migrateOut` to the TD running on the destination, ms. */
  totalMs: number;
  /** From TDH.EXPORT.PAUSE on the source to the TD running on the destination, ms. */
  downtimeMs: number;
  /** Where the blackout went, ms: pause → start token sent (last pages, TD/vCPU state), → READY, → running. */
  blackout: { exportMs: number; readyMs: number; commitMs: number; pages: number };
  startedAt: number;
  pausedAt: number;
  runningAt: number;
  throttlePercent: number;
  /** SHA-384 (hex) of the source TD's state at pause, and the destination's after commit ("" when not computed). */
  sourceDigest: string;
  destinationDigest: string;
  digestMatch: boolean | undefined;
  /** True when the commit was learned through a recovery connection after a cut. */
  recovered: boolean;
}

export interface MigrateOutOptions {
  td: TrustDomain;
  /** The source platform's TDX module. */
  module: TdxModule;
  peer: PeerAddress;
  /** The 32-byte session key (the attested channel agrees it). */
  key: Uint8Array;
  /** TDX migration version; default: the highest this platform exports. */
  migrationVersion?: number;
  /** Forward streams (TCP connections, workers), default 2. */
  streams?: number;
  /** Blackout target, ms (default 300, QEMU's downtime-limit). */
  downtimeTargetMs?: number;
  convergence?: Partial<Omit<ConvergencePolicy, "downtimeTargetMs">>;
  autoConverge?: Partial<AutoConvergePolicy>;
  /** The guest workload to throttle when auto-converge triggers. */
  workload?: GuestWorkload;
  logger?: Logger;
  signal?: AbortSignal;
  onProgress?: (progress: MigrationProgress) => void;
  /** A worker pool to use (not closed by the session); by default one is started and closed. */
  pool?: WorkerPool;
  /** Pages per memory bundle (1..512, default 256). */
  pagesPerBundle?: number;
  /** Export descriptors in flight per stream (default 3). */
  exportWindow?: number;
  /** A blackout set up to this many pages is sealed on the main thread instead of the workers (default 256). */
  inlineBlackoutPages?: number;
  /** Compare digests of source (at pause) and destination (after commit); default true. */
  verifyDigest?: boolean;
  migrationId?: string;
  connectTimeoutMs?: number;
  /** How long to wait for READY and COMMITTED after the start token (default 30 s). */
  commitTimeoutMs?: number;
  /** Attempts to learn the destination's decision after a cut past the start token (default 5, 200 ms apart). */
  recoveryAttempts?: number;
  /**
   * The source's hand-over, sent with COMMIT: called at the end of the blackout, once the destination is READY, with
   * the SHA-384 (hex) of the TD's state at pause; what it returns is sent as CommitMessage.handOver (the host signs
   * its EIP-712 MigrationReceipt there). A destination that asks for one does not commit without it. If it throws, the
   * source cancels and resumes the TD with the destination's abort token.
   */
  handOver?: (sourceDigest: string) => Promise<string>;
}

/** The options with every default filled in (`resolveSourceOptions`); `raw` keeps what the caller passed. */
export interface SourceSettings {
  readonly raw: MigrateOutOptions;
  readonly migrationId: string;
  readonly log: Logger;
  readonly streams: number;
  readonly pagesPerBundle: number;
  readonly exportWindow: number;
  readonly inlineBlackoutPages: number;
  readonly convergence: ConvergencePolicy;
  readonly autoConverge: AutoConvergePolicy;
  readonly verifyDigest: boolean;
  readonly connectTimeoutMs: number;
  readonly commitTimeoutMs: number;
  readonly recoveryAttempts: number;
}

/** Fills in the defaults (never throws: `validateSourceSettings` checks the bounds inside the pipeline). */
export function resolveSourceOptions(options: MigrateOutOptions): SourceSettings {
  const migrationId = options.migrationId ?? randomBytes(16).toString("hex");
  return {
    raw: options,
    migrationId,
    log: (options.logger ?? nullLogger).child({ streamId: migrationId, side: "source" }),
    streams: options.streams ?? 2,
    pagesPerBundle: options.pagesPerBundle ?? 256,
    exportWindow: options.exportWindow ?? 3,
    inlineBlackoutPages: options.inlineBlackoutPages ?? 256,
    convergence: {
      ...DEFAULT_CONVERGENCE_POLICY,
      ...options.convergence,
      downtimeTargetMs: options.downtimeTargetMs ?? DEFAULT_CONVERGENCE_POLICY.downtimeTargetMs,
    },
    autoConverge: { ...DEFAULT_AUTO_CONVERGE_POLICY, ...options.autoConverge },
    verifyDigest: options.verifyDigest !== false,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    commitTimeoutMs: options.commitTimeoutMs ?? 30_000,
    recoveryAttempts: options.recoveryAttempts ?? 5,
  };
}

/** Throws InvalidArgumentError for the first setting out of bounds. */
export function validateSourceSettings(s: SourceSettings): void {
  const o = s.raw;
  if (!(o.key instanceof Uint8Array) || o.key.length !== 32) throw new InvalidArgumentError("the session key must be 32 bytes");
  if (!Number.isInteger(s.streams) || s.streams < 1 || s.streams > 16) {
    throw new InvalidArgumentError("streams must be 1..16", { streams: s.streams });
  }
  if (!Number.isInteger(s.pagesPerBundle) || s.pagesPerBundle < 1 || s.pagesPerBundle > 512) {
    throw new InvalidArgumentError("pagesPerBundle must be 1..512", { pagesPerBundle: s.pagesPerBundle });
  }
  if (!(s.convergence.downtimeTargetMs > 0)) throw new InvalidArgumentError("downtimeTargetMs must be > 0", { downtimeTargetMs: s.convergence.downtimeTargetMs });
  if (o.pool && o.pool.size < s.streams) {
    throw new InvalidArgumentError("the worker pool has fewer workers than streams", { pool: o.pool.size, streams: s.streams });
  }
}
