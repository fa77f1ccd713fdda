/**
 * The destination side of one incoming migration, as a pipeline of named steps:
 *
 *   prepare (import TD, key, streams, workers) → acknowledge → import streams (epochs, barriers) → ready → commit
 *
 * Each forward stream's bundles go, in order, to the worker bound to that stream (import-bundle descriptors, a few
 * in flight, so that reading stops and TCP backpressure reaches the source when the workers fall behind). Epoch
 * tokens are imported only when every stream has delivered everything of that epoch (EPOCH_MARK barriers). Any
 * failure runs TDH.IMPORT.ABORT and sends the abort token with the status back to the source; the import TD is
 * torn down and never ran.
 */
import type { Logger } from "../log/index.js";
import { importLeafName, isSuccess, MB_TYPE, MIG_EPOCH_START_TOKEN, peekMbmdHeader, peekMemPageCount, statusName, tdStateDigest } from "../tdx/index.js";
import type { MigStreamContext, Platform, TdxStatus, TrustDomain } from "../tdx/index.js";
import type { BufferPool } from "./buffer-pool.js";
import { deferred, withTimeout } from "../util/index.js";
import { EpochBarrier } from "./epoch-barrier.js";
import { FailureLatch } from "./failure-latch.js";
import { ImportFailures } from "./import-failures.js";
import { abortTokenMessage, checkLeaf, JobTracker } from "./session-shared.js";
import { ConnectionClosedError, HandOverRefusedError, MigrationAbortedError, MigrationTimeoutError, ProtocolError } from "./errors.js";
import { FRAME_TYPE, frameTypeName } from "./frame.js";
import type { FramedConnection } from "./framed-connection.js";
import { frameJson } from "./framed-connection.js";
import { wallClockMs } from "./metrics.js";
import { decodeCancel, decodeCommit, decodeEpochMark, ENGINE_PROTOCOL } from "./control-messages.js";
import type { AbortTokenMessage, CommitMessage, CommittedMessage, StreamHelloMessage } from "./control-messages.js";
import { advanceDestination } from "./session-state.js";
import type { DestinationEvent, DestinationState } from "./session-state.js";
import type { ImportBundleOutcome } from "./work-descriptors.js";
import type { CompletedImport, ImportOutcome, ImportSessionOptions } from "./import-options.js";
import type { WorkerPool } from "./worker-pool.js";

export class ImportSession {
  readonly id: string;
  readonly #o: ImportSessionOptions;
  readonly #log: Logger;
  readonly #conns: FramedConnection[];
  readonly #streamCount: number;
  #state: DestinationState = { phase: "handshake" };
  #td: TrustDomain | undefined;
  #streams: MigStreamContext[] = [];
  #keyInstalled = false;
  /** The first failure; every wait in the pipeline races against it. */
  readonly #latch = new FailureLatch();
  readonly #jobs = new JobTracker();
  readonly #immutableDone = deferred<void>();
  readonly #barrier: EpochBarrier;
  readonly #startedAt = wallClockMs();
  #bundles = 0;
  #pages = 0;
  readonly #importFailures = new ImportFailures();
  /** Settles when the session has a final outcome (for RECOVER and for accept()). */
  readonly outcome = deferred<ImportOutcome>();

  constructor(options: ImportSessionOptions) {
    this.#o = options;
    this.id = options.hello.migrationId;
    this.#conns = options.conns;
    this.#streamCount = options.hello.streamCount;
    this.#log = options.logger.child({ streamId: this.id, side: "destination" });
    this.#barrier = new EpochBarrier(this.#streamCount);
  }

  get phase(): DestinationState["phase"] {
    return this.#state.phase;
  }

  /** Ends the session from outside (the source asked to recover, or the listener closes). */
  interrupt(err: Error): void {
    this.#latch.fail(err);
  }

  async run(): Promise<CompletedImport> {
    for (const conn of this.#conns) {
      void conn.closed.then(() => {
        if (this.#state.phase !== "committed") this.#latch.fail(new ConnectionClosedError({ connection: conn.label, phase: this.#state.phase }));
      });
    }
    try {
      await this.#prepare();
      await this.#acknowledge();
      await this.#importStreams();
      const commit = await this.#awaitCommit();
      const digest = await this.#acceptHandOver(commit);
      return this.#commit(digest);
    } catch (err) {
      throw await this.#abort(err as Error);
    }
  }

  // ---- steps ----

  /** Creates the import TD, installs the key, creates the streams and opens the TD in the workers. */
  async #prepare(): Promise<void> {
    const { hello, platform } = this.#o;
    const memoryBytes = this.#o.memoryBytes;
    const memory = this.#o.memoryProvider?.(memoryBytes);
    const td = platform.createImportTd({ memoryBytes, numVcpus: hello.numVcpus, ...(memory ? { memory } : {}) });
    this.#td = td;
    this.#leaf("setMigrationKey", platform.module.setMigrationKey(td, this.#o.key, hello.migVersion).status);
    this.#keyInstalled = true;
    for (let i = 0; i < this.#streamCount; i++) {
      const r = platform.module.streamCreate(td, i);
      this.#streams.push(this.#leaf("TDH.MIG.STREAM.CREATE", r.status, r.stream));
    }
    await this.#latch.guard(this.#o.pool.broadcast({ kind: "open-td", handle: td.handle }));
  }

  async #acknowledge(): Promise<void> {
    await this.#latch.guard(Promise.all(this.#conns.map((c) => c.sendJson(FRAME_TYPE.HELLO_ACK, { protocol: ENGINE_PROTOCOL.max }))));
    this.#advance({ type: "streams-open" });
    this.#log.info("import started", { streams: this.#streamCount, memoryBytes: this.#o.memoryBytes, migVersion: this.#o.hello.migVersion });
  }

  async #importStreams(): Promise<void> {
    await this.#latch.guard(Promise.all(this.#conns.map((_, k) => this.#streamLoop(k))));
  }

  /** After READY, the only thing stream 0 may carry is COMMIT (or CANCEL). */
  async #awaitCommit(): Promise<CommitMessage> {
    const frame = await this.#latch.guard(this.#conns[0]!.receive());
    if (frame.type === FRAME_TYPE.COMMIT) return decodeCommit(frameJson(frame));
    if (frame.type === FRAME_TYPE.CANCEL) throw new MigrationAbortedError("the source cancelled the migration", { ...decodeCancel(frameJson(frame)) });
    throw new ProtocolError("expected COMMIT", { got: frameTypeName(frame.type) });
  }

  /**
   * The hand-over, checked before the commit: with a verifier, no commit without its acceptance. Returns the digest of
   * the imported state when it computed one ("" otherwise).
   */
  async #acceptHandOver(commit: CommitMessage): Promise<string> {
    const verify = this.#o.acceptHandOver;
    if (!verify) return "";
    // Digested in a worker: this thread keeps serving other sessions' sockets meanwhile. Not raced against the
    // failure latch, like the verifier below.
    const digest = await this.#jobs.track(this.#o.pool.submit<string>(0, { kind: "digest", tdId: this.#td!.id }));
    const timeoutMs = this.#o.handOverTimeoutMs ?? 30_000;
    try {
      // Not raced against the failure latch: once the source sent COMMIT with its hand-over, the source going away
      // (a crash, a cut) must not keep this side from committing. Only the verifier's answer decides.
      await withTimeout(verify({ migrationId: this.id, handOver: commit.handOver, sourceDigest: commit.sourceDigest, digest }), timeoutMs, () =>
        new MigrationTimeoutError("the hand-over verifier did not answer in time", { migrationId: this.id, timeoutMs }),
      );
    } catch (err) {
      throw new HandOverRefusedError({ migrationId: this.id, sourceDigest: commit.sourceDigest, digest }, err);
    }
    this.#log.info("hand-over accepted", { digest });
    return digest;
  }

  /** TDH.IMPORT.COMMIT and TDH.IMPORT.END: from here the TD runs here and nowhere else. */
  #commit(importedDigest: string): CompletedImport {
    const td = this.#td!;
    const module = this.#o.platform.module;
    this.#leaf("TDH.IMPORT.COMMIT", module.importCommit(td).status);
    const runningAt = wallClockMs();
    this.#advance({ type: "commit", runningAt });
    this.#leaf("TDH.IMPORT.END", module.importEnd(td).status);
    // The commit changes nothing the digest covers: the one computed for the hand-over is the running TD's too.
    const digest = importedDigest || (this.#o.verifyDigest ? tdStateDigest(td).toString("hex") : "");
    const committed: CommittedMessage = { runningAt, digest };
    this.#conns[0]!.sendJson(FRAME_TYPE.COMMITTED, committed).catch((err: unknown) => {
      // The source will learn the outcome through RECOVER.
      this.#log.warn("could not send COMMITTED", { err });
    });
    this.outcome.resolve({ kind: "committed", committed });
    void this.#o.pool.broadcast({ kind: "close-td", tdId: td.id }).catch((err: unknown) => this.#log.warn("closing the TD in the workers failed", { err }));
    this.#log.info("committed: the TD runs here", { bundles: this.#bundles, pages: this.#pages, importMs: Math.round(runningAt - this.#startedAt) });
    return {
      migrationId: this.id,
      td,
      streams: this.#streamCount,
      startedAt: this.#startedAt,
      runningAt,
      bytesReceived: this.#conns.reduce((s, c) => s + c.bytesReceived, 0),
      bundles: this.#bundles,
      pages: this.#pages,
      digest,
    };
  }

  // ---- streams ----

  async #streamLoop(k: number): Promise<void> {
    const conn = this.#conns[k]!;
    const stream = this.#streams[k]!;
    const window: Promise<ImportBundleOutcome>[] = [];
    const drain = async (): Promise<void> => {
      while (window.length > 0) this.#checkImport(await this.#latch.guard(window.shift()!));
    };
    if (k !== 0) await this.#latch.guard(this.#immutableDone.promise);
    for (;;) {
      const frame = await this.#latch.guard(conn.receive());
      if (frame.type === FRAME_TYPE.BUNDLE) {
        const header = peekMbmdHeader(frame.payload);
        if (header?.mbType === MB_TYPE.MEM) {
          // A small bundle with nothing ahead of it on this stream is opened here: no worker round trip.
          const small = (peekMemPageCount(frame.payload) ?? Infinity) <= this.#o.inlineImportPages;
          if (window.length === 0 && small) {
            this.#checkImport(this.#importInline(stream, frame.payload));
            this.#o.buffers.give(frame.payload.buffer as ArrayBuffer);
            continue;
          }
          window.push(this.#submit(k, stream, frame.payload));
          if (window.length >= this.#o.importWindow) this.#checkImport(await this.#latch.guard(window.shift()!));
          continue;
        }
        // State bundles and tokens are small: they run here, in stream order, once the stream's memory is in.
        await drain();
        if (header?.mbType !== MB_TYPE.EPOCH_TOKEN) {
          this.#checkImport(this.#importInline(stream, frame.payload));
          if (header?.mbType === MB_TYPE.IMMUTABLE_TD_STATE) this.#immutableDone.resolve();
          continue;
        }
        const epoch = header.migEpoch;
        await this.#latch.guard(this.#barrier.allArrived(epoch));
        this.#checkImport(this.#importInline(stream, frame.payload));
        this.#barrier.markImported(epoch);
        if (epoch === MIG_EPOCH_START_TOKEN) {
          this.#advance({ type: "start-token-verified" });
          await this.#latch.guard(conn.send(FRAME_TYPE.READY));
          return;
        }
        this.#advance({ type: "epoch", epoch });
        // The source learns that everything up to here is verified before it ever pauses the TD.
        await this.#latch.guard(conn.sendJson(FRAME_TYPE.EPOCH_ACK, { epoch }));
        continue;
      }
      if (frame.type === FRAME_TYPE.EPOCH_MARK && k !== 0) {
        const { epoch } = decodeEpochMark(frameJson(frame));
        await drain();
        this.#barrier.arrive(k, epoch);
        await this.#latch.guard(this.#barrier.tokenImported(epoch));
        if (epoch === MIG_EPOCH_START_TOKEN) return;
        continue;
      }
      if (frame.type === FRAME_TYPE.CANCEL) throw new MigrationAbortedError("the source cancelled the migration", { ...decodeCancel(frameJson(frame)) });
      throw new ProtocolError("unexpected frame on a forward stream", { got: frameTypeName(frame.type), stream: k });
    }
  }

  /** Runs the import leaf for a small bundle on this thread (no page crypto worth a worker round trip). */
  #importInline(stream: MigStreamContext, payload: Buffer): ImportBundleOutcome {
    const r = this.#o.platform.module.importBundle(this.#td!, stream, payload);
    const outcome: ImportBundleOutcome = { status: r.status, mbType: r.mbType, pages: r.pages, start: r.start, buffer: new ArrayBuffer(0) };
    if (!isSuccess(r.status)) this.#importFailures.record(outcome);
    return outcome;
  }

  #submit(k: number, stream: MigStreamContext, payload: Buffer): Promise<ImportBundleOutcome> {
    const buffer = payload.buffer as ArrayBuffer;
    const p = this.#jobs.track(this.#o.pool.submit<ImportBundleOutcome>(k % this.#o.pool.size, { kind: "import-bundle", tdId: this.#td!.id, stream, bundle: buffer }, [buffer]));
    p.then(
      (r) => {
        this.#o.buffers.give(r.buffer);
        if (!isSuccess(r.status)) this.#importFailures.record(r);
      },
      () => undefined,
    );
    return p;
  }

  #checkImport(r: ImportBundleOutcome): void {
    this.#leaf(importLeafName(r.mbType), r.status);
    this.#bundles++;
    this.#pages += r.pages;
  }

  // ---- abort ----

  /** TDH.IMPORT.ABORT, the abort token to the source, the import TD torn down. Returns the error to report. */
  async #abort(reason: Error): Promise<Error> {
    this.#latch.fail(reason);
    await this.#jobs.settled();
    const error = this.#importFailures.rootCause(this.#latch.error ?? reason, this.id);
    const td = this.#td;
    const module = this.#o.platform.module;
    let token = "";
    if (td && this.#keyInstalled && this.#streams[0]) {
      const r = module.importAbort(td, this.#streams[0]);
      if (isSuccess(r.status) && r.bundle) token = r.bundle.toString("base64");
      else this.#log.warn("TDH.IMPORT.ABORT gave no token", { status: statusName(r.status) });
    }
    const abort = abortTokenMessage(error, token);
    if (this.#state.phase !== "aborted") {
      this.#state = advanceDestination(this.#state, { type: "abort", status: abort.statusName, reason: error.message });
      this.#notify();
    }
    this.outcome.resolve({ kind: "aborted", abort });
    const conn0 = this.#conns[0];
    if (conn0?.isOpen) {
      // The status and token go first on stream 0; then the connections close.
      await conn0.sendJson(FRAME_TYPE.ABORT_TOKEN, abort).catch(() => undefined);
      conn0.end();
    }
    for (const c of this.#conns.slice(1)) c.end();
    if (td) {
      const down = module.teardown(td);
      if (!isSuccess(down.status)) this.#log.warn("tearing down the import TD failed", { status: statusName(down.status) });
      await this.#o.pool.broadcast({ kind: "close-td", tdId: td.id }).catch(() => undefined);
    }
    this.#log.warn("import aborted", { status: abort.statusName, leaf: abort.leaf, reason: error.message });
    return error;
  }

  // ---- helpers ----

  #leaf<T>(leaf: string, status: TdxStatus, value?: T): T {
    return checkLeaf("destination", this.id, leaf, status, value);
  }

  #advance(event: DestinationEvent): void {
    this.#state = advanceDestination(this.#state, event);
    this.#notify();
  }

  #notify(): void {
    try {
      this.#o.onStateChange?.(this.id, this.#state, this.#td);
    } catch (err) {
      this.#log.warn("state listener threw", { err });
    }
  }
}
