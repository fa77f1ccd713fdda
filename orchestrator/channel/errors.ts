/**
 * Typed errors of the secure auction channel (codes CHANNEL_*). `fatal` says whether the connection can
 * go on after the error (a malformed message whose length was known: yes; a framing error: no).
 */
import { TvmxError, type ErrorDetails } from "../errors/index.js";

export type ChannelErrorCode =
  /** TLS handshake or peer authentication failed (generic). */
  | "CHANNEL_HANDSHAKE"
  | "CHANNEL_PEER_CERT_MISSING"
  | "CHANNEL_PEER_EVIDENCE_INVALID"
  | "CHANNEL_REPORT_DATA_MISMATCH"
  | "CHANNEL_HOST_SIGNATURE_INVALID"
  | "CHANNEL_HOST_NOT_REGISTERED"
  | "CHANNEL_HOST_KEY_MISMATCH"
  | "CHANNEL_UNEXPECTED_PEER"
  | "CHANNEL_BINDING_INVALID"
  /** Wire: message structure. */
  | "CHANNEL_PROTOCOL"
  | "CHANNEL_BAD_VERSION"
  | "CHANNEL_MESSAGE_TOO_LARGE"
  | "CHANNEL_UNKNOWN_MESSAGE"
  | "CHANNEL_MALFORMED_MESSAGE"
  /** A migration request or ACK whose content does not hold. */
  | "CHANNEL_REQUEST_INVALID"
  /** Session. */
  | "CHANNEL_VERSION_RANGE"
  | "CHANNEL_SESSION_FAILED"
  | "CHANNEL_PEER_ERROR"
  | "CHANNEL_CLOSED"
  | "CHANNEL_TIMEOUT";

export class ChannelError extends TvmxError {
  declare readonly code: ChannelErrorCode;
  readonly fatal: boolean;

  constructor(code: ChannelErrorCode, message: string, options: { details?: ErrorDetails; cause?: unknown; fatal?: boolean } = {}) {
    super(code, message, { details: options.details, cause: options.cause });
    this.name = "ChannelError";
    this.fatal = options.fatal ?? true;
  }
}
