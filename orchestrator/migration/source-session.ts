/**
 * The source side of a live migration, as a pipeline of named steps:
 *
 *   prepare → connect → sendImmutableState → precopy (epochs) → blackout → commit → finalize
 *
 * Any failure (a rejection by the destination with its abort token, a cut connection, the caller's signal, a
 * convergence limit with the abort strategy, a source-side leaf failure) goes to `abort`, which brings the TD back:
 * before the start token on the source's own authority, after it only with the destination's abort token (asked
 * for on a fresh connection when the old one was cut). Every log line carries the migration id.
 */
import { randomBytes } from "node:crypto";
import type { Logger } from "../log/index.js";
import { nullLogger } from "../log/index.js";
import {
  isSuccess,
  MB_TYPE,
  PAGE_SIZE,
  peekMbmdHeader,
  statusName,
  tdStateDigest,
  TDX_STATUS,
} from "../tdx/index.js";
import type { GuestWorkload, MigStreamContext, TdxModule, TdxStatus, TrustDomain } from "../tdx/index.js";
import { DEFAULT_AUTO_CONVERGE_POLICY, guestSpeedFactor, INITIAL_AUTO_CONVERGE_STATE, nextAutoConverge } from "./auto-converge.js";
import type { AutoConvergePolicy, AutoConvergeState } from "./auto-converge.js";
import { openSocket, sendHello } from "./connect.js";
import { queryDestinationDecision } from "./recover.js";
import type { PeerAddress } from "./connect.js";
import { decideConvergence, DEFAULT_CONVERGENCE_POLICY } from "./convergence.js";
import type { ConvergenceDecision, ConvergencePolicy } from "./convergence.js";
import { deferred, delay, withTimeout, type Deferred } from "../util/index.js";
import { FailureLatch } from "./failure-latch.js";
import {
  ConnectionClosedError,
  InvalidArgumentError,
  MigrationAbortedError,
  MigrationConnectionLostError,
  MigrationError,
  MigrationOutcomeUnknownError,
  MigrationRejectedError,
  MigrationTimeoutError,
  ProtocolError,
} from "./errors.js";
import { FRAME_TYPE, frameTypeName } from "./frame.js";
import type { Frame } from "./frame.js";
import { FramedConnection, frameJson } from "./framed-connection.js";
import { wallClockMs } from "./metrics.js";
import { decodeAbortToken, decodeCommitted, decodeEpochMark, decodeHelloAck, decodeReject, ENGINE_PROTOCOL } from "./control-messages.js";
import type { AbortTokenMessage, CommitMessage, CommittedMessage, RejectReason, UnsignedStreamHello } from "./control-messages.js";
import type { MigrationErrorCode } from "./errors.js";

/** The destination's refusals of an unauthorised HELLO, as the source reports them. */
const REFUSAL_CODES: Partial<Record<RejectReason, MigrationErrorCode>> = {
  "unknown-migration": "MIGRATION_NOT_ADMITTED",
  unauthenticated: "MIGRATION_HELLO_UNAUTHENTICATED",
  "memory-mismatch": "MIGRATION_HELLO_MEMORY_MISMATCH",
};
import { advanceSource } from "./session-state.js";
import type { SourceEvent, SourceState } from "./session-state.js";
import type { ExportMemOutcome } from "./work-descriptors.js";
import { WorkerPool } from "./worker-pool.js";

/** The worker module next to this one, whichever of .ts (from source) or .js (compiled) is running. */
export function migrationWorkerEntry(): URL {
  return new URL(`./migration-worker${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url);
}

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

/** Live-migrates `td` to the destination at `peer`; resolves once the TD runs there and the source is torn down. */
export function migrateOut(options: MigrateOutOptions): Promise<CompletedMigration> {
  return new SourceSession(options).run();
}

const MIB = 1024 * 1024;
const MIN_PAGES_PER_BUNDLE = 16;
/** Largest bundle sealed on the main thread in the blackout: at most the destination's inline import size (128). */
const INLINE_BUNDLE_PAGES = 128;

class SourceSession {
  readonly #o: MigrateOutOptions;
  readonly #td: TrustDomain;
  readonly #module: TdxModule;
  readonly #id: string;
  readonly #log: Logger;
  readonly #streamCount: number;
  readonly #pagesPerBundle: number;
  readonly #exportWindow: number;
  readonly #inlineBlackoutPages: number;
  readonly #policy: ConvergencePolicy;
  readonly #autoPolicy: AutoConvergePolicy;
  #state: SourceState = { phase: "created" };
  #pool: WorkerPool | undefined;
  #ownsPool = false;
  #conns: FramedConnection[] = [];
  #streams: MigStreamContext[] = [];
  #migrationVersion = 0;
  #startedAt = 0;
  #pausedAt = 0;
  #runningAt = 0;
  #round = 0;
  #roundLog: RoundRecord[] = [];
  #pagesSent = 0;
  #streamingMs = 0;
  #pendingBytes = 0;
  #auto: AutoConvergeState = INITIAL_AUTO_CONVERGE_STATE;
  #decision: ConvergenceDecision | undefined;
  #bandwidth = 0;
  /** Shortest epoch-token → EPOCH_ACK time seen (a round trip with the destination's import of a token), ms. */
  #minAckMs = Number.POSITIVE_INFINITY;
  /** The first failure; every wait in the pipeline races against it. */
  readonly #latch = new FailureLatch();
  /** The destination's ABORT_TOKEN, when it sent one. */
  #rejection: AbortTokenMessage | undefined;
  readonly #ready: Deferred<void> = deferred<void>();
  readonly #epochAcks = new Map<number, Deferred<void>>();
  /** Per stream: bundle buffers the socket is done with, to seal later bundles into. */
  readonly #freeBundles: ArrayBuffer[][] = [];
  readonly #committed: Deferred<CommittedMessage> = deferred<CommittedMessage>();
  readonly #inFlight = new Set<Promise<unknown>>();
  #readersDone: Promise<void> = Promise.resolve();
  #sourceDigest = "";
  #startTokenAt = 0;
  #readyAt = 0;
  #blackoutPages = 0;
  #exported = false;
  #immutable: Buffer | undefined;

  constructor(options: MigrateOutOptions) {
    this.#o = options;
    this.#td = options.td;
    this.#module = options.module;
    this.#id = options.migrationId ?? randomBytes(16).toString("hex");
    this.#log = (options.logger ?? nullLogger).child({ streamId: this.#id, side: "source" });
    this.#streamCount = options.streams ?? 2;
    this.#pagesPerBundle = options.pagesPerBundle ?? 256;
    this.#exportWindow = options.exportWindow ?? 3;
    this.#inlineBlackoutPages = options.inlineBlackoutPages ?? 256;
    this.#policy = { ...DEFAULT_CONVERGENCE_POLICY, ...options.convergence, downtimeTargetMs: options.downtimeTargetMs ?? DEFAULT_CONVERGENCE_POLICY.downtimeTargetMs };
    this.#autoPolicy = { ...DEFAULT_AUTO_CONVERGE_POLICY, ...options.autoConverge };
  }

  async run(): Promise<CompletedMigration> {
    this.#startedAt = wallClockMs();
    const onAbort = (): void => this.#latch.fail(new MigrationAbortedError("migration aborted by the caller", {}, this.#o.signal?.reason));
    this.#o.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      this.#validate();
      if (this.#o.signal?.aborted) throw new MigrationAbortedError("migration aborted by the caller before it started");
      await this.#prepare();
      await this.#connect();
      await this.#sendImmutableState();
      await this.#precopy();
      await this.#blackout();
      const committed = await this.#commit();
      return await this.#finalize(committed, false);
    } catch (err) {
      return await this.#abort(err as Error);
    } finally {
      this.#o.signal?.removeEventListener("abort", onAbort);
      for (const c of this.#conns) c.destroy();
      if (this.#ownsPool) await this.#pool?.close();
      else if (this.#state.phase !== "committed") {
        // A shared pool outlives the session: it must not keep the TD open.
        await this.#pool?.broadcast({ kind: "close-td", tdId: this.#td.id }).catch((err: unknown) => this.#log.warn("closing the TD in the workers failed", { err }));
      }
    }
  }

  // ---- steps ----

  #validate(): void {
    const o = this.#o;
    if (!(o.key instanceof Uint8Array) || o.key.length !== 32) throw new InvalidArgumentError("the session key must be 32 bytes");
    if (!Number.isInteger(this.#streamCount) || this.#streamCount < 1 || this.#streamCount > 16) {
      throw new InvalidArgumentError("streams must be 1..16", { streams: this.#streamCount });
    }
    if (!Number.isInteger(this.#pagesPerBundle) || this.#pagesPerBundle < 1 || this.#pagesPerBundle > 512) {
      throw new InvalidArgumentError("pagesPerBundle must be 1..512", { pagesPerBundle: this.#pagesPerBundle });
    }
    if (!(this.#policy.downtimeTargetMs > 0)) throw new InvalidArgumentError("downtimeTargetMs must be > 0", { downtimeTargetMs: this.#policy.downtimeTargetMs });
    if (o.pool && o.pool.size < this.#streamCount) {
      throw new InvalidArgumentError("the worker pool has fewer workers than streams", { pool: o.pool.size, streams: this.#streamCount });
    }
  }

  /** Installs the key, creates the streams, binds each to a worker, and opens the TD in the workers. */
  async #prepare(): Promise<void> {
    const td = this.#td;
    this.#migrationVersion = this.#o.migrationVersion ?? td.platform.migrationVersions.exportMax;
    this.#leaf("setMigrationKey", this.#module.setMigrationKey(td, this.#o.key, this.#migrationVersion).status);
    for (let i = 0; i < this.#streamCount; i++) {
      const r = this.#module.streamCreate(td, i);
      // A stream created by an earlier (aborted) session still exists: its counters carry on, never reused.
      if (r.status === TDX_STATUS.TDX_MIGRATION_STREAM_STATE_INCORRECT) this.#streams.push({ tdId: td.id, migsIndex: i });
      else this.#streams.push(this.#leaf("TDH.MIG.STREAM.CREATE", r.status, r.stream));
    }
    if (this.#o.pool) this.#pool = this.#o.pool;
    else {
      this.#pool = await WorkerPool.start({ size: this.#streamCount, entry: migrationWorkerEntry(), name: `export-${this.#id.slice(0, 8)}` });
      this.#ownsPool = true;
    }
    await this.#latch.guard(this.#pool.broadcast({ kind: "open-td", handle: td.handle }));
    // TDH.EXPORT.STATE.IMMUTABLE starts the export session (and refuses a TD that is not migratable) before any
    // destination is bothered; its bundle goes first on stream 0 once connected.
    const r = this.#module.exportStateImmutable(td, this.#streams[0]!);
    this.#immutable = this.#leaf("TDH.EXPORT.STATE.IMMUTABLE", r.status, r.bundle);
    this.#exported = true;
    this.#log.info("prepared", { streams: this.#streamCount, migrationVersion: this.#migrationVersion, memoryBytes: td.memoryBytes });
  }

  /** Opens one TCP connection per stream and runs the HELLO exchange on each. */
  async #connect(): Promise<void> {
    this.#advance({ type: "connect" });
    const timeout = this.#o.connectTimeoutMs ?? 10_000;
    const sockets = await this.#latch.guard(
      Promise.all(Array.from({ length: this.#streamCount }, () => openSocket(this.#o.peer, timeout, this.#o.signal))),
    );
    this.#conns = sockets.map((s, i) => new FramedConnection(s, { label: `stream ${i}` }));
    for (let i = 0; i < this.#streamCount; i++) this.#freeBundles.push([]);
    const answers = await this.#latch.guard(
      Promise.allSettled(this.#conns.map((conn, streamIndex) => sendHello(conn, this.#hello(streamIndex), this.#o.key))),
    );
    // A refusal arrives on one connection while the destination closes the others: the refusal is the reason.
    for (const answer of answers) if (answer.status === "fulfilled") this.#checkHelloAnswer(answer.value);
    for (const answer of answers) if (answer.status === "rejected") throw answer.reason;
    this.#readersDone = Promise.all(this.#conns.map((c, i) => this.#readBackward(c, i))).then(() => undefined);
    this.#log.info("connected", { peer: this.#o.peer, streams: this.#streamCount });
  }

  #hello(streamIndex: number): UnsignedStreamHello {
    return {
      protocol: { ...ENGINE_PROTOCOL },
      migrationId: this.#id,
      streamIndex,
      streamCount: this.#streamCount,
      recover: false,
      migVersion: this.#migrationVersion,
      memoryBytes: this.#td.memoryBytes,
      numVcpus: this.#td.numVcpus,
    };
  }

  #checkHelloAnswer(frame: Frame): void {
    switch (frame.type) {
      case FRAME_TYPE.HELLO_ACK:
        decodeHelloAck(frameJson(frame));
        return;
      case FRAME_TYPE.REJECT: {
        const reject = decodeReject(frameJson(frame));
        if (reject.reason === "version-mismatch") {
          throw new MigrationError("MIGRATION_VERSION_MISMATCH", "the destination does not speak this engine protocol version", { details: { ...reject, offered: ENGINE_PROTOCOL } });
        }
        const coded = REFUSAL_CODES[reject.reason];
        if (coded) throw new MigrationError(coded, `the destination refused the session: ${reject.message}`, { details: { ...reject } });
        throw new ProtocolError(`the destination refused the session: ${reject.message}`, { reason: reject.reason });
      }
      case FRAME_TYPE.ABORT_TOKEN: {
        const msg = decodeAbortToken(frameJson(frame));
        this.#rejection = msg;
        throw this.#rejectionError(msg);
      }
      default:
        throw new ProtocolError("unexpected answer to HELLO", { got: frameTypeName(frame.type) });
    }
  }

  /** The immutable-state bundle goes first, on stream 0. */
  async #sendImmutableState(): Promise<void> {
    await this.#latch.guard(this.#conns[0]!.send(FRAME_TYPE.BUNDLE, this.#immutable!));
  }

  /** Pre-copy epochs until the convergence function switches over (or the strategy aborts). */
  async #precopy(): Promise<void> {
    const td = this.#td;
    const precopyStart = performance.now();
    for (;;) {
      this.#round++;
      this.#advance({ type: "round", round: this.#round });
      const t0 = performance.now();
      let gpas: Uint32Array;
      if (this.#round === 1) {
        this.#leaf("TDH.EXPORT.BLOCKW", this.#module.exportBlockwAll(td).status);
        gpas = new Uint32Array(td.memoryPages);
        for (let p = 0; p < gpas.length; p++) gpas[p] = p * PAGE_SIZE;
      } else {
        gpas = this.#blockDirty();
      }
      const sentBefore = this.#bytesSent();
      const pages = await this.#exportPages(gpas);
      await this.#sendEpochToken();
      const ms = performance.now() - t0;
      this.#streamingMs += ms;
      const bytes = this.#bytesSent() - sentBefore;
      const measured = ms > 0 ? (bytes * 1000) / ms : 0;
      // A small round measures its fixed costs more than the link: keep the estimate of the last large round.
      if (bytes >= MIB || this.#bandwidth === 0) this.#bandwidth = measured;
      const dirtyPages = td.dirtyLogLength;
      this.#pendingBytes = dirtyPages * PAGE_SIZE;
      this.#auto = nextAutoConverge(this.#auto, { dirtiedBytes: this.#pendingBytes, sentBytes: bytes }, this.#autoPolicy);
      if (this.#o.workload) this.#o.workload.throttle = guestSpeedFactor(this.#auto);
      this.#roundLog.push({ round: this.#round, pages, bytes, ms, dirtyPagesAfter: dirtyPages, bandwidthBytesPerSec: this.#bandwidth, throttlePercent: this.#auto.throttlePercent });
      const decision = decideConvergence(
        {
          round: this.#round,
          pendingBytes: this.#pendingBytes,
          // The blackout seals the last pages and the destination opens them one bundle after the other, without
          // the pre-copy's pipelining of both sides: count on half the pre-copy rate.
          bandwidthBytesPerSec: this.#bandwidth / 2,
          elapsedMs: performance.now() - precopyStart,
          // State bundles and start token, then READY and COMMITTED: about two token round trips.
          fixedBlackoutMs: Number.isFinite(this.#minAckMs) ? 2 * this.#minAckMs : 0,
        },
        this.#policy,
      );
      this.#log.info("round done", { round: this.#round, pages, bytes, ms: round2(ms), dirtyPages, throttlePercent: this.#auto.throttlePercent, decision: decision.action });
      this.#progress();
      if (decision.action === "continue") continue;
      this.#decision = decision;
      if (decision.action === "abort") {
        throw new MigrationTimeoutError("pre-copy did not converge", { reason: decision.reason, round: this.#round, pendingBytes: this.#pendingBytes });
      }
      return;
    }
  }

  /** Blackout: pause, the last dirty pages, TD and vCPU state, the start token with the bundle total. */
  async #blackout(): Promise<void> {
    const td = this.#td;
    const s0 = this.#streams[0]!;
    this.#pausedAt = wallClockMs();
    const t0 = performance.now();
    this.#leaf("TDH.EXPORT.PAUSE", this.#module.exportPause(td).status);
    this.#advance({ type: "pause", pausedAt: this.#pausedAt });
    this.#progress();
    const gpas = this.#blockDirty();
    // A small last set is sealed right here: a trip through the workers costs more than it saves.
    const pages = gpas.length <= this.#inlineBlackoutPages ? await this.#exportPagesInline(gpas) : await this.#exportPages(gpas);
    const stateTd = this.#module.exportStateTd(td, s0);
    await this.#latch.guard(this.#conns[0]!.send(FRAME_TYPE.BUNDLE, this.#leaf("TDH.EXPORT.STATE.TD", stateTd.status, stateTd.bundle)));
    for (let vp = 0; vp < td.numVcpus; vp++) {
      const r = this.#module.exportStateVp(td, s0, vp);
      await this.#latch.guard(this.#conns[0]!.send(FRAME_TYPE.BUNDLE, this.#leaf("TDH.EXPORT.STATE.VP", r.status, r.bundle)));
    }
    // The start token is the point of no return: first let pending I/O (a cut, a refusal on the backward stream)
    // be seen, so that a migration already lost aborts on the source's own authority.
    await this.#latch.guard(new Promise<void>((resolve) => setImmediate(resolve)));
    const start = this.#module.exportTrack(td, s0, { start: true });
    const token = this.#leaf("TDH.EXPORT.TRACK", start.status, start.bundle);
    // From here the TD is POST_EXPORT: only the destination's abort token can bring it back.
    this.#advance({ type: "start-token-sent" });
    await this.#latch.guard(this.#sendToken(token));
    this.#startTokenAt = wallClockMs();
    this.#blackoutPages = pages;
    this.#streamingMs += performance.now() - t0;
    this.#log.info("start token sent", { finalPages: pages });
    this.#progress();
  }

  /** READY → COMMIT (with the hand-over) → COMMITTED. */
  async #commit(): Promise<CommittedMessage> {
    const timeoutMs = this.#o.commitTimeoutMs ?? 30_000;
    // The TD is paused and its state final: digest it while the destination imports the last bundles.
    if (this.#o.verifyDigest !== false || this.#o.handOver) this.#sourceDigest = tdStateDigest(this.#td).toString("hex");
    await this.#latch.guard(withTimeout(this.#ready.promise, timeoutMs, timedOut("READY", timeoutMs)));
    this.#readyAt = wallClockMs();
    let handOver = "";
    if (this.#o.handOver) {
      try {
        handOver = await this.#latch.guard(this.#o.handOver(this.#sourceDigest));
      } catch (err) {
        // No hand-over, no commit: the destination is told, and answers with the abort token the TD resumes with.
        await this.#conns[0]!.sendJson(FRAME_TYPE.CANCEL, { reason: `no hand-over: ${(err as Error).message}` }).catch(() => undefined);
        throw err;
      }
    }
    const commit: CommitMessage = { handOver, sourceDigest: this.#sourceDigest };
    await this.#latch.guard(this.#conns[0]!.sendJson(FRAME_TYPE.COMMIT, commit));
    return this.#latch.guard(withTimeout(this.#committed.promise, timeoutMs, timedOut("COMMITTED", timeoutMs)));
  }

  async #finalize(committed: CommittedMessage, recovered: boolean): Promise<CompletedMigration> {
    this.#runningAt = committed.runningAt;
    this.#advance({ type: "committed", runningAt: committed.runningAt });
    // The source's state is still what it was at pause (POST_EXPORT: nothing runs): digest it (unless the commit step
    // did), then tear down.
    if (this.#o.verifyDigest !== false && !this.#sourceDigest) this.#sourceDigest = tdStateDigest(this.#td).toString("hex");
    this.#leaf("teardown", this.#module.teardown(this.#td).status);
    await this.#pool?.broadcast({ kind: "close-td", tdId: this.#td.id }).catch((err: unknown) => this.#log.warn("closing the TD in the workers failed", { err }));
    const digestMatch = this.#sourceDigest && committed.digest ? this.#sourceDigest === committed.digest : undefined;
    const record: CompletedMigration = {
      migrationId: this.#id,
      streams: this.#streamCount,
      migrationVersion: this.#migrationVersion,
      rounds: this.#round,
      roundLog: this.#roundLog,
      convergence: { reason: this.#decision?.action === "switchover" ? this.#decision.reason : "unknown", estimatedDowntimeMs: this.#decision?.estimatedDowntimeMs ?? Number.NaN },
      pagesSent: this.#pagesSent,
      bytesSent: this.#bytesSent(),
      streamingMs: this.#streamingMs,
      totalMs: committed.runningAt - this.#startedAt,
      downtimeMs: committed.runningAt - this.#pausedAt,
      blackout: {
        exportMs: this.#startTokenAt - this.#pausedAt,
        readyMs: this.#readyAt - this.#startTokenAt,
        commitMs: committed.runningAt - this.#readyAt,
        pages: this.#blackoutPages,
      },
      startedAt: this.#startedAt,
      pausedAt: this.#pausedAt,
      runningAt: committed.runningAt,
      throttlePercent: this.#auto.throttlePercent,
      sourceDigest: this.#sourceDigest,
      destinationDigest: committed.digest,
      digestMatch,
      recovered,
    };
    this.#log.info("committed", { totalMs: round2(record.totalMs), downtimeMs: round2(record.downtimeMs), rounds: record.rounds, bytesSent: record.bytesSent, digestMatch });
    if (digestMatch === false) this.#log.error("destination state differs from the source's at pause", { sourceDigest: this.#sourceDigest, destinationDigest: committed.digest });
    this.#progress();
    return record;
  }

  // ---- abort ----

  /** Brings the TD back on the source and rethrows the reason (or returns the record when a recovery found a commit). */
  async #abort(reason: Error): Promise<CompletedMigration> {
    this.#latch.fail(reason);
    const primary = this.#latch.error ?? reason;
    const phase = this.#state.phase;
    this.#log.warn("aborting", { phase, reason: primary.message, code: (primary as MigrationError).code });
    // No leaf may still be running in a worker when the session is aborted.
    await Promise.allSettled([...this.#inFlight]);
    // A rejection arrives on stream 0 just before the destination closes: give the reader a moment to see it.
    if (primary instanceof ConnectionClosedError) await Promise.race([this.#readersDone, delay(500)]);
    let error: Error = primary;
    if (primary instanceof ConnectionClosedError) {
      // A destination that rejected a bundle sends its status, then closes: report the status, not the close.
      const rejection = this.#rejection;
      error = rejection && BigInt(rejection.status) !== 0n
        ? this.#rejectionError(rejection, primary)
        : new MigrationConnectionLostError(phase, { migrationId: this.#id }, primary);
    }

    if (!this.#exported) {
      // Nothing was exported: the TD never left RUNNABLE.
      this.#transitionAborted(error.message, false);
      this.#cancelPeer(error.message);
      throw error;
    }
    if (phase === "awaiting-commit" || phase === "outcome-unknown") {
      let token: Buffer | undefined = this.#rejection?.token ? Buffer.from(this.#rejection.token, "base64") : undefined;
      if (!token) {
        const outcome = await this.#recover();
        if (outcome.kind === "committed") {
          this.#log.warn("the destination committed before the cut: the migration succeeded");
          return this.#finalize(outcome.committed, true);
        }
        if (outcome.kind === "unknown") {
          this.#advance({ type: "outcome-lost" });
          throw new MigrationOutcomeUnknownError({ migrationId: this.#id, phase }, error);
        }
        token = outcome.token;
      }
      this.#exportAbort(token);
      this.#transitionAborted(error.message, true);
      throw error;
    }
    this.#cancelPeer(error.message);
    this.#exportAbort(undefined);
    this.#transitionAborted(error.message, false);
    throw error;
  }

  #exportAbort(token: Buffer | undefined): void {
    const r = this.#module.exportAbort(this.#td, this.#streams[0]!, token ? { abortToken: token } : {});
    if (!isSuccess(r.status)) {
      throw new MigrationRejectedError("source", "TDH.EXPORT.ABORT", r.status, statusName(r.status), { details: { migrationId: this.#id } });
    }
    const restore = this.#module.exportRestore(this.#td);
    if (!isSuccess(restore.status)) {
      throw new MigrationRejectedError("source", "TDH.EXPORT.RESTORE", restore.status, statusName(restore.status), { details: { migrationId: this.#id } });
    }
    if (this.#o.workload) this.#o.workload.throttle = 1;
    this.#log.info("TD resumed on the source", { withAbortToken: token !== undefined });
  }

  #transitionAborted(reason: string, withAbortToken: boolean): void {
    this.#state = advanceSource(this.#state, { type: "abort", reason, withAbortToken });
    this.#progress();
  }

  /** Tells the destination the source gave up (best effort: the connection may be gone). */
  #cancelPeer(reason: string): void {
    const conn = this.#conns[0];
    if (conn?.isOpen) conn.sendJson(FRAME_TYPE.CANCEL, { reason }).catch(() => undefined);
  }

  /** After a cut past the start token: ask the destination, on a fresh connection, what it decided. */
  async #recover(): Promise<{ kind: "committed"; committed: CommittedMessage } | { kind: "abort-token"; token: Buffer } | { kind: "unknown" }> {
    const attempts = this.#o.recoveryAttempts ?? 5;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const decision = await queryDestinationDecision(this.#o.peer, this.#hello(0), this.#o.key, this.#o.connectTimeoutMs ?? 10_000);
        if (decision.kind === "committed") return decision;
        if (decision.kind === "aborted") {
          this.#log.info("recovered the destination's abort token", { attempt, status: decision.statusName });
          return { kind: "abort-token", token: decision.token };
        }
        this.#log.warn("recovery answer without a decision", { attempt, reason: decision.reason });
      } catch (err) {
        this.#log.warn("recovery attempt failed", { attempt, err });
      }
      await delay(200);
    }
    return { kind: "unknown" };
  }

  // ---- streaming ----

  /** Drains the dirty log and write-blocks those pages for the next export. */
  #blockDirty(): Uint32Array {
    const gpas = this.#td.drainDirtyLog();
    if (gpas.length > 0) this.#leaf("TDH.EXPORT.BLOCKW", this.#module.exportBlockw(this.#td, gpas).status);
    return gpas;
  }

  /**
   * Exports `gpas` as memory bundles: batches go round-robin to the streams; each stream keeps `exportWindow`
   * descriptors in flight on its worker and writes each bundle to its socket in order, waiting for the socket when
   * it is full (backpressure reaches the workers through the window).
   */
  async #exportPages(gpas: Uint32Array): Promise<number> {
    // Small page sets (late rounds, the blackout) go in smaller bundles, several per stream, so that the
    // destination decrypts the first while the source still encrypts the next.
    const per = Math.max(MIN_PAGES_PER_BUNDLE, Math.min(this.#pagesPerBundle, Math.ceil(gpas.length / (this.#streamCount * 4))));
    const batches = Math.ceil(gpas.length / per);
    const perStream = await Promise.all(
      this.#streams.map(async (stream, k) => {
        const conn = this.#conns[k]!;
        const queue: Promise<ExportMemOutcome>[] = [];
        let next = k;
        let pages = 0;
        const free = this.#freeBundles[k]!;
        const submit = (): void => {
          const start = next * per;
          const slice = gpas.slice(start, Math.min(start + per, gpas.length));
          next += this.#streamCount;
          const out = free.pop() ?? null;
          const transfer = out ? [slice.buffer, out] : [slice.buffer];
          queue.push(this.#track(this.#pool!.submit<ExportMemOutcome>(k, { kind: "export-mem", tdId: this.#td.id, stream, gpas: slice.buffer, out }, transfer)));
        };
        while (queue.length < this.#exportWindow && next < batches) submit();
        while (queue.length > 0) {
          const r = await this.#latch.guard(queue.shift()!);
          if (next < batches) submit();
          this.#leaf("TDH.EXPORT.MEM", r.status);
          if (r.bundle) {
            pages += r.pages;
            const buffer = r.bundle;
            // Once the kernel has the bytes, the buffer goes back to the worker for a later bundle.
            await this.#latch.guard(conn.send(FRAME_TYPE.BUNDLE, new Uint8Array(buffer, 0, r.bundleBytes), () => free.push(buffer)));
          }
        }
        return pages;
      }),
    );
    const pages = perStream.reduce((a, b) => a + b, 0);
    this.#pagesSent += pages;
    return pages;
  }

  /**
   * TDH.EXPORT.MEM on this thread (no export descriptor is in flight during the blackout), in bundles of at most
   * INLINE_BUNDLE_PAGES pages round-robin over the streams: small enough that the destination opens each on its
   * main thread too, so the blackout's last pages never wait for a worker thread to be scheduled.
   */
  async #exportPagesInline(gpas: Uint32Array): Promise<number> {
    if (gpas.length === 0) return 0;
    const per = Math.min(INLINE_BUNDLE_PAGES, Math.ceil(gpas.length / this.#streamCount));
    let pages = 0;
    const sends: Promise<void>[] = [];
    for (let b = 0; b * per < gpas.length; b++) {
      const k = b % this.#streamCount;
      const r = this.#module.exportMem(this.#td, this.#streams[k]!, gpas.subarray(b * per, Math.min((b + 1) * per, gpas.length)));
      this.#leaf("TDH.EXPORT.MEM", r.status);
      if (r.bundle && r.pages > 0) {
        pages += r.pages;
        sends.push(this.#conns[k]!.send(FRAME_TYPE.BUNDLE, r.bundle));
      }
    }
    await this.#latch.guard(Promise.all(sends));
    this.#pagesSent += pages;
    return pages;
  }

  /**
   * TDH.EXPORT.TRACK: the epoch token on stream 0, an EPOCH_MARK with the same epoch on every other stream; then
   * the destination's EPOCH_ACK. Rounds are thus measured end to end, and the TD is never paused (the way to the
   * point of no return) before the destination has verified everything sent so far: a bad key, an incompatible
   * platform or a damaged bundle is refused while the source can still resume on its own.
   */
  async #sendEpochToken(): Promise<void> {
    const r = this.#module.exportTrack(this.#td, this.#streams[0]!);
    const token = this.#leaf("TDH.EXPORT.TRACK", r.status, r.bundle);
    const epoch = peekMbmdHeader(token)!.migEpoch;
    const acked = deferred<void>();
    this.#epochAcks.set(epoch, acked);
    await this.#latch.guard(this.#sendToken(token));
    const sentAt = performance.now();
    await this.#latch.guard(withTimeout(acked.promise, this.#o.commitTimeoutMs ?? 30_000, timedOut(`EPOCH_ACK ${epoch}`, this.#o.commitTimeoutMs ?? 30_000)));
    this.#minAckMs = Math.min(this.#minAckMs, performance.now() - sentAt);
    this.#epochAcks.delete(epoch);
  }

  async #sendToken(token: Buffer): Promise<void> {
    const header = peekMbmdHeader(token);
    if (!header || header.mbType !== MB_TYPE.EPOCH_TOKEN) throw new ProtocolError("TDH.EXPORT.TRACK returned something other than an epoch token");
    await Promise.all([
      this.#conns[0]!.send(FRAME_TYPE.BUNDLE, token),
      ...this.#conns.slice(1).map((c) => c.sendJson(FRAME_TYPE.EPOCH_MARK, { epoch: header.migEpoch })),
    ]);
  }

  /** Reads what the destination sends back on a connection until it closes. */
  async #readBackward(conn: FramedConnection, index: number): Promise<void> {
    for (;;) {
      let frame: Frame;
      try {
        frame = await conn.receive();
      } catch (err) {
        if (this.#state.phase !== "committed") this.#latch.fail(err as Error);
        return;
      }
      try {
        this.#onBackwardFrame(frame, index);
      } catch (err) {
        this.#latch.fail(err as Error);
        return;
      }
    }
  }

  #onBackwardFrame(frame: Frame, index: number): void {
    switch (frame.type) {
      case FRAME_TYPE.ABORT_TOKEN: {
        const msg = decodeAbortToken(frameJson(frame));
        this.#rejection = msg;
        this.#log.warn("the destination rejected the migration", { status: msg.statusName, leaf: msg.leaf, stream: index });
        this.#latch.fail(this.#rejectionError(msg));
        return;
      }
      case FRAME_TYPE.EPOCH_ACK: {
        const { epoch } = decodeEpochMark(frameJson(frame));
        const acked = this.#epochAcks.get(epoch);
        if (!acked) throw new ProtocolError("EPOCH_ACK for an epoch not in flight", { epoch });
        acked.resolve();
        return;
      }
      case FRAME_TYPE.READY:
        if (this.#state.phase !== "awaiting-commit") throw new ProtocolError("READY before the start token", { phase: this.#state.phase });
        this.#ready.resolve();
        return;
      case FRAME_TYPE.COMMITTED:
        if (!this.#ready.settled) throw new ProtocolError("COMMITTED before READY");
        this.#committed.resolve(decodeCommitted(frameJson(frame)));
        return;
      default:
        throw new ProtocolError("unexpected frame from the destination", { got: frameTypeName(frame.type), stream: index });
    }
  }

  // ---- helpers ----

  #rejectionError(msg: AbortTokenMessage, cause?: Error): MigrationRejectedError {
    return new MigrationRejectedError("destination", msg.leaf, BigInt(msg.status), msg.statusName, {
      details: { migrationId: this.#id, message: msg.message },
      cause,
    });
  }

  /** Checks a leaf's status; throws MigrationRejectedError (source side) on failure. Warnings pass. */
  #leaf<T>(leaf: string, status: TdxStatus, value?: T): T {
    if (!isSuccess(status)) throw new MigrationRejectedError("source", leaf, status, statusName(status), { details: { migrationId: this.#id } });
    return value as T;
  }

  #advance(event: SourceEvent): void {
    this.#state = advanceSource(this.#state, event);
  }


  /** Remembers a worker job until it settles, so that an abort can wait for it. */
  #track<T>(p: Promise<T>): Promise<T> {
    this.#inFlight.add(p);
    p.then(
      () => this.#inFlight.delete(p),
      () => this.#inFlight.delete(p),
    );
    return p;
  }

  #bytesSent(): number {
    return this.#conns.reduce((sum, c) => sum + c.bytesSent, 0);
  }

  #progress(): void {
    const cb = this.#o.onProgress;
    if (!cb) return;
    try {
      cb({
        migrationId: this.#id,
        phase: this.#state.phase,
        round: this.#round,
        pendingBytes: this.#pendingBytes,
        bytesSent: this.#bytesSent(),
        memoryBytes: this.#td.memoryBytes,
        throttlePercent: this.#auto.throttlePercent,
        elapsedMs: wallClockMs() - this.#startedAt,
      });
    } catch (err) {
      this.#log.warn("progress callback threw", { err });
    }
  }
}

function timedOut(what: string, ms: number): () => MigrationTimeoutError {
  return () => new MigrationTimeoutError(`timed out waiting for ${what}`, { ms });
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
