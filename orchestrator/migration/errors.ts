import { TvmxError, type CodeOf, type TvmxErrorOptions } from "../errors/index.js";

/**
 * Typed errors of the migration engine. Every error carries a stable code (grouped under `MIGRATION_`), a short
 * message, structured details and the cause chain. A rejection by the TDX module (a leaf returning a non-success
 * status) additionally carries that status: it is the one stable numeric result code at the boundary between hosts.
 */

/** The migration codes of the registry (orchestrator/errors/codes.ts). */
export type MigrationErrorCode = CodeOf<"MIGRATION">;

export class MigrationError extends TvmxError {
  declare readonly code: MigrationErrorCode;

  constructor(code: MigrationErrorCode, message: string, options: TvmxErrorOptions = {}) {
    super(code, message, options);
    this.name = new.target.name;
  }
}

/** A frame whose declared length exceeds the negotiated maximum. */
export class FrameTooLargeError extends MigrationError {
  constructor(length: number, max: number) {
    super("MIGRATION_FRAME_TOO_LARGE", "frame exceeds the maximum size", { details: { length, max } });
  }
}

/** A frame that cannot be decoded (unknown type, bad payload). */
export class FrameInvalidError extends MigrationError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super("MIGRATION_FRAME_INVALID", message, { details });
  }
}

/** The peer closed or reset the connection while the protocol still expected frames. */
export class ConnectionClosedError extends MigrationError {
  constructor(details: Record<string, unknown> = {}, cause?: unknown) {
    super("MIGRATION_CONNECTION_CLOSED", "connection closed", { details, cause });
  }
}

/**
 * The destination refused the source's hand-over that came with COMMIT (its verifier threw: missing, not the
 * source's signature, another state digest): it aborts the import instead of committing, so the TD stays on the source.
 */
export class HandOverRefusedError extends MigrationError {
  constructor(details: Record<string, unknown> = {}, cause?: unknown) {
    super("MIGRATION_HANDOVER_REFUSED", "the hand-over that came with COMMIT was refused: the import is not committed", { details, cause });
  }
}

/** The peer sent something the protocol does not allow at this point. */
export class ProtocolError extends MigrationError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super("MIGRATION_PROTOCOL", message, { details });
  }
}

/**
 * A TDX leaf refused an operation (on either side): `status` is the module's status code. On the source this is how a
 * destination's rejection (delivered with its abort token) surfaces, so the caller sees the destination's exact status.
 */
export class MigrationRejectedError extends MigrationError {
  readonly status: bigint;
  readonly statusName: string;
  readonly side: "source" | "destination";

  constructor(side: "source" | "destination", leaf: string, status: bigint, statusName: string, options: TvmxErrorOptions = {}) {
    super("MIGRATION_REJECTED", `${leaf} failed on the ${side}: ${statusName}`, {
      details: { ...options.details, leaf, side, status, statusName },
      cause: options.cause,
    });
    this.status = status;
    this.statusName = statusName;
    this.side = side;
  }
}

/** The migration was aborted (by the caller's signal, the peer, or a failure given as `cause`). */
export class MigrationAbortedError extends MigrationError {
  constructor(message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super("MIGRATION_ABORTED", message, { details, cause });
  }
}

export class MigrationTimeoutError extends MigrationError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super("MIGRATION_TIMEOUT", message, { details });
  }
}

export class WorkerError extends MigrationError {
  constructor(message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super("MIGRATION_WORKER", message, { details, cause });
  }
}

/** A state-machine transition that is not allowed from the current state. */
export class InvalidStateError extends MigrationError {
  constructor(current: string, event: string, expected: readonly string[]) {
    super("MIGRATION_INVALID_STATE", `cannot ${event} in state ${current}`, { details: { current, event, expected } });
  }
}

export class InvalidArgumentError extends MigrationError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super("MIGRATION_INVALID_ARGUMENT", message, { details });
  }
}

/**
 * After the start token, only the destination decides. When it cannot be reached to learn whether it committed, the
 * source stays paused (it must not resume, the TD may be running at the destination) and reports this error.
 */
export class MigrationOutcomeUnknownError extends MigrationError {
  constructor(details: Record<string, unknown> = {}, cause?: unknown) {
    super("MIGRATION_OUTCOME_UNKNOWN", "the destination's decision is unknown; the source TD stays paused", { details, cause });
  }
}

/** The migration lost its connection to the peer in `phase`; the error says how the source came back. */
export class MigrationConnectionLostError extends MigrationError {
  readonly phase: string;

  constructor(phase: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super("MIGRATION_TRANSPORT", `connection to the peer lost during ${phase}`, { details: { ...details, phase }, cause });
    this.phase = phase;
  }
}
