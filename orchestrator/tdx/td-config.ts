import { SHA384_SIZE } from "./constants.js";
import { TdxModelError } from "./errors.js";

/** A TDX module version as the TCB capability names it. */
export interface ModuleVersion {
  readonly major: number;
  readonly minor: number;
}

/** The TCB a TD requires of any platform that runs it (its "TCB capability", part of its configuration). */
export interface TcbRequirement {
  /** Minimum TEE_TCB_SVN, compared component by component (16 bytes). */
  readonly minTeeTcbSvn: Buffer;
  readonly minModuleVersion: ModuleVersion;
}

/** The immutable configuration of a TD (TDCS fields fixed at TDH.MNG.INIT / TDH.MR.FINALIZE). */
export interface TdConfig {
  /** 16 random bytes naming the TD (its identity across a migration). */
  readonly tdId: Buffer;
  readonly attributes: bigint;
  readonly xfam: bigint;
  readonly numVcpus: number;
  readonly memoryPages: number;
  /** Guest physical address width (48 or 52). */
  readonly gpaw: number;
  readonly mrTd: Buffer;
  readonly mrConfigId: Buffer;
  readonly mrOwner: Buffer;
  readonly mrOwnerConfig: Buffer;
  /** CPUID feature bits the TD was configured with; a destination must offer all of them. */
  readonly cpuidFeatures: bigint;
  readonly tcb: TcbRequirement;
}

/**
 * The immutable TD state as it is stored in the TDCS and carried (encrypted) by the MB_TYPE 0 bundle.
 * Little-endian, reserved bytes zero:
 *
 *   0 version u16 (=1) | 2 reserved u16 | 4 num_vcpus u16 | 6 gpaw u8 | 7 reserved u8
 *   8 attributes u64 | 16 xfam u64 | 24 memory_pages u32 | 28 reserved u32
 *   32 mrtd[48] | 80 mrconfigid[48] | 128 mrowner[48] | 176 mrownerconfig[48]
 *   224 cpuid_features u64 | 232 min_tee_tcb_svn[16] | 248 min_module_major u16 | 250 min_module_minor u16
 *   252 reserved u32 | 256 td_id[16] | 272 end
 */
export const IMMUTABLE_STATE_VERSION = 1;
export const IMMUTABLE_STATE_SIZE = 272;

export function encodeTdConfig(config: TdConfig, out: Buffer = Buffer.alloc(IMMUTABLE_STATE_SIZE), offset = 0): Buffer {
  const o = offset;
  out.fill(0, o, o + IMMUTABLE_STATE_SIZE);
  out.writeUInt16LE(IMMUTABLE_STATE_VERSION, o);
  out.writeUInt16LE(config.numVcpus, o + 4);
  out[o + 6] = config.gpaw;
  out.writeBigUInt64LE(config.attributes, o + 8);
  out.writeBigUInt64LE(config.xfam, o + 16);
  out.writeUInt32LE(config.memoryPages, o + 24);
  copyExact(config.mrTd, SHA384_SIZE, out, o + 32, "mrTd");
  copyExact(config.mrConfigId, SHA384_SIZE, out, o + 80, "mrConfigId");
  copyExact(config.mrOwner, SHA384_SIZE, out, o + 128, "mrOwner");
  copyExact(config.mrOwnerConfig, SHA384_SIZE, out, o + 176, "mrOwnerConfig");
  out.writeBigUInt64LE(config.cpuidFeatures, o + 224);
  copyExact(config.tcb.minTeeTcbSvn, 16, out, o + 232, "minTeeTcbSvn");
  out.writeUInt16LE(config.tcb.minModuleVersion.major, o + 248);
  out.writeUInt16LE(config.tcb.minModuleVersion.minor, o + 250);
  copyExact(config.tdId, 16, out, o + 256, "tdId");
  return out;
}

/** Decodes the immutable state; undefined when the version is unknown or a reserved byte is set. */
export function decodeTdConfig(buf: Uint8Array, offset = 0): TdConfig | undefined {
  if (buf.length < offset + IMMUTABLE_STATE_SIZE) return undefined;
  const b = Buffer.from(buf.buffer, buf.byteOffset + offset, IMMUTABLE_STATE_SIZE);
  if (b.readUInt16LE(0) !== IMMUTABLE_STATE_VERSION) return undefined;
  if (b.readUInt16LE(2) !== 0 || b[7] !== 0 || b.readUInt32LE(28) !== 0 || b.readUInt32LE(252) !== 0) return undefined;
  const copy = (start: number, len: number): Buffer => Buffer.from(b.subarray(start, start + len));
  return {
    numVcpus: b.readUInt16LE(4),
    gpaw: b[6]!,
    attributes: b.readBigUInt64LE(8),
    xfam: b.readBigUInt64LE(16),
    memoryPages: b.readUInt32LE(24),
    mrTd: copy(32, 48),
    mrConfigId: copy(80, 48),
    mrOwner: copy(128, 48),
    mrOwnerConfig: copy(176, 48),
    cpuidFeatures: b.readBigUInt64LE(224),
    tcb: { minTeeTcbSvn: copy(232, 16), minModuleVersion: { major: b.readUInt16LE(248), minor: b.readUInt16LE(250) } },
    tdId: copy(256, 16),
  };
}

function copyExact(src: Uint8Array, len: number, out: Buffer, at: number, field: string): void {
  if (src.length !== len) throw new TdxModelError("TDX_FIELD_LENGTH", `${field} must be ${len} bytes`, { details: { field, length: src.length } });
  out.set(src, at);
}

/** True when `svn` >= `min` in every one of the 16 components. */
export function teeTcbSvnAtLeast(svn: Uint8Array, min: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if ((svn[i] ?? 0) < (min[i] ?? 0)) return false;
  return true;
}

export function moduleVersionAtLeast(v: ModuleVersion, min: ModuleVersion): boolean {
  return v.major > min.major || (v.major === min.major && v.minor >= min.minor);
}
