/**
 * The live-migration engine: TDX migration streams over TCP, a worker-pool controller, pre-copy with convergence
 * and auto-converge, blackout, commit. See docs/migration.md.
 */
export { migrateOut } from "./source-session.js";
export { migrationWorkerEntry } from "./session-shared.js";
export type { CompletedMigration, MigrateOutOptions, MigrationPhase, MigrationProgress, RoundRecord } from "./source-options.js";
export { listenIncoming } from "./destination-listener.js";
export { queryDestinationDecision, resolveOutgoing } from "./recover.js";
export type { DestinationDecision, ResolveOutgoingOptions } from "./recover.js";
export type { IncomingListener, ListenIncomingOptions, StreamRefusal } from "./destination-listener.js";
export type { CompletedImport, HandOverCheck, HandOverVerifier, IncomingAdmission, IncomingMigrationRequest, KeyProvider } from "./import-options.js";
export type { PeerAddress } from "./connect.js";
export { WorkerPool } from "./worker-pool.js";
export type { WorkerPoolOptions } from "./worker-pool.js";
export { decideConvergence, DEFAULT_CONVERGENCE_POLICY, estimateDowntimeMs } from "./convergence.js";
export type { ConvergenceDecision, ConvergenceInput, ConvergenceLimitStrategy, ConvergencePolicy } from "./convergence.js";
export { DEFAULT_AUTO_CONVERGE_POLICY, guestSpeedFactor, INITIAL_AUTO_CONVERGE_STATE, nextAutoConverge } from "./auto-converge.js";
export type { AutoConvergePolicy, AutoConvergeState } from "./auto-converge.js";
export { measureAesGcmLimit, measureNativeAesGcmLimit } from "./aes-limit.js";
export { measureLoopbackTcpLimit } from "./tcp-limit.js";
export type { TcpLimit } from "./tcp-limit.js";
export type { AesGcmLimit, AesGcmLimitOptions } from "./aes-limit.js";
export { ENGINE_PROTOCOL, negotiateVersion } from "./control-messages.js";
export type { CommitMessage, VersionRange } from "./control-messages.js";
export { FRAME_TYPE, MAX_FRAME_BYTES } from "./frame.js";
export type { DestinationState, SourceState } from "./session-state.js";
export {
  ConnectionClosedError,
  FrameInvalidError,
  FrameTooLargeError,
  HandOverRefusedError,
  InvalidArgumentError,
  InvalidStateError,
  MigrationAbortedError,
  MigrationConnectionLostError,
  MigrationError,
  MigrationOutcomeUnknownError,
  MigrationRejectedError,
  MigrationTimeoutError,
  ProtocolError,
  WorkerError,
} from "./errors.js";
export type { MigrationErrorCode } from "./errors.js";
