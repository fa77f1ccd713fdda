/**
 * The source's reader of what comes back from the destination: the answers to the HELLOs, then, on every connection
 * until it closes, EPOCH_ACK, READY, COMMITTED and a rejection (ABORT_TOKEN). What it learns settles the promises
 * the pipeline waits on; anything unexpected, a cut or a rejection fails the session's latch.
 */
import type { Logger } from "../log/index.js";
import { deferred, type Deferred } from "../util/index.js";
import { decodeAbortToken, decodeCommitted, decodeEpochMark, decodeHelloAck, decodeReject, ENGINE_PROTOCOL } from "./control-messages.js";
import type { AbortTokenMessage, CommittedMessage, RejectReason } from "./control-messages.js";
import { MigrationError, ProtocolError } from "./errors.js";
import type { MigrationErrorCode } from "./errors.js";
import type { FailureLatch } from "./failure-latch.js";
import { FRAME_TYPE, frameTypeName } from "./frame.js";
import type { Frame } from "./frame.js";
import type { FramedConnection } from "./framed-connection.js";
import { frameJson } from "./framed-connection.js";
import { rejectionError } from "./session-shared.js";
import type { MigrationPhase } from "./source-options.js";

/** The destination's refusals of an unauthorised HELLO, as the source reports them. */
const REFUSAL_CODES: Partial<Record<RejectReason, MigrationErrorCode>> = {
  "unknown-migration": "MIGRATION_NOT_ADMITTED",
  unauthenticated: "MIGRATION_HELLO_UNAUTHENTICATED",
  "memory-mismatch": "MIGRATION_HELLO_MEMORY_MISMATCH",
};

export interface BackwardReaderOptions {
  migrationId: string;
  log: Logger;
  latch: FailureLatch;
  /** The session's current phase (READY is only valid after the start token, a close only matters before commit). */
  phase: () => MigrationPhase;
}

export class BackwardReader {
  readonly #o: BackwardReaderOptions;
  /** The destination's ABORT_TOKEN, when it sent one. */
  #rejection: AbortTokenMessage | undefined;
  readonly #ready: Deferred<void> = deferred<void>();
  readonly #committed: Deferred<CommittedMessage> = deferred<CommittedMessage>();
  readonly #epochAcks = new Map<number, Deferred<void>>();
  #done: Promise<void> = Promise.resolve();

  constructor(options: BackwardReaderOptions) {
    this.#o = options;
  }

  get rejection(): AbortTokenMessage | undefined {
    return this.#rejection;
  }

  /** Resolves on READY. */
  get ready(): Promise<void> {
    return this.#ready.promise;
  }

  /** Resolves with COMMITTED. */
  get committed(): Promise<CommittedMessage> {
    return this.#committed.promise;
  }

  /** Settles once every connection's reader ended. */
  get done(): Promise<void> {
    return this.#done;
  }

  /** The error the source reports for the destination's rejection. */
  rejectionError(msg: AbortTokenMessage, cause?: Error): MigrationError {
    return rejectionError(msg, this.#o.migrationId, cause);
  }

  /** Checks one connection's answer to its HELLO; throws the refusal it carries. */
  checkHelloAnswer(frame: Frame): void {
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
        throw this.rejectionError(msg);
      }
      default:
        throw new ProtocolError("unexpected answer to HELLO", { got: frameTypeName(frame.type) });
    }
  }

  /** Starts reading every connection until it closes. */
  start(conns: readonly FramedConnection[]): void {
    this.#done = Promise.all(conns.map((c, i) => this.#read(c, i))).then(() => undefined);
  }

  /** The promise of the EPOCH_ACK for `epoch` (one epoch token in flight at a time). */
  expectEpochAck(epoch: number): Promise<void> {
    const acked = deferred<void>();
    this.#epochAcks.set(epoch, acked);
    return acked.promise.finally(() => this.#epochAcks.delete(epoch));
  }

  async #read(conn: FramedConnection, index: number): Promise<void> {
    for (;;) {
      let frame: Frame;
      try {
        frame = await conn.receive();
      } catch (err) {
        if (this.#o.phase() !== "committed") this.#o.latch.fail(err as Error);
        return;
      }
      try {
        this.#onFrame(frame, index);
      } catch (err) {
        this.#o.latch.fail(err as Error);
        return;
      }
    }
  }

  #onFrame(frame: Frame, index: number): void {
    switch (frame.type) {
      case FRAME_TYPE.ABORT_TOKEN: {
        const msg = decodeAbortToken(frameJson(frame));
        this.#rejection = msg;
        this.#o.log.warn("the destination rejected the migration", { status: msg.statusName, leaf: msg.leaf, stream: index });
        this.#o.latch.fail(this.rejectionError(msg));
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
        if (this.#o.phase() !== "awaiting-commit") throw new ProtocolError("READY before the start token", { phase: this.#o.phase() });
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
}
