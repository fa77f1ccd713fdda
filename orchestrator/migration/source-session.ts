/**
 * The source side of a live migration, as a pipeline of named steps:
 *
 *   prepare → connect → sendImmutableState → precopy (epochs) → blackout → commit → finalize
 *
 * Its parts, each in its own file: the options resolved once (source-options.ts), the export pipeline that seals
 * and sends pages and tokens (export-pipeline.ts), the reader of what the destination sends back
 * (backward-reader.ts), the abort decision (abort-decision.ts), and the record of a committed migration
 * (source-record.ts). Any failure (a rejection by the destination with
 * its abort token, a cut connection, the caller's signal, a convergence limit with the abort strategy, a source-side
 * leaf failure) goes to `abort`, which brings the TD back: before the start token on the source's own authority,
 * after it only with the destination's abort token (asked for on a fresh connection when the old one was cut).
 * Every log line carries the migration id.
 */
import type { Logger } from "../log/index.js";
import { delay, withTimeout } from "../util/index.js";
import { tdStateDigest, TDX_STATUS } from "../tdx/index.js";
import type { MigStreamContext, TdxModule, TdxStatus, TrustDomain } from "../tdx/index.js";
import { decideAbort } from "./abort-decision.js";
import { BackwardReader } from "./backward-reader.js";
import { openSocket, sendHello } from "./connect.js";
import type { CommitMessage, CommittedMessage, UnsignedStreamHello } from "./control-messages.js";
import { ConnectionClosedError, MigrationAbortedError, MigrationConnectionLostError, MigrationOutcomeUnknownError, MigrationTimeoutError } from "./errors.js";
import type { MigrationError } from "./errors.js";
import { EpochWindow } from "./epoch-window.js";
import { ExportPipeline } from "./export-pipeline.js";
import { FailureLatch } from "./failure-latch.js";
import { FRAME_TYPE } from "./frame.js";
import { FramedConnection } from "./framed-connection.js";
import { wallClockMs } from "./metrics.js";
import { PrecopyRounds } from "./precopy-rounds.js";
import { exportAbortAndRestore, recoverDestinationDecision, sourceHello } from "./recover.js";
import { checkLeaf, JobTracker, migrationWorkerEntry, round2, timedOut } from "./session-shared.js";
import { advanceSource } from "./session-state.js";
import type { SourceEvent, SourceState } from "./session-state.js";
import { resolveSourceOptions, validateSourceSettings } from "./source-options.js";
import type { CompletedMigration, MigrateOutOptions, SourceSettings } from "./source-options.js";
import { completedMigration } from "./source-record.js";
import { WorkerPool } from "./worker-pool.js";

/** Epoch tokens the pre-copy keeps in flight at most (the destination acknowledges each once it verified it). */
const MAX_EPOCHS_IN_FLIGHT = 8;

/** Live-migrates `td` to the destination at `peer`; resolves once the TD runs there and the source is torn down. */
export function migrateOut(options: MigrateOutOptions): Promise<CompletedMigration> {
  return new SourceSession(options).run();
}

class SourceSession {
  readonly #s: SourceSettings;
  readonly #o: MigrateOutOptions;
  readonly #td: TrustDomain;
  readonly #module: TdxModule;
  readonly #id: string;
  readonly #log: Logger;
  #state: SourceState = { phase: "created" };
  #pool: WorkerPool | undefined;
  #ownsPool = false;
  #conns: FramedConnection[] = [];
  #streams: MigStreamContext[] = [];
  #pipeline: ExportPipeline | undefined;
  #migrationVersion = 0;
  #startedAt = 0;
  #pausedAt = 0;
  #round = 0;
  readonly #rounds: PrecopyRounds;
  #streamingMs = 0;
  /** The first failure; every wait in the pipeline races against it. */
  readonly #latch = new FailureLatch();
  readonly #jobs = new JobTracker();
  readonly #reader: BackwardReader;
  #sourceDigest = "";
  /** The worker's digest of the paused TD, once the commit step started it. */
  #digestJob: Promise<string> | undefined;
  #startTokenAt = 0;
  #readyAt = 0;
  #blackoutPages = 0;
  #exported = false;
  #immutable: Buffer | undefined;

  constructor(options: MigrateOutOptions) {
    this.#s = resolveSourceOptions(options);
    this.#o = options;
    this.#td = options.td;
    this.#module = options.module;
    this.#id = this.#s.migrationId;
    this.#log = this.#s.log;
    this.#rounds = new PrecopyRounds(this.#s.convergence, this.#s.autoConverge, options.workload);
    this.#reader = new BackwardReader({ migrationId: this.#id, log: this.#log, latch: this.#latch, phase: () => this.#state.phase });
  }

  async run(): Promise<CompletedMigration> {
    this.#startedAt = wallClockMs();
    const onAbort = (): void => this.#latch.fail(new MigrationAbortedError("migration aborted by the caller", {}, this.#o.signal?.reason));
    this.#o.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      validateSourceSettings(this.#s);
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

  /** Installs the key, creates the streams, binds each to a worker, and opens the TD in the workers. */
  async #prepare(): Promise<void> {
    const td = this.#td;
    this.#migrationVersion = this.#o.migrationVersion ?? td.platform.migrationVersions.exportMax;
    this.#leaf("setMigrationKey", this.#module.setMigrationKey(td, this.#o.key, this.#migrationVersion).status);
    for (let i = 0; i < this.#s.streams; i++) {
      const r = this.#module.streamCreate(td, i);
      // A stream created by an earlier (aborted) session still exists: its counters carry on, never reused.
      if (r.status === TDX_STATUS.TDX_MIGRATION_STREAM_STATE_INCORRECT) this.#streams.push({ tdId: td.id, migsIndex: i });
      else this.#streams.push(this.#leaf("TDH.MIG.STREAM.CREATE", r.status, r.stream));
    }
    if (this.#o.pool) this.#pool = this.#o.pool;
    else {
      this.#pool = await WorkerPool.start({ size: this.#s.streams, entry: migrationWorkerEntry(), name: `export-${this.#id.slice(0, 8)}` });
      this.#ownsPool = true;
    }
    await this.#latch.guard(this.#pool.broadcast({ kind: "open-td", handle: td.handle }));
    // TDH.EXPORT.STATE.IMMUTABLE starts the export session (and refuses a TD that is not migratable) before any
    // destination is bothered; its bundle goes first on stream 0 once connected.
    const r = this.#module.exportStateImmutable(td, this.#streams[0]!);
    this.#immutable = this.#leaf("TDH.EXPORT.STATE.IMMUTABLE", r.status, r.bundle);
    this.#exported = true;
    this.#log.info("prepared", { streams: this.#s.streams, migrationVersion: this.#migrationVersion, memoryBytes: td.memoryBytes });
  }

  /** Opens one TCP connection per stream and runs the HELLO exchange on each. */
  async #connect(): Promise<void> {
    this.#advance({ type: "connect" });
    const count = this.#s.streams;
    const sockets = await this.#latch.guard(
      Promise.all(Array.from({ length: count }, () => openSocket(this.#o.peer, this.#s.connectTimeoutMs, this.#o.signal))),
    );
    this.#conns = sockets.map((s, i) => new FramedConnection(s, { label: `stream ${i}` }));
    this.#pipeline = new ExportPipeline({
      settings: this.#s,
      td: this.#td,
      module: this.#module,
      streams: this.#streams,
      conns: this.#conns,
      pool: this.#pool!,
      latch: this.#latch,
      jobs: this.#jobs,
      reader: this.#reader,
    });
    const answers = await this.#latch.guard(
      Promise.allSettled(this.#conns.map((conn, streamIndex) => sendHello(conn, this.#hello(streamIndex), this.#o.key))),
    );
    // A refusal arrives on one connection while the destination closes the others: the refusal is the reason.
    for (const answer of answers) if (answer.status === "fulfilled") this.#reader.checkHelloAnswer(answer.value);
    for (const answer of answers) if (answer.status === "rejected") throw answer.reason;
    this.#reader.start(this.#conns);
    this.#log.info("connected", { peer: this.#o.peer, streams: count });
  }

  #hello(streamIndex: number): UnsignedStreamHello {
    return sourceHello(this.#td, { migrationId: this.#id, streamIndex, streamCount: this.#s.streams, recover: false, migVersion: this.#migrationVersion });
  }

  /** The immutable-state bundle goes first, on stream 0. */
  async #sendImmutableState(): Promise<void> {
    await this.#latch.guard(this.#conns[0]!.send(FRAME_TYPE.BUNDLE, this.#immutable!));
  }

  /** Pre-copy epochs until the convergence function switches over (or the strategy aborts). */
  async #precopy(): Promise<void> {
    const td = this.#td;
    const pipeline = this.#pipeline!;
    const rounds = this.#rounds;
    const precopyStart = performance.now();
    // Several tokens may be in flight: a late round is shorter than a round trip of a long link, and waiting for each
    // acknowledgement would leave the link idle for most of the round.
    const epochs = new EpochWindow(MAX_EPOCHS_IN_FLIGHT);
    for (;;) {
      this.#round++;
      this.#advance({ type: "round", round: this.#round });
      const t0 = performance.now();
      const gpas = this.#round === 1 ? pipeline.blockAll() : pipeline.blockDirty();
      const sentBefore = this.#bytesSent();
      const pages = await pipeline.exportPages(gpas);
      await epochs.makeRoom();
      const { acked } = await pipeline.sendEpochToken();
      const bytes = this.#bytesSent() - sentBefore;
      epochs.push(acked, t0, bytes);
      // A round shorter than a round trip (and the first, before one was measured) waits for its acknowledgement, as
      // the guest's dirtying during that wait belongs to the decision; a longer one goes on streaming.
      if (!(performance.now() - t0 >= pipeline.minAckMs)) await epochs.drain();
      let ms = performance.now() - t0;
      let decision = rounds.record({ round: this.#round, pages, bytes, ms, delivered: epochs.delivered, dirtyPages: td.dirtyLogLength, minAckMs: pipeline.minAckMs, elapsedMs: performance.now() - precopyStart });
      if (decision.action === "switchover" && epochs.size > 0) {
        // Nothing is paused before the destination has verified everything sent so far; the guest dirtied more
        // pages meanwhile: if they no longer fit, one more round.
        await epochs.drain();
        ms = performance.now() - t0;
        rounds.log.at(-1)!.ms = ms;
        decision = rounds.recheck(td.dirtyLogLength, this.#round, pipeline.minAckMs, performance.now() - precopyStart);
      }
      this.#streamingMs += ms;
      this.#log.info("round done", { round: this.#round, pages, bytes, ms: round2(ms), dirtyPages: td.dirtyLogLength, throttlePercent: rounds.throttlePercent, decision: decision.action });
      this.#progress();
      if (decision.action === "continue") continue;
      if (decision.action === "abort") {
        throw new MigrationTimeoutError("pre-copy did not converge", { reason: decision.reason, round: this.#round, pendingBytes: rounds.pendingBytes });
      }
      return;
    }
  }

  /** Blackout: pause, the last dirty pages, TD and vCPU state, the start token with the bundle total. */
  async #blackout(): Promise<void> {
    const td = this.#td;
    const pipeline = this.#pipeline!;
    const s0 = this.#streams[0]!;
    this.#pausedAt = wallClockMs();
    const t0 = performance.now();
    this.#leaf("TDH.EXPORT.PAUSE", this.#module.exportPause(td).status);
    this.#advance({ type: "pause", pausedAt: this.#pausedAt });
    this.#progress();
    const gpas = pipeline.blockDirty();
    // A small last set is sealed right here: a trip through the workers costs more than it saves.
    const pages = gpas.length <= this.#s.inlineBlackoutPages ? await pipeline.exportPagesInline(gpas) : await pipeline.exportPages(gpas);
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
    await this.#latch.guard(pipeline.sendToken(token));
    this.#startTokenAt = wallClockMs();
    this.#blackoutPages = pages;
    this.#streamingMs += performance.now() - t0;
    this.#log.info("start token sent", { finalPages: pages });
    this.#progress();
  }

  /** READY → COMMIT (with the hand-over) → COMMITTED. */
  async #commit(): Promise<CommittedMessage> {
    const timeoutMs = this.#s.commitTimeoutMs;
    // The TD is paused and its state final: a worker digests it while the destination imports the last bundles (no
    // export descriptor is in flight now), and this thread goes on serving the sockets.
    if (this.#s.verifyDigest || this.#o.handOver) {
      this.#digestJob = this.#jobs.track(this.#pool!.submit<string>(0, { kind: "digest", tdId: this.#td.id }));
      this.#digestJob.catch(() => undefined);
    }
    await this.#latch.guard(withTimeout(this.#reader.ready, timeoutMs, timedOut("READY", timeoutMs)));
    this.#readyAt = wallClockMs();
    let handOver = "";
    if (this.#o.handOver) {
      try {
        // The hand-over states the digest: only it waits for the digest before COMMIT (without one, COMMIT goes
        // at once and the digest is compared after the commit, outside the blackout).
        this.#sourceDigest = await this.#latch.guard(this.#digestJob!);
        handOver = await this.#latch.guard(this.#o.handOver(this.#sourceDigest));
      } catch (err) {
        // No hand-over, no commit: the destination is told, and answers with the abort token the TD resumes with.
        await this.#conns[0]!.sendJson(FRAME_TYPE.CANCEL, { reason: `no hand-over: ${(err as Error).message}` }).catch(() => undefined);
        throw err;
      }
    }
    const commit: CommitMessage = { handOver, sourceDigest: this.#sourceDigest };
    await this.#latch.guard(this.#conns[0]!.sendJson(FRAME_TYPE.COMMIT, commit));
    return this.#latch.guard(withTimeout(this.#reader.committed, timeoutMs, timedOut("COMMITTED", timeoutMs)));
  }

  async #finalize(committed: CommittedMessage, recovered: boolean): Promise<CompletedMigration> {
    this.#advance({ type: "committed", runningAt: committed.runningAt });
    // The source's state is still what it was at pause (POST_EXPORT: nothing runs): digest it (unless the commit step
    // did), then tear down.
    if (this.#s.verifyDigest && !this.#sourceDigest) this.#sourceDigest = this.#digestJob ? await this.#digestJob : tdStateDigest(this.#td).toString("hex");
    this.#leaf("teardown", this.#module.teardown(this.#td).status);
    await this.#pool?.broadcast({ kind: "close-td", tdId: this.#td.id }).catch((err: unknown) => this.#log.warn("closing the TD in the workers failed", { err }));
    const record = completedMigration({
      migrationId: this.#id, streams: this.#s.streams, migrationVersion: this.#migrationVersion,
      rounds: this.#round, roundLog: this.#rounds.log, finalDecision: this.#rounds.finalDecision, throttlePercent: this.#rounds.throttlePercent,
      pagesSent: this.#pipeline?.pagesSent ?? 0, bytesSent: this.#bytesSent(), streamingMs: this.#streamingMs,
      startedAt: this.#startedAt, pausedAt: this.#pausedAt, startTokenAt: this.#startTokenAt, readyAt: this.#readyAt,
      blackoutPages: this.#blackoutPages, sourceDigest: this.#sourceDigest,
    }, committed, recovered);
    this.#log.info("committed", { totalMs: round2(record.totalMs), downtimeMs: round2(record.downtimeMs), rounds: record.rounds, bytesSent: record.bytesSent, digestMatch: record.digestMatch });
    if (record.digestMatch === false) this.#log.error("destination state differs from the source's at pause", { sourceDigest: this.#sourceDigest, destinationDigest: committed.digest });
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
    await this.#jobs.settled();
    // A rejection arrives on stream 0 just before the destination closes: give the reader a moment to see it.
    if (primary instanceof ConnectionClosedError) await Promise.race([this.#reader.done, delay(500)]);
    const rejection = this.#reader.rejection;
    let error: Error = primary;
    if (primary instanceof ConnectionClosedError) {
      // A destination that rejected a bundle sends its status, then closes: report the status, not the close.
      error = rejection && BigInt(rejection.status) !== 0n
        ? this.#reader.rejectionError(rejection, primary)
        : new MigrationConnectionLostError(phase, { migrationId: this.#id }, primary);
    }

    const decision = decideAbort(phase, rejection, this.#exported);
    switch (decision.action) {
      case "release":
        // Nothing was exported: the TD never left RUNNABLE.
        this.#transitionAborted(error.message, false);
        this.#cancelPeer(error.message);
        throw error;
      case "resume-with-token":
        this.#exportAbort(Buffer.from(decision.token, "base64"));
        this.#transitionAborted(error.message, true);
        throw error;
      case "recover": {
        const outcome = await recoverDestinationDecision({
          peer: this.#o.peer,
          hello: this.#hello(0),
          key: this.#o.key,
          timeoutMs: this.#s.connectTimeoutMs,
          attempts: this.#s.recoveryAttempts,
          log: this.#log,
        });
        if (outcome.kind === "committed") {
          this.#log.warn("the destination committed before the cut: the migration succeeded");
          return this.#finalize(outcome.committed, true);
        }
        if (outcome.kind === "unknown") {
          this.#advance({ type: "outcome-lost" });
          throw new MigrationOutcomeUnknownError({ migrationId: this.#id, phase }, error);
        }
        this.#exportAbort(outcome.token);
        this.#transitionAborted(error.message, true);
        throw error;
      }
      case "cancel-and-resume":
        this.#cancelPeer(error.message);
        this.#exportAbort(undefined);
        this.#transitionAborted(error.message, false);
        throw error;
    }
  }

  /** TDH.EXPORT.ABORT (with the destination's token once the start token is out), then TDH.EXPORT.RESTORE. */
  #exportAbort(token: Buffer | undefined): void {
    exportAbortAndRestore(this.#module, this.#td, this.#streams[0]!, token, { migrationId: this.#id });
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

  // ---- helpers ----

  #leaf<T>(leaf: string, status: TdxStatus, value?: T): T {
    return checkLeaf("source", this.#id, leaf, status, value);
  }

  #advance(event: SourceEvent): void {
    this.#state = advanceSource(this.#state, event);
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
        pendingBytes: this.#rounds.pendingBytes,
        bytesSent: this.#bytesSent(),
        memoryBytes: this.#td.memoryBytes,
        throttlePercent: this.#rounds.throttlePercent,
        elapsedMs: wallClockMs() - this.#startedAt,
      });
    } catch (err) {
      this.#log.warn("progress callback threw", { err });
    }
  }
}
