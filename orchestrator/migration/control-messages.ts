/**
 * The engine's control messages (JSON payloads of the non-BUNDLE frames) and protocol-version negotiation.
 *
 * Versioning: the engine protocol (this framing and these control messages) has its own version range, negotiated
 * in HELLO / HELLO_ACK before any bundle flows; the TDX migration version (the MBMD's mig_version) is negotiated
 * separately by the TDX module's immutable-state import. Both reject a mismatch with a distinct code.
 */
import { ProtocolError } from "./errors.js";

export interface VersionRange {
  min: number;
  max: number;
}

/** Versions of the engine protocol this build speaks. Bump `max` for a compatible extension, `min` to drop one. */
export const ENGINE_PROTOCOL: Readonly<VersionRange> = Object.freeze({ min: 3, max: 3 });
// v2: the destination sends CHALLENGE first and HELLO carries a MAC under the session key (hello-auth.ts); v1
// (unauthenticated HELLO) is no longer accepted.
// v3: COMMIT carries the source's hand-over (CommitMessage): a destination that asks for one commits only after its
// verifier accepted it; v2 (an empty COMMIT) is no longer accepted.


/** The highest version both ranges contain, or undefined when they do not overlap. */
export function negotiateVersion(local: VersionRange, peer: VersionRange): number | undefined {
  const high = Math.min(local.max, peer.max);
  const low = Math.max(local.min, peer.min);
  return high >= low ? high : undefined;
}

export interface StreamHelloMessage {
  protocol: VersionRange;
  /** 32 hex characters, the same on every connection of one migration. */
  migrationId: string;
  /** This connection carries forward stream `streamIndex` (migs_index) of `streamCount`. */
  streamIndex: number;
  streamCount: number;
  /** A fresh connection asking what became of `migrationId` after a cut (no stream follows). */
  recover: boolean;
  /** The TDX migration version the source installed with the key (the destination installs the same). */
  migVersion: number;
  /** Size of the TD's private memory and its vCPU count: the destination prepares the import TD with them. */
  memoryBytes: number;
  numVcpus: number;
  /** 64 hex digits: HMAC over the fields above under a key derived from the session key and the challenge. */
  mac: string;
}

/** A HELLO before its MAC is computed. */
export type UnsignedStreamHello = Omit<StreamHelloMessage, "mac">;

/** destination → source, first frame on every connection: the nonce the HELLO's MAC must cover. */
export interface ChallengeMessage {
  /** 64 hex digits (32 random bytes). */
  nonce: string;
}

export interface HelloAckMessage {
  protocol: number;
}

export type RejectReason = "version-mismatch" | "unknown-migration" | "busy" | "bad-hello" | "closed" | "unauthenticated" | "memory-mismatch";

export interface RejectMessage {
  reason: RejectReason;
  message: string;
  /** The registry's numeric result code of the refusal (orchestrator/errors/codes.ts), when it has one. */
  code?: number;
}

export interface EpochMarkMessage {
  epoch: number;
}

/** The destination's refusal: the TDX status that caused it and the abort token from TDH.IMPORT.ABORT. */
export interface AbortTokenMessage {
  status: string;
  statusName: string;
  leaf: string;
  message: string;
  /** base64 of the abort-token bundle (empty when the destination could not produce one, e.g. no key). */
  token: string;
}

export interface CommittedMessage {
  /** Wall-clock time (ms since the epoch, sub-ms precision) at which the TD started running on the destination. */
  runningAt: number;
  /** Hex digest of the TD's state after import, for the source to compare with its own at pause. */
  digest: string;
}

/**
 * source → destination, after READY: commit the import. `handOver` is opaque to the engine: the host's signed statement
 * that the source paused the TD at `sourceDigest` and hands it over (the host flow puts its EIP-712 MigrationReceipt
 * signature there); "" when the source gives none. `sourceDigest` is the SHA-384 (hex) of the source TD's state at
 * pause.
 */
export interface CommitMessage {
  handOver: string;
  sourceDigest: string;
}

export interface CancelMessage {
  reason: string;
}

const MIGRATION_ID = /^[0-9a-f]{32}$/;
const HEX_256 = /^[0-9a-f]{64}$/;

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ProtocolError(`${what} is not an object`);
  return value as Record<string, unknown>;
}

function int(obj: Record<string, unknown>, key: string, what: string, min = 0, max = 0xffff_ffff): number {
  const v = obj[key];
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new ProtocolError(`${what}.${key} must be an integer in [${min}, ${max}]`, { value: v });
  }
  return v;
}

function str(obj: Record<string, unknown>, key: string, what: string): string {
  const v = obj[key];
  if (typeof v !== "string") throw new ProtocolError(`${what}.${key} must be a string`, { value: v });
  return v;
}

export function decodeHello(value: unknown): StreamHelloMessage {
  const o = record(value, "HELLO");
  const protocol = record(o.protocol, "HELLO.protocol");
  const migrationId = str(o, "migrationId", "HELLO");
  if (!MIGRATION_ID.test(migrationId)) throw new ProtocolError("HELLO.migrationId must be 32 lowercase hex digits", { migrationId });
  const streamCount = int(o, "streamCount", "HELLO", 1, 16);
  const streamIndex = int(o, "streamIndex", "HELLO", 0, streamCount - 1);
  if (typeof o.recover !== "boolean") throw new ProtocolError("HELLO.recover must be a boolean");
  return {
    protocol: { min: int(protocol, "min", "HELLO.protocol", 1, 0xffff), max: int(protocol, "max", "HELLO.protocol", 1, 0xffff) },
    migrationId,
    streamIndex,
    streamCount,
    recover: o.recover,
    migVersion: int(o, "migVersion", "HELLO", 0, 0xffff),
    memoryBytes: int(o, "memoryBytes", "HELLO", 4096, Number.MAX_SAFE_INTEGER),
    numVcpus: int(o, "numVcpus", "HELLO", 1, 0xffff),
    mac: hex256(o, "mac", "HELLO"),
  };
}

function hex256(obj: Record<string, unknown>, key: string, what: string): string {
  const v = str(obj, key, what);
  if (!HEX_256.test(v)) throw new ProtocolError(`${what}.${key} must be 64 lowercase hex digits`);
  return v;
}

export function decodeChallenge(value: unknown): ChallengeMessage {
  return { nonce: hex256(record(value, "CHALLENGE"), "nonce", "CHALLENGE") };
}

export function decodeHelloAck(value: unknown): HelloAckMessage {
  return { protocol: int(record(value, "HELLO_ACK"), "protocol", "HELLO_ACK", 1, 0xffff) };
}

const REJECT_REASONS: ReadonlySet<string> = new Set(["version-mismatch", "unknown-migration", "busy", "bad-hello", "closed", "unauthenticated", "memory-mismatch"]);

export function decodeReject(value: unknown): RejectMessage {
  const o = record(value, "REJECT");
  const reason = str(o, "reason", "REJECT");
  if (!REJECT_REASONS.has(reason)) throw new ProtocolError("REJECT.reason is unknown", { reason });
  const code = o.code === undefined ? undefined : int(o, "code", "REJECT", 0, 0xffff);
  return { reason: reason as RejectReason, message: str(o, "message", "REJECT"), ...(code === undefined ? {} : { code }) };
}

export function decodeEpochMark(value: unknown): EpochMarkMessage {
  return { epoch: int(record(value, "EPOCH_MARK"), "epoch", "EPOCH_MARK") };
}

export function decodeAbortToken(value: unknown): AbortTokenMessage {
  const o = record(value, "ABORT_TOKEN");
  return {
    status: str(o, "status", "ABORT_TOKEN"),
    statusName: str(o, "statusName", "ABORT_TOKEN"),
    leaf: str(o, "leaf", "ABORT_TOKEN"),
    message: str(o, "message", "ABORT_TOKEN"),
    token: str(o, "token", "ABORT_TOKEN"),
  };
}

export function decodeCommitted(value: unknown): CommittedMessage {
  const o = record(value, "COMMITTED");
  const runningAt = o.runningAt;
  if (typeof runningAt !== "number" || !Number.isFinite(runningAt)) throw new ProtocolError("COMMITTED.runningAt must be a number");
  return { runningAt, digest: str(o, "digest", "COMMITTED") };
}

export function decodeCommit(value: unknown): CommitMessage {
  const o = record(value, "COMMIT");
  return { handOver: str(o, "handOver", "COMMIT"), sourceDigest: str(o, "sourceDigest", "COMMIT") };
}

export function decodeCancel(value: unknown): CancelMessage {
  return { reason: str(record(value, "CANCEL"), "reason", "CANCEL") };
}
