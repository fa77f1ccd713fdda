import {
  MAC_SIZE,
  MAX_MIGS,
  MB_TYPE,
  MB_TYPES,
  MBMD_AAD_SIZE,
  MBMD_HEADER_SIZE,
  MBMD_SIZE,
  type MbType,
} from "./constants.js";
import { TdxModelError } from "./errors.js";
import { TDX_STATUS, type TdxStatus } from "./status.js";
import type { LeafName } from "./leaf.js";

/**
 * Migration bundle metadata (MBMD), as `mbmd_t` of the TDX Module 1.5:
 *
 * | offset | size | field        |                                               |
 * |-------:|-----:|--------------|-----------------------------------------------|
 * |      0 |    2 | size         | size of the whole MBMD = 48                   |
 * |      2 |    2 | mig_version  | the session's migration protocol version      |
 * |      4 |    2 | migs_index   | the migration stream                          |
 * |      6 |    1 | mb_type      | MB_TYPE                                       |
 * |      7 |    1 | reserved     | must be 0                                     |
 * |      8 |    4 | mb_counter   | per-stream bundle counter (in-order check)    |
 * |     12 |    4 | mig_epoch    | epoch (0xFFFFFFFF: start token)               |
 * |     16 |    8 | iv_counter   | the IV counter of the MBMD's own MAC          |
 * |     24 |    8 | type fields  | per mb_type, see `MbmdFields`                 |
 * |     32 |   16 | mac          | AES-256-GCM tag over bytes 0..31 (+ see below) |
 *
 * All little-endian. Bytes 0..23 are the MBMD header; bytes 0..31 are authenticated.
 */
export interface MbmdHeader {
  readonly size: number;
  readonly migVersion: number;
  readonly migsIndex: number;
  readonly mbType: MbType;
  readonly mbCounter: number;
  readonly migEpoch: number;
  readonly ivCounter: bigint;
}

/** Type-specific MBMD fields (bytes 24..31); every bit not named here is reserved and must be zero. */
export type MbmdFields =
  | { readonly mbType: typeof MB_TYPE.IMMUTABLE_TD_STATE; readonly numFMigs: number; readonly numSysMdPages: number }
  | { readonly mbType: typeof MB_TYPE.MUTABLE_TD_STATE }
  | { readonly mbType: typeof MB_TYPE.MUTABLE_VCPU_STATE; readonly vpIndex: number }
  | { readonly mbType: typeof MB_TYPE.MEM; readonly numGpas: number }
  | { readonly mbType: typeof MB_TYPE.EPOCH_TOKEN; readonly totalMb: bigint }
  | { readonly mbType: typeof MB_TYPE.ABORT_TOKEN };

export type Mbmd = MbmdHeader & { readonly fields: MbmdFields; readonly mac: Buffer };

export const MBMD_OFFSET = {
  size: 0,
  migVersion: 2,
  migsIndex: 4,
  mbType: 6,
  reserved: 7,
  mbCounter: 8,
  migEpoch: 12,
  ivCounter: 16,
  fields: 24,
  mac: 32,
} as const;

/** Writes the authenticated part of an MBMD (32 bytes) at `offset`; the MAC is written by the sealing code. */
export function encodeMbmdAad(header: Omit<MbmdHeader, "size" | "mbType">, fields: MbmdFields, out: Buffer, offset = 0): void {
  if (out.length < offset + MBMD_AAD_SIZE) {
    throw new TdxModelError("TDX_BUFFER_TOO_SMALL", "MBMD does not fit the buffer", { details: { length: out.length, offset } });
  }
  out.writeUInt16LE(MBMD_SIZE, offset + MBMD_OFFSET.size);
  out.writeUInt16LE(header.migVersion, offset + MBMD_OFFSET.migVersion);
  out.writeUInt16LE(header.migsIndex, offset + MBMD_OFFSET.migsIndex);
  out[offset + MBMD_OFFSET.mbType] = fields.mbType;
  out[offset + MBMD_OFFSET.reserved] = 0;
  out.writeUInt32LE(header.mbCounter >>> 0, offset + MBMD_OFFSET.mbCounter);
  out.writeUInt32LE(header.migEpoch >>> 0, offset + MBMD_OFFSET.migEpoch);
  out.writeBigUInt64LE(header.ivCounter, offset + MBMD_OFFSET.ivCounter);
  const f = offset + MBMD_OFFSET.fields;
  out.fill(0, f, f + 8);
  switch (fields.mbType) {
    case MB_TYPE.IMMUTABLE_TD_STATE:
      out.writeUInt16LE(fields.numFMigs, f);
      out[f + 4] = fields.numSysMdPages;
      break;
    case MB_TYPE.MUTABLE_VCPU_STATE:
      out.writeUInt16LE(fields.vpIndex, f);
      break;
    case MB_TYPE.MEM:
      out.writeUInt16LE(fields.numGpas, f);
      break;
    case MB_TYPE.EPOCH_TOKEN:
      out.writeBigUInt64LE(fields.totalMb, f);
      break;
    case MB_TYPE.MUTABLE_TD_STATE:
    case MB_TYPE.ABORT_TOKEN:
      break;
  }
}

/** Encodes a whole MBMD (48 bytes) including a given MAC; for tests and tools (leaves seal in place). */
export function encodeMbmd(mbmd: Omit<Mbmd, "size">): Buffer {
  const out = Buffer.alloc(MBMD_SIZE);
  encodeMbmdAad(mbmd, mbmd.fields, out, 0);
  if (mbmd.mac.length !== MAC_SIZE) throw new TdxModelError("TDX_MAC_LENGTH", "an MBMD MAC is 16 bytes", { details: { length: mbmd.mac.length } });
  mbmd.mac.copy(out, MBMD_OFFSET.mac);
  return out;
}

/**
 * Reads the 24-byte header without validating it (e.g. to route a bundle by migs_index and mb_type before the
 * leaf that checks it). Returns undefined when fewer than 24 bytes are given.
 */
export function peekMbmdHeader(bundle: Uint8Array): MbmdHeader | undefined {
  if (bundle.length < MBMD_HEADER_SIZE) return undefined;
  const b = Buffer.from(bundle.buffer, bundle.byteOffset, bundle.byteLength);
  return {
    size: b.readUInt16LE(MBMD_OFFSET.size),
    migVersion: b.readUInt16LE(MBMD_OFFSET.migVersion),
    migsIndex: b.readUInt16LE(MBMD_OFFSET.migsIndex),
    mbType: b[MBMD_OFFSET.mbType] as MbType,
    mbCounter: b.readUInt32LE(MBMD_OFFSET.mbCounter),
    migEpoch: b.readUInt32LE(MBMD_OFFSET.migEpoch),
    ivCounter: b.readBigUInt64LE(MBMD_OFFSET.ivCounter),
  };
}

export type MbmdDecodeResult = { status: typeof TDX_STATUS.TDX_SUCCESS; mbmd: Mbmd } | { status: TdxStatus; mbmd?: undefined };

/**
 * Decodes and checks the format of an MBMD (the checks that need no session state): length, size, migs_index
 * range, a known mb_type, reserved byte and reserved bits of the type fields. Session checks (version, counter,
 * epoch, MAC) are the import leaves'.
 */
export function decodeMbmd(bundle: Uint8Array): MbmdDecodeResult {
  if (bundle.length < MBMD_SIZE) return { status: TDX_STATUS.TDX_INVALID_MBMD_LENGTH };
  const b = Buffer.from(bundle.buffer, bundle.byteOffset, bundle.byteLength);
  const header = peekMbmdHeader(b)!;
  if (header.size !== MBMD_SIZE) return { status: TDX_STATUS.TDX_INVALID_MBMD_SIZE };
  if (header.migsIndex >= MAX_MIGS) return { status: TDX_STATUS.TDX_INVALID_MBMD_MIGS_INDEX };
  if (!MB_TYPES.includes(header.mbType)) return { status: TDX_STATUS.TDX_INVALID_MBMD_MB_TYPE };
  if (b[MBMD_OFFSET.reserved] !== 0) return { status: TDX_STATUS.TDX_INVALID_MBMD_RESERVED };
  const f = MBMD_OFFSET.fields;
  const lo16 = b.readUInt16LE(f);
  const reservedFrom = (start: number): boolean => {
    for (let i = f + start; i < f + 8; i++) if (b[i] !== 0) return true;
    return false;
  };
  let fields: MbmdFields;
  switch (header.mbType) {
    case MB_TYPE.IMMUTABLE_TD_STATE:
      if (b[f + 2] !== 0 || b[f + 3] !== 0 || reservedFrom(5)) return { status: TDX_STATUS.TDX_INVALID_MBMD_FIELDS_RESERVED };
      fields = { mbType: header.mbType, numFMigs: lo16, numSysMdPages: b[f + 4]! };
      break;
    case MB_TYPE.MUTABLE_VCPU_STATE:
      if (reservedFrom(2)) return { status: TDX_STATUS.TDX_INVALID_MBMD_FIELDS_RESERVED };
      fields = { mbType: header.mbType, vpIndex: lo16 };
      break;
    case MB_TYPE.MEM:
      if (reservedFrom(2)) return { status: TDX_STATUS.TDX_INVALID_MBMD_FIELDS_RESERVED };
      fields = { mbType: header.mbType, numGpas: lo16 };
      break;
    case MB_TYPE.EPOCH_TOKEN:
      fields = { mbType: header.mbType, totalMb: b.readBigUInt64LE(f) };
      break;
    case MB_TYPE.MUTABLE_TD_STATE:
    case MB_TYPE.ABORT_TOKEN:
      if (reservedFrom(0)) return { status: TDX_STATUS.TDX_INVALID_MBMD_FIELDS_RESERVED };
      fields = { mbType: header.mbType };
      break;
  }
  const mac = Buffer.from(b.subarray(MBMD_OFFSET.mac, MBMD_OFFSET.mac + MAC_SIZE));
  return { status: TDX_STATUS.TDX_SUCCESS, mbmd: { ...header, fields, mac } };
}

/**
 * The page count (num_gpas) of a memory bundle, read without validating the MBMD (e.g. to choose where to import it
 * before the leaf checks it). Undefined for a bundle too short to hold one or of another mb_type.
 */
export function peekMemPageCount(bundle: Uint8Array): number | undefined {
  if (bundle.length < MBMD_SIZE || bundle[MBMD_OFFSET.mbType] !== MB_TYPE.MEM) return undefined;
  return Buffer.from(bundle.buffer, bundle.byteOffset, bundle.byteLength).readUInt16LE(MBMD_OFFSET.fields);
}

/** The TDX leaf that imports a bundle of this mb_type (for errors and logs that name the leaf that refused). */
export function importLeafName(mbType: number): LeafName | "TDH.IMPORT" {
  switch (mbType) {
    case MB_TYPE.IMMUTABLE_TD_STATE:
      return "TDH.IMPORT.STATE.IMMUTABLE";
    case MB_TYPE.MUTABLE_TD_STATE:
      return "TDH.IMPORT.STATE.TD";
    case MB_TYPE.MUTABLE_VCPU_STATE:
      return "TDH.IMPORT.STATE.VP";
    case MB_TYPE.MEM:
      return "TDH.IMPORT.MEM";
    case MB_TYPE.EPOCH_TOKEN:
      return "TDH.IMPORT.TRACK";
    default:
      return "TDH.IMPORT";
  }
}
