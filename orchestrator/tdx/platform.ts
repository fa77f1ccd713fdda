import { createHash, generateKeyPairSync, type KeyObject } from "node:crypto";
import { ATTRIBUTES, MAX_VCPUS, PAGE_SIZE, SHA384_SIZE, XFAM, XFAM_FIXED1 } from "./constants.js";
import { TdxLeafFailedError, TdxModelError } from "./errors.js";
import { MrtdBuilder } from "./measurement.js";
import { TdxModule } from "./module.js";
import { TDX_STATUS } from "./status.js";
import { TD_REPORT_FIELD_SIZES, type TdReportBody } from "./td-report.js";
import type { ModuleVersion, TcbRequirement, TdConfig } from "./td-config.js";
import { OP_STATE, CTL } from "./td-layout.js";
import { allocateTdShared } from "./td-shared.js";
import { TrustDomain } from "./trust-domain.js";

/** The TDX migration versions a platform's module can export and import (a session agrees on one MigrationVersionRange of the channel inside them). */
export interface MigrationVersionSupport {
  readonly exportMin: number;
  readonly exportMax: number;
  readonly importMin: number;
  readonly importMax: number;
}

/** Plain, serializable facts about a platform (no keys): postMessage-able to the workers that run leaves. */
export interface PlatformInfo {
  readonly name: string;
  /** TEE_TCB_SVN, 16 bytes; bytes 0 and 1 are the TDX module's minor and major SVN. */
  readonly teeTcbSvn: Buffer;
  readonly pceSvn: number;
  /** FMSPC, 6 bytes (family-model-stepping-platform-customSKU). */
  readonly fmspc: Buffer;
  readonly moduleVersion: ModuleVersion & { readonly buildNum: number };
  readonly mrSeam: Buffer;
  readonly mrSignerSeam: Buffer;
  readonly seamAttributes: Buffer;
  readonly migrationVersions: MigrationVersionSupport;
  /** ATTRIBUTES bits a TD may have on this platform. */
  readonly supportedAttributes: bigint;
  /** XFAM bits a TD may have on this platform. */
  readonly supportedXfam: bigint;
  /** CPUID feature bits the platform can virtualize for a TD. */
  readonly cpuidFeatures: bigint;
}

export interface PlatformOptions {
  readonly name?: string;
  readonly moduleVersion?: ModuleVersion & { readonly buildNum?: number };
  /** Module SVN (minor, major) go to TEE_TCB_SVN bytes 0..1; the other 14 bytes default to 0x02 each. */
  readonly moduleSvn?: { readonly minor: number; readonly major: number };
  readonly teeTcbSvnRest?: Uint8Array;
  readonly pceSvn?: number;
  readonly fmspc?: Uint8Array;
  readonly migrationVersions?: Partial<MigrationVersionSupport>;
  readonly supportedAttributes?: bigint;
  readonly supportedXfam?: bigint;
  readonly cpuidFeatures?: bigint;
  /** Use an existing ECDSA P-256 key pair as the attestation key. */
  readonly attestationKey?: { readonly privateKey: KeyObject; readonly publicKey: KeyObject };
}

/** Defaults: a TDX 1.5 platform with AVX-512 and AMX, migration versions 0..1 both ways. */
export const DEFAULT_SUPPORTED_ATTRIBUTES = ATTRIBUTES.DEBUG | ATTRIBUTES.SEPT_VE_DISABLE | ATTRIBUTES.MIGRATABLE | ATTRIBUTES.PKS;
export const DEFAULT_SUPPORTED_XFAM =
  XFAM.X87 | XFAM.SSE | XFAM.AVX | XFAM.OPMASK | XFAM.ZMM_HI256 | XFAM.HI16_ZMM | XFAM.PKRU | XFAM.AMX_TILECFG | XFAM.AMX_TILEDATA;
export const DEFAULT_CPUID_FEATURES = 0x0000_00ff_ffff_ffffn;

export interface CreateTdOptions {
  readonly attributes?: bigint;
  readonly xfam?: bigint;
  readonly numVcpus?: number;
  readonly memoryBytes: number;
  /** The initial image: pages added with TDH.MEM.PAGE.ADD and measured into MRTD (the rest of memory is AUG'd, zero). */
  readonly image?: readonly { readonly gpa: number; readonly data: Uint8Array }[];
  readonly mrConfigId?: Uint8Array;
  readonly mrOwner?: Uint8Array;
  readonly mrOwnerConfig?: Uint8Array;
  readonly cpuidFeatures?: bigint;
  /** The TD's TCB capability: what it requires of any platform; defaults to this platform's own TCB. */
  readonly tcb?: TcbRequirement;
  /** Reuse a (pre-touched) memory buffer. */
  readonly memory?: SharedArrayBuffer;
}

export interface CreateImportTdOptions {
  readonly memoryBytes: number;
  readonly numVcpus: number;
  readonly memory?: SharedArrayBuffer;
}

/**
 * A TDX platform: its TCB, its TDX module (version, MRSEAM, migration version range, supported features) and its
 * attestation key (ECDSA P-256; the attestation code builds quotes and the PCK chain on top of it).
 */
export class Platform {
  readonly info: PlatformInfo;
  readonly attestationKey: { readonly privateKey: KeyObject; readonly publicKey: KeyObject };
  readonly module: TdxModule;

  constructor(options: PlatformOptions = {}) {
    const moduleVersion = { major: 1, minor: 5, buildNum: 0, ...options.moduleVersion };
    const svn = options.moduleSvn ?? { minor: moduleVersion.minor, major: moduleVersion.major };
    const teeTcbSvn = Buffer.alloc(16, 0x02);
    teeTcbSvn[0] = svn.minor;
    teeTcbSvn[1] = svn.major;
    if (options.teeTcbSvnRest !== undefined) {
      if (options.teeTcbSvnRest.length !== 14) throw new TdxModelError("TDX_FIELD_LENGTH", "teeTcbSvnRest is 14 bytes (bytes 2..15)");
      teeTcbSvn.set(options.teeTcbSvnRest, 2);
    }
    const fmspc = Buffer.from(options.fmspc ?? Buffer.from("00806f050000", "hex"));
    if (fmspc.length !== 6) throw new TdxModelError("TDX_FIELD_LENGTH", "FMSPC is 6 bytes", { details: { length: fmspc.length } });
    const mv = { exportMin: 0, exportMax: 1, importMin: 0, importMax: 1, ...options.migrationVersions };
    if (mv.exportMin > mv.exportMax || mv.importMin > mv.importMax) {
      throw new TdxModelError("TDX_VERSION_RANGE_INVALID", "a migration version range must have min <= max", { details: { ...mv } });
    }
    this.info = {
      name: options.name ?? "tdx-platform",
      teeTcbSvn,
      pceSvn: options.pceSvn ?? 13,
      fmspc,
      moduleVersion,
      mrSeam: createHash("sha384").update(`tdx-module ${moduleVersion.major}.${moduleVersion.minor}.${moduleVersion.buildNum}`).digest(),
      mrSignerSeam: Buffer.alloc(SHA384_SIZE),
      seamAttributes: Buffer.alloc(8),
      migrationVersions: mv,
      supportedAttributes: options.supportedAttributes ?? DEFAULT_SUPPORTED_ATTRIBUTES,
      supportedXfam: options.supportedXfam ?? DEFAULT_SUPPORTED_XFAM,
      cpuidFeatures: options.cpuidFeatures ?? DEFAULT_CPUID_FEATURES,
    };
    this.attestationKey = options.attestationKey ?? generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    this.module = new TdxModule(this.attestationKey.privateKey);
  }

  /** The TCB this platform offers, as a TD's TCB requirement would name it. */
  get tcb(): TcbRequirement {
    return { minTeeTcbSvn: Buffer.from(this.info.teeTcbSvn), minModuleVersion: { major: this.info.moduleVersion.major, minor: this.info.moduleVersion.minor } };
  }

  /**
   * Builds and launches a TD: TDH.MNG.CREATE/INIT (attributes and XFAM checked against the platform),
   * TDH.MEM.PAGE.ADD + TDH.MR.EXTEND of the image, TDH.MEM.PAGE.AUG of the rest, TDH.VP.CREATE/INIT of each
   * vCPU, TDH.MR.FINALIZE. The TD is running when this returns.
   */
  createTd(options: CreateTdOptions): TrustDomain {
    const attributes = options.attributes ?? ATTRIBUTES.MIGRATABLE;
    const xfam = options.xfam ?? XFAM.X87 | XFAM.SSE | XFAM.AVX;
    const numVcpus = options.numVcpus ?? 1;
    if ((attributes & ~this.info.supportedAttributes) !== 0n) throw new TdxLeafFailedError("TDH.MNG.INIT", TDX_STATUS.TDX_TD_ATTRIBUTES_UNSUPPORTED, { attributes: attributes.toString(16) });
    if ((xfam & ~this.info.supportedXfam) !== 0n || (xfam & XFAM_FIXED1) !== XFAM_FIXED1) {
      throw new TdxLeafFailedError("TDH.MNG.INIT", TDX_STATUS.TDX_TD_XFAM_UNSUPPORTED, { xfam: xfam.toString(16) });
    }
    const cpuidFeatures = options.cpuidFeatures ?? this.info.cpuidFeatures;
    if ((cpuidFeatures & ~this.info.cpuidFeatures) !== 0n) throw new TdxLeafFailedError("TDH.MNG.INIT", TDX_STATUS.TDX_IMPORT_CPUID_INCOMPATIBLE);
    const memoryPages = pagesOf(options.memoryBytes);
    const handle = allocateTdShared({ platform: this.info, memoryPages, vcpuSlots: numVcpus, ...(options.memory ? { memory: options.memory } : {}) });
    const td = new TrustDomain(handle);
    Atomics.store(td.control, CTL.OP_STATE, OP_STATE.CREATED);

    const mrtd = new MrtdBuilder();
    for (const { gpa, data } of options.image ?? []) {
      if (gpa % PAGE_SIZE !== 0 || gpa + data.length > td.memoryBytes) {
        throw new TdxModelError("TDX_IMAGE_INVALID", "image pages must be page-aligned and inside TD memory", { details: { gpa, length: data.length } });
      }
      for (let off = 0; off < data.length; off += PAGE_SIZE) {
        const page = Buffer.alloc(PAGE_SIZE);
        page.set(data.subarray(off, Math.min(off + PAGE_SIZE, data.length)));
        mrtd.pageAdd(gpa + off);
        td.memory.set(page, gpa + off);
        mrtd.extendPage(gpa + off, page);
      }
    }
    const config: TdConfig = {
      tdId: Buffer.from(handle.id, "hex"),
      attributes,
      xfam,
      numVcpus,
      memoryPages,
      gpaw: 48,
      mrTd: mrtd.finalize(),
      mrConfigId: fixed48(options.mrConfigId, "mrConfigId"),
      mrOwner: fixed48(options.mrOwner, "mrOwner"),
      mrOwnerConfig: fixed48(options.mrOwnerConfig, "mrOwnerConfig"),
      cpuidFeatures,
      tcb: options.tcb ?? this.tcb,
    };
    td.writeConfig(config);
    for (let vp = 0; vp < numVcpus; vp++) initVcpu(td, vp, xfam);
    Atomics.store(td.control, CTL.OP_STATE, OP_STATE.RUNNABLE);
    return td;
  }

  /** Creates the destination TD of an incoming migration (TDH.MNG.CREATE + TDCS pages), waiting for its immutable state. */
  createImportTd(options: CreateImportTdOptions): TrustDomain {
    if (!Number.isInteger(options.numVcpus) || options.numVcpus < 1 || options.numVcpus > MAX_VCPUS) {
      throw new TdxModelError("TDX_VCPU_COUNT_INVALID", `a TD has 1..${MAX_VCPUS} vCPUs`, { details: { numVcpus: options.numVcpus } });
    }
    const handle = allocateTdShared({
      platform: this.info,
      memoryPages: pagesOf(options.memoryBytes),
      vcpuSlots: options.numVcpus,
      ...(options.memory ? { memory: options.memory } : {}),
    });
    const td = new TrustDomain(handle);
    Atomics.store(td.control, CTL.OP_STATE, OP_STATE.IMPORT_READY);
    return td;
  }

  /**
   * TDG.MR.REPORT as the guest of `td` calls it on this platform: the TD report body fields (the attestation code
   * encodes and signs them into a quote). `reportData` is 64 bytes.
   */
  tdReport(td: TrustDomain, reportData: Uint8Array): TdReportBody {
    if (reportData.length !== TD_REPORT_FIELD_SIZES.reportData) {
      throw new TdxModelError("TDX_REPORT_DATA_LENGTH", "REPORTDATA is 64 bytes", { details: { length: reportData.length } });
    }
    if (!td.isRunning) throw new TdxLeafFailedError("TDG.MR.REPORT", td.requireState([OP_STATE.RUNNABLE]), { td: td.id });
    const c = td.config;
    const le64 = (v: bigint): Buffer => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(v);
      return b;
    };
    return {
      teeTcbSvn: Buffer.from(this.info.teeTcbSvn),
      mrSeam: Buffer.from(this.info.mrSeam),
      mrSignerSeam: Buffer.from(this.info.mrSignerSeam),
      seamAttributes: Buffer.from(this.info.seamAttributes),
      tdAttributes: le64(c.attributes),
      xfam: le64(c.xfam),
      mrTd: Buffer.from(c.mrTd),
      mrConfigId: Buffer.from(c.mrConfigId),
      mrOwner: Buffer.from(c.mrOwner),
      mrOwnerConfig: Buffer.from(c.mrOwnerConfig),
      rtmr: [td.rtmr(0), td.rtmr(1), td.rtmr(2), td.rtmr(3)],
      reportData: Buffer.from(reportData),
    };
  }
}

function pagesOf(memoryBytes: number): number {
  if (!Number.isInteger(memoryBytes) || memoryBytes <= 0 || memoryBytes % PAGE_SIZE !== 0) {
    throw new TdxModelError("TDX_MEMORY_SIZE_INVALID", "TD memory must be a positive multiple of 4 KiB", { details: { memoryBytes } });
  }
  return memoryBytes / PAGE_SIZE;
}

function fixed48(value: Uint8Array | undefined, field: string): Buffer {
  if (value === undefined) return Buffer.alloc(SHA384_SIZE);
  if (value.length !== SHA384_SIZE) throw new TdxModelError("TDX_FIELD_LENGTH", `${field} is 48 bytes`, { details: { field, length: value.length } });
  return Buffer.from(value);
}

/** TDH.VP.INIT: the architectural initial state of a TD vCPU (TDVF entry point, 32-bit protected mode). */
function initVcpu(td: TrustDomain, vp: number, xfam: bigint): void {
  td.setReg(vp, "rip", 0xfffffff0n);
  td.setReg(vp, "rflags", 0x2n);
  td.setReg(vp, "cr0", 0x21n); // PE | NE
  td.setReg(vp, "cr4", 0x2040n); // MCE | VMXE-shadow as TDX sets it
  td.setReg(vp, "efer", 0n);
  td.setReg(vp, "xcr0", xfam & 0x2ffn);
  td.setReg(vp, "r8", BigInt(vp)); // vCPU index handed to the guest firmware
  td.setReg(vp, "rcx", BigInt(td.memoryBytes)); // initial parameter: memory size
  const xs = td.xsave(vp);
  xs.writeUInt16LE(0x037f, 0); // FCW
  xs.writeUInt32LE(0x1f80, 24); // MXCSR
}
