/**
 * The migration-specific messages, built from and checked against the CPU model:
 * - the MIGRATION_REQUEST carries TDH.MIG.INITIATE's descriptor, signed by the source platform's attestation
 *   key; a destination verifies it with the attestation key that the source's quote (in its channel
 *   certificate) vouches for, and checks that the unsigned copies of the TCB capability, version range and
 *   configuration match the signed descriptor;
 * - an ACK carries a fresh quote of the destination whose REPORTDATA binds the migration id and the
 *   destination's channel key; the source verifies it against its policy and the TVM's TCB capability;
 * - the protected session installs its key into the TD's migration context (setMigrationKey).
 */
import { createHash } from "node:crypto";
import { getAddress } from "ethers";
import { assertPolicy, type Attester, publicKeyFromRaw, tcbCapabilityOf, type VerifiedQuote, verifyQuote } from "../attestation/index.js";
import { decodeMigRequest, isSuccess, MIG_REQUEST_SIZE, type MigRequestDescriptor, type PlatformInfo, setMigrationKey, statusName, type TrustDomain, verifyMigRequest } from "../tdx/index.js";
import { ChannelError } from "./errors.js";
import type { ChannelTrust, PeerIdentity } from "./evidence.js";
import type { AckMessage, MigrationRequestMessage, MigrationVersionRange } from "./messages.js";
import type { SessionKeyInstaller } from "./session.js";

const SIGNED_SIZE = MIG_REQUEST_SIZE - 64;
const hex = (b: Uint8Array) => `0x${Buffer.from(b).toString("hex")}`;
const bytesOf = (h: string) => Buffer.from(h.slice(2), "hex");

/** The TVM configuration as the request shows it (a readable copy of the signed descriptor's fields). */
function tvmConfigOf(d: MigRequestDescriptor): Record<string, unknown> {
  return {
    tdId: hex(d.tdId),
    attributes: `0x${d.attributes.toString(16).padStart(16, "0")}`,
    xfam: `0x${d.xfam.toString(16).padStart(16, "0")}`,
    mrTd: hex(d.mrTd),
    numVcpus: d.numVcpus,
    memoryBytes: d.memoryBytes,
    cpuidFeatures: `0x${d.cpuidFeatures.toString(16)}`,
    issuedAtMs: d.issuedAtMs,
  };
}

/** The broadcast of a TDH.MIG.INITIATE descriptor (`encoded`: its 240 bytes). */
export function buildMigrationRequest(encoded: Buffer, options: { migrationId: string; ackDeadline: number }): MigrationRequestMessage {
  const { descriptor } = decodeMigRequest(encoded);
  return {
    type: "MIGRATION_REQUEST",
    migrationId: options.migrationId,
    descriptor: { bytes: hex(encoded.subarray(0, SIGNED_SIZE)), signature: hex(encoded.subarray(SIGNED_SIZE)) },
    tvmConfig: tvmConfigOf(descriptor),
    tcbCapability: tcbCapabilityOf(descriptor.tcb),
    migrationVersions: { ...descriptor.migrationVersions },
    ackDeadline: options.ackDeadline,
  };
}

function requestInvalid(message: string, details: Record<string, unknown>): ChannelError {
  return new ChannelError("CHANNEL_REQUEST_INVALID", message, { fatal: false, details });
}

/**
 * Verifies a migration request from `source` (the authenticated peer that sent it): the descriptor's
 * signature under the attestation key of the source's quote, and the unsigned copies against the signed
 * descriptor. Returns the descriptor.
 */
export function verifyMigrationRequest(request: MigrationRequestMessage, source: PeerIdentity): MigRequestDescriptor {
  const encoded = Buffer.concat([bytesOf(request.descriptor.bytes), bytesOf(request.descriptor.signature)]);
  const attestationKey = publicKeyFromRaw(source.quote.quote.signatureData.attestationKey);
  const result = verifyMigRequest(encoded, attestationKey);
  if (!result.valid) {
    throw requestInvalid(`migration request ${request.migrationId} from ${source.address}: descriptor ${result.reason} (${result.message})`, {
      migrationId: request.migrationId,
      source: source.address,
      reason: result.reason,
    });
  }
  const d = result.descriptor;
  const signedCopy = {
    tvmConfig: tvmConfigOf(d),
    tcbCapability: tcbCapabilityOf(d.tcb),
    migrationVersions: { ...d.migrationVersions },
  };
  for (const key of ["tvmConfig", "tcbCapability", "migrationVersions"] as const) {
    if (JSON.stringify(request[key]) !== JSON.stringify(signedCopy[key])) {
      throw requestInvalid(`migration request ${request.migrationId}: ${key} differs from the signed descriptor`, {
        migrationId: request.migrationId,
        field: key,
        sent: request[key],
        signed: signedCopy[key],
      });
    }
  }
  return d;
}

/** REPORTDATA of an acknowledgement's quote: binds the migration and the acknowledging host's channel key. */
export function ackReportData(migrationId: string, channelKeyFingerprint: string): Buffer {
  return createHash("sha512").update("TVMX-ACK-v1\0").update(bytesOf(migrationId)).update(bytesOf(channelKeyFingerprint)).digest();
}

/** The acknowledgement of a destination that can host the TVM. */
export function buildAck(
  attester: Attester,
  options: { migrationId: string; channelKeyFingerprint: string; migrationVersions: MigrationVersionRange; capacity: number },
): AckMessage {
  const quote = attester.quote(ackReportData(options.migrationId, options.channelKeyFingerprint));
  return { type: "ACK", migrationId: options.migrationId, quote: hex(quote), migrationVersions: { ...options.migrationVersions }, capacity: options.capacity };
}

/**
 * The source's check of an ACK from `destination`: the quote verifies, is fresh for this migration and
 * this channel key, is the same platform the channel authenticated, and passes the policy together with
 * the TVM's TCB capability; the version ranges overlap.
 */
export async function verifyAck(
  ack: AckMessage,
  destination: PeerIdentity,
  trust: ChannelTrust,
  request: { migrationId: string; tcbRequirement?: MigRequestDescriptor["tcb"]; migrationVersions: MigrationVersionRange },
): Promise<VerifiedQuote> {
  if (ack.migrationId !== request.migrationId) {
    throw requestInvalid(`ACK for ${ack.migrationId}, expected ${request.migrationId}`, { migrationId: ack.migrationId });
  }
  let quote: VerifiedQuote;
  try {
    quote = await verifyQuote(bytesOf(ack.quote), { trustedRoots: trust.trustedRoots, collateral: trust.collateral, now: trust.now?.() });
  } catch (cause) {
    throw new ChannelError("CHANNEL_PEER_EVIDENCE_INVALID", `ACK quote of ${destination.address} rejected: ${(cause as Error).message}`, {
      fatal: false,
      cause,
      details: { host: destination.address, reason: (cause as { code?: string }).code },
    });
  }
  const expected = ackReportData(ack.migrationId, destination.keyFingerprint);
  if (!expected.equals(quote.quote.body.reportData)) {
    throw new ChannelError("CHANNEL_REPORT_DATA_MISMATCH", `ACK quote of ${destination.address} is not bound to migration ${ack.migrationId} and its channel key`, {
      fatal: false,
      details: { host: destination.address },
    });
  }
  if (!quote.quote.signatureData.attestationKey.equals(destination.quote.quote.signatureData.attestationKey)) {
    throw new ChannelError("CHANNEL_PEER_EVIDENCE_INVALID", `ACK quote of ${destination.address} comes from another platform than its channel`, {
      fatal: false,
      details: { host: destination.address, reason: "PLATFORM_MISMATCH" },
    });
  }
  try {
    assertPolicy(quote, trust.policy, {
      subject: getAddress(destination.address),
      ...(request.tcbRequirement ? { tvmCapability: tcbCapabilityOf(request.tcbRequirement) } : {}),
    });
  } catch (cause) {
    throw new ChannelError("CHANNEL_PEER_EVIDENCE_INVALID", (cause as Error).message, { fatal: false, cause, details: { host: destination.address, reason: "POLICY_REJECTED" } });
  }
  const low = Math.max(ack.migrationVersions.min, request.migrationVersions.min);
  const high = Math.min(ack.migrationVersions.max, request.migrationVersions.max);
  if (low > high) {
    throw new ChannelError("CHANNEL_VERSION_RANGE", `${destination.address} imports migration versions [${ack.migrationVersions.min}, ${ack.migrationVersions.max}], the TVM exports [${request.migrationVersions.min}, ${request.migrationVersions.max}]`, {
      fatal: false,
      details: { host: destination.address, ack: ack.migrationVersions, request: request.migrationVersions },
    });
  }
  return quote;
}

/** The migration versions a platform offers in the protected session: export range on the source, import range on the destination. */
export function sessionVersionRange(platform: PlatformInfo, role: "initiator" | "responder"): MigrationVersionRange {
  const v = platform.migrationVersions;
  return role === "initiator" ? { min: v.exportMin, max: v.exportMax } : { min: v.importMin, max: v.importMax };
}

/** Installs the session key into `td`'s migration context (TDX setMigrationKey), as a Migration TD would. */
export function tdKeyInstaller(td: TrustDomain): SessionKeyInstaller {
  return (key, migrationVersion) => {
    const { status } = setMigrationKey(td, key, migrationVersion);
    if (!isSuccess(status)) {
      throw new ChannelError("CHANNEL_SESSION_FAILED", `setMigrationKey failed: ${statusName(status)}`, { details: { status: statusName(status), migrationVersion } });
    }
  };
}
