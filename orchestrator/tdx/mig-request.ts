import { randomBytes, sign, verify, type KeyObject } from "node:crypto";
import { SHA384_SIZE } from "./constants.js";
import { TdxModelError } from "./errors.js";
import type { TcbRequirement } from "./td-config.js";

/**
 * The migration request descriptor that TDH.MIG.INITIATE produces: the TD's configuration, its TCB capability
 * (what any destination must offer) and a nonce, signed by the platform's attestation key. The source's root
 * VMM broadcasts it; a destination checks the signature (against the key the source's quote vouches for) and
 * whether it can host the TD.
 *
 * Canonical encoding (little-endian, reserved fields zero, 240 bytes):
 *
 * | off | size | field                                   |
 * |----:|-----:|-----------------------------------------|
 * |   0 |    4 | magic "TDMR"                            |
 * |   4 |    2 | version (1)                             |
 * |   6 |    2 | reserved                                |
 * |   8 |   16 | td_id                                   |
 * |  24 |    8 | attributes                              |
 * |  32 |    8 | xfam                                    |
 * |  40 |   48 | mrtd                                    |
 * |  88 |    2 | num_vcpus                               |
 * |  90 |    2 | migration version min                   |
 * |  92 |    2 | migration version max                   |
 * |  94 |    2 | reserved                                |
 * |  96 |    8 | memory bytes                            |
 * | 104 |    8 | cpuid features                          |
 * | 112 |   16 | TCB capability: minimum TEE_TCB_SVN     |
 * | 128 |    2 | TCB capability: minimum module major    |
 * | 130 |    2 | TCB capability: minimum module minor    |
 * | 132 |    4 | reserved                                |
 * | 136 |    8 | issued at (ms since the epoch)          |
 * | 144 |   32 | nonce                                   |
 * | 176 |   64 | ECDSA P-256 signature r ‖ s over SHA-256 of bytes 0..175 |
 */
export const MIG_REQUEST_MAGIC = "TDMR";
export const MIG_REQUEST_VERSION = 1;
export const MIG_REQUEST_SIGNED_SIZE = 176;
export const MIG_REQUEST_SIZE = MIG_REQUEST_SIGNED_SIZE + 64;

export interface MigRequestDescriptor {
  readonly version: number;
  readonly tdId: Buffer;
  readonly attributes: bigint;
  readonly xfam: bigint;
  readonly mrTd: Buffer;
  readonly numVcpus: number;
  readonly memoryBytes: number;
  /** Migration protocol versions the source can export. */
  readonly migrationVersions: { readonly min: number; readonly max: number };
  readonly cpuidFeatures: bigint;
  /** The TD's TCB capability (part of its configuration). */
  readonly tcb: TcbRequirement;
  readonly issuedAtMs: number;
  readonly nonce: Buffer;
}

export type MigRequestFields = Omit<MigRequestDescriptor, "version" | "nonce" | "issuedAtMs"> & { readonly nonce?: Buffer; readonly issuedAtMs?: number };

/** Canonical bytes of the signed part. */
export function encodeMigRequestBody(d: MigRequestDescriptor): Buffer {
  const b = Buffer.alloc(MIG_REQUEST_SIGNED_SIZE);
  b.write(MIG_REQUEST_MAGIC, 0, "ascii");
  b.writeUInt16LE(d.version, 4);
  put(b, d.tdId, 16, 8, "tdId");
  b.writeBigUInt64LE(d.attributes, 24);
  b.writeBigUInt64LE(d.xfam, 32);
  put(b, d.mrTd, SHA384_SIZE, 40, "mrTd");
  b.writeUInt16LE(d.numVcpus, 88);
  b.writeUInt16LE(d.migrationVersions.min, 90);
  b.writeUInt16LE(d.migrationVersions.max, 92);
  b.writeBigUInt64LE(BigInt(d.memoryBytes), 96);
  b.writeBigUInt64LE(d.cpuidFeatures, 104);
  put(b, d.tcb.minTeeTcbSvn, 16, 112, "minTeeTcbSvn");
  b.writeUInt16LE(d.tcb.minModuleVersion.major, 128);
  b.writeUInt16LE(d.tcb.minModuleVersion.minor, 130);
  b.writeBigUInt64LE(BigInt(d.issuedAtMs), 136);
  put(b, d.nonce, 32, 144, "nonce");
  return b;
}

/** Builds, signs and encodes a descriptor (TDH.MIG.INITIATE's output). */
export function signMigRequest(fields: MigRequestFields, signingKey: KeyObject): { descriptor: MigRequestDescriptor; encoded: Buffer } {
  const descriptor: MigRequestDescriptor = {
    ...fields,
    version: MIG_REQUEST_VERSION,
    nonce: fields.nonce ?? randomBytes(32),
    issuedAtMs: fields.issuedAtMs ?? Date.now(),
  };
  const body = encodeMigRequestBody(descriptor);
  const signature = sign("sha256", body, { key: signingKey, dsaEncoding: "ieee-p1363" });
  return { descriptor, encoded: Buffer.concat([body, signature]) };
}

/** Decodes a descriptor (without checking its signature). Throws TDX_MIG_REQUEST_MALFORMED on any format error. */
export function decodeMigRequest(bytes: Uint8Array): { descriptor: MigRequestDescriptor; signature: Buffer } {
  const malformed = (why: string, details: Record<string, unknown> = {}): never => {
    throw new TdxModelError("TDX_MIG_REQUEST_MALFORMED", `migration request descriptor: ${why}`, { details });
  };
  if (bytes.length !== MIG_REQUEST_SIZE) malformed("wrong length", { length: bytes.length, expected: MIG_REQUEST_SIZE });
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.toString("ascii", 0, 4) !== MIG_REQUEST_MAGIC) malformed("bad magic");
  const version = b.readUInt16LE(4);
  if (version !== MIG_REQUEST_VERSION) malformed("unknown version", { version });
  if (b.readUInt16LE(6) !== 0 || b.readUInt16LE(94) !== 0 || b.readUInt32LE(132) !== 0) malformed("reserved field not zero");
  const min = b.readUInt16LE(90);
  const max = b.readUInt16LE(92);
  if (min > max) malformed("migration version range inverted", { min, max });
  const numVcpus = b.readUInt16LE(88);
  if (numVcpus === 0) malformed("zero vCPUs");
  const memoryBytes = b.readBigUInt64LE(96);
  if (memoryBytes === 0n || memoryBytes % 4096n !== 0n || memoryBytes > BigInt(Number.MAX_SAFE_INTEGER)) malformed("memory size invalid", { memoryBytes: memoryBytes.toString() });
  const copy = (at: number, len: number): Buffer => Buffer.from(b.subarray(at, at + len));
  return {
    descriptor: {
      version,
      tdId: copy(8, 16),
      attributes: b.readBigUInt64LE(24),
      xfam: b.readBigUInt64LE(32),
      mrTd: copy(40, SHA384_SIZE),
      numVcpus,
      migrationVersions: { min, max },
      memoryBytes: Number(memoryBytes),
      cpuidFeatures: b.readBigUInt64LE(104),
      tcb: { minTeeTcbSvn: copy(112, 16), minModuleVersion: { major: b.readUInt16LE(128), minor: b.readUInt16LE(130) } },
      issuedAtMs: Number(b.readBigUInt64LE(136)),
      nonce: copy(144, 32),
    },
    signature: copy(MIG_REQUEST_SIGNED_SIZE, 64),
  };
}

export type MigRequestVerification =
  | { readonly valid: true; readonly descriptor: MigRequestDescriptor }
  | { readonly valid: false; readonly reason: "malformed" | "bad-signature"; readonly message: string };

/** Decodes and verifies a descriptor against the source platform's attestation public key. */
export function verifyMigRequest(bytes: Uint8Array, platformPublicKey: KeyObject): MigRequestVerification {
  let decoded: { descriptor: MigRequestDescriptor; signature: Buffer };
  try {
    decoded = decodeMigRequest(bytes);
  } catch (err) {
    if (err instanceof TdxModelError) return { valid: false, reason: "malformed", message: err.message };
    throw err;
  }
  const body = Buffer.from(bytes.buffer, bytes.byteOffset, MIG_REQUEST_SIGNED_SIZE);
  const good = verify("sha256", body, { key: platformPublicKey, dsaEncoding: "ieee-p1363" }, decoded.signature);
  return good ? { valid: true, descriptor: decoded.descriptor } : { valid: false, reason: "bad-signature", message: "signature does not verify" };
}

function put(out: Buffer, src: Uint8Array, len: number, at: number, field: string): void {
  if (src.length !== len) throw new TdxModelError("TDX_FIELD_LENGTH", `${field} must be ${len} bytes`, { details: { field, length: src.length } });
  out.set(src, at);
}
