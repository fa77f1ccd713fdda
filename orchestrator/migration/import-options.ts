/**
 * What an incoming migration is admitted with, and what the destination's import session is given and reports: the
 * admission a KeyProvider answers with, the hand-over verifier's question, the session's options and its records.
 */
import type { Logger } from "../log/index.js";
import type { Platform, TrustDomain } from "../tdx/index.js";
import type { BufferPool } from "./buffer-pool.js";
import type { AbortTokenMessage, CommittedMessage, StreamHelloMessage } from "./control-messages.js";
import type { FramedConnection } from "./framed-connection.js";
import type { DestinationState } from "./session-state.js";
import type { WorkerPool } from "./worker-pool.js";

/** What the destination learns from an incoming HELLO before it decides whether the migration is one it agreed to. */
export interface IncomingMigrationRequest {
  migrationId: string;
  migVersion: number;
  memoryBytes: number;
  numVcpus: number;
}

/**
 * A migration the destination agreed to: the session key the HELLO must prove, and the TD memory size the
 * destination accounted for (the import TD gets this size; a HELLO stating another is refused). `memoryBytes`
 * undefined (a bare engine without capacity accounting, e.g. tests) accepts the size of an authenticated HELLO.
 */
export interface IncomingAdmission {
  key: Uint8Array;
  memoryBytes?: number;
  /**
   * Asked, when COMMIT arrives, with the source's hand-over and the digest of the state imported here (before
   * TDH.IMPORT.COMMIT); it resolves to accept, throws to refuse. With a verifier the import is committed only after it
   * accepted: a refused or missing hand-over aborts the import (abort token to the source, which resumes the TD).
   */
  acceptHandOver?: HandOverVerifier;
}

/** What a destination's hand-over verifier is given (see IncomingAdmission.acceptHandOver). */
export interface HandOverCheck {
  /** The engine's id of the migration (16 bytes of hex). */
  migrationId: string;
  /** The source's statement, opaque to the engine ("" when the source gave none). */
  handOver: string;
  /** SHA-384 (hex) of the source TD's state at pause, as the source states it. */
  sourceDigest: string;
  /** SHA-384 (hex) of the state imported here, computed before commit. */
  digest: string;
}

export type HandOverVerifier = (check: HandOverCheck) => Promise<void>;

/**
 * Says whether an incoming migration is one this destination agreed to: its admission, or undefined (refused before
 * anything is reserved). A bare key is an admission without a memory size.
 */
export type KeyProvider = (request: IncomingMigrationRequest) => Uint8Array | IncomingAdmission | undefined | Promise<Uint8Array | IncomingAdmission | undefined>;

/** The record of a committed import. */
export interface CompletedImport {
  migrationId: string;
  /** The TD, running on this platform. */
  td: TrustDomain;
  streams: number;
  startedAt: number;
  /** Wall-clock ms at which the TD started running here. */
  runningAt: number;
  bytesReceived: number;
  bundles: number;
  pages: number;
  /** SHA-384 (hex) of the TD's state right after commit ("" when not computed). */
  digest: string;
}

export type ImportOutcome =
  | { kind: "committed"; committed: CommittedMessage }
  | { kind: "aborted"; abort: AbortTokenMessage };

export interface ImportSessionOptions {
  hello: StreamHelloMessage;
  conns: FramedConnection[];
  platform: Platform;
  /** The session key every HELLO of this migration proved. */
  key: Uint8Array;
  /** The import TD's memory: the admission's size, never one the peer states unchecked. */
  memoryBytes: number;
  pool: WorkerPool;
  logger: Logger;
  memoryProvider?: ((memoryBytes: number) => SharedArrayBuffer | undefined) | undefined;
  verifyDigest: boolean;
  importWindow: number;
  /** Memory bundles up to this many pages are imported on the main thread when the stream has none in flight. */
  inlineImportPages: number;
  /** Receives the bundle buffers back from the workers for later frames. */
  buffers: BufferPool;
  onStateChange?: ((migrationId: string, state: DestinationState, td: TrustDomain | undefined) => void) | undefined;
  /** See IncomingAdmission.acceptHandOver. */
  acceptHandOver?: HandOverVerifier | undefined;
  /** How long the verifier may take before the hand-over counts as refused (default 30 s). */
  handOverTimeoutMs?: number | undefined;
}
