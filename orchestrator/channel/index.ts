/** The secure auction channel: RA-TLS (quote in the certificate), typed messages, protected sessions. */
export { ChannelError } from "./errors.js";
export type { ChannelErrorCode } from "./errors.js";
export { StaticHostDirectory } from "./host-directory.js";
export type { HostDirectory, HostRecord } from "./host-directory.js";
export {
  buildChannelCertificate,
  channelKeyMessage,
  channelReportData,
  createChannelIdentity,
  decodeHostBinding,
  encodeHostBinding,
  HOST_BINDING_EXTENSION_OID,
  keyFingerprintOf,
  spkiOf,
  claimedHostOf,
  TDX_QUOTE_EXTENSION_OID,
  verifyPeerEvidence,
} from "./evidence.js";
export type { ChannelCertificateParts, ChannelIdentity, ChannelTrust, HostSigner, PeerIdentity } from "./evidence.js";
export { MESSAGE_TYPE, messageTypeName, validateMessage } from "./messages.js";
export type * from "./messages.js";
export { DEFAULT_MAX_PAYLOAD, encodeMessage, EnvelopeDecoder, ENVELOPE_HEADER_SIZE, WIRE_VERSION } from "./wire.js";
export type { DecodeResult } from "./wire.js";
export { ALPN_PROTOCOL, CHANNEL_BINDING_LABEL, ChannelConnection, helloMessageText } from "./connection.js";
export type { ConnectionOptions, ReceiveFilter } from "./connection.js";
export { CHANNEL_SERVER_DEFAULTS, ChannelServer, REFUSAL_REASONS } from "./server.js";
export type { ChannelServerOptions, PendingCounts, RefusalReason, RejectedPeer } from "./server.js";
export { connectChannel } from "./client.js";
export type { ConnectChannelOptions } from "./client.js";
export { negotiateMigrationVersion, runProtectedSession, SESSION_EXPORTER_LABEL } from "./session.js";
export type { ProtectedSession, ProtectedSessionOptions, SessionKeyInstaller } from "./session.js";
export { ackReportData, buildAck, buildMigrationRequest, sessionVersionRange, tdKeyInstaller, verifyAck, verifyMigrationRequest } from "./migration-request.js";
