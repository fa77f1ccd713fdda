/**
 * A platform description as data (JSON), for the CLI and for hosts that run without the full CPU model:
 * its TCB as the PCK certificate records it, and the TD report fields of the TD that asks for quotes
 * (on a host, its channel TD). `createAttester` turns it into something that produces quotes, and
 * `defaultTcbInfo` describes the TCB levels the simulated provisioning service publishes.
 */
import { createHash } from "node:crypto";
import type { TdReportBody } from "../tdx/index.js";
import { AttestationError, type Attester, deriveP256KeyPair, type QuoteCollateral, type QuoteSource, type TcbInfo, type TcbStatus } from "../attestation/index.js";
import { ProvisioningAuthority } from "./provisioning-authority.js";
import { QuotingEnclave, type PlatformTcb } from "./quoting-enclave.js";

export interface PlatformConfig {
  /** Seed of the simulated provisioning service (its root): all parties of a deployment share it. */
  authoritySeed: string;
  /** Seed of this platform's PCK and attestation keys. */
  platformSeed: string;
  tcb: {
    sgxTcbComponents: number[];
    pceSvn: number;
    /** hex, 6 bytes */
    fmspc: string;
    /** hex, 2 bytes */
    pceId: string;
    qeSvn: number;
  };
  /** TD report fields, hex. */
  td: {
    teeTcbSvn: string;
    mrSeam: string;
    mrSignerSeam: string;
    seamAttributes: string;
    tdAttributes: string;
    xfam: string;
    mrTd: string;
    mrConfigId: string;
    mrOwner: string;
    mrOwnerConfig: string;
    rtmr: [string, string, string, string];
  };
}

const sha384 = (s: string) => createHash("sha384").update(s).digest("hex");

export const DEFAULT_FMSPC = "90c06f000000";
export const DEFAULT_PCE_ID = "0000";
/** Module SVN 3, major version 1 (TDX module 1.5), then the other TDX components. */
export const DEFAULT_TEE_TCB_SVN = "03010300000000000000000000000000";
export const DEFAULT_MRSEAM = sha384("tvmx simulated TDX module 1.5");
export const DEFAULT_MRTD = sha384("tvmx channel TD image");
/** XFAM 0x602e7 (little-endian bytes): x87, SSE, AVX, AVX-512 (bits 5-7), PKRU (bit 9), AMX (bits 17-18). */
export const DEFAULT_XFAM = "e702060000000000";

export function defaultPlatformConfig(overrides: Partial<PlatformConfig> = {}): PlatformConfig {
  return {
    authoritySeed: "tvmx-simulated-provisioning",
    platformSeed: "tvmx-platform-0",
    tcb: { sgxTcbComponents: [3, 3, 2, 2, 3, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0], pceSvn: 13, fmspc: DEFAULT_FMSPC, pceId: DEFAULT_PCE_ID, qeSvn: 8 },
    td: {
      teeTcbSvn: DEFAULT_TEE_TCB_SVN,
      mrSeam: DEFAULT_MRSEAM,
      mrSignerSeam: "00".repeat(48),
      seamAttributes: "00".repeat(8),
      tdAttributes: "00".repeat(8),
      xfam: DEFAULT_XFAM,
      mrTd: DEFAULT_MRTD,
      mrConfigId: "00".repeat(48),
      mrOwner: "00".repeat(48),
      mrOwnerConfig: "00".repeat(48),
      rtmr: [sha384("rtmr0"), sha384("rtmr1"), "00".repeat(48), "00".repeat(48)],
    },
    ...overrides,
  };
}

function hexField(value: unknown, size: number, name: string): Buffer {
  if (typeof value !== "string" || !/^[0-9a-fA-F]*$/.test(value) || value.length !== size * 2) {
    throw new AttestationError("ATTESTATION_CONFIG_INVALID", `platform config ${name} must be ${size} bytes of hex`, { details: { field: name, value } });
  }
  return Buffer.from(value, "hex");
}

/** Validates a platform config read from JSON, filling absent sections from the default. */
export function parsePlatformConfig(value: unknown): PlatformConfig {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new AttestationError("ATTESTATION_CONFIG_INVALID", "platform config must be a JSON object");
  }
  const base = defaultPlatformConfig();
  const v = value as Partial<PlatformConfig>;
  const config: PlatformConfig = {
    authoritySeed: v.authoritySeed ?? base.authoritySeed,
    platformSeed: v.platformSeed ?? base.platformSeed,
    tcb: { ...base.tcb, ...(v.tcb ?? {}) },
    td: { ...base.td, ...(v.td ?? {}) },
  };
  platformTcbOf(config);
  staticTdReport(config, Buffer.alloc(64));
  return config;
}

export function platformTcbOf(config: PlatformConfig): PlatformTcb {
  const { tcb } = config;
  if (!Array.isArray(tcb.sgxTcbComponents) || tcb.sgxTcbComponents.length !== 16 || tcb.sgxTcbComponents.some((c) => !Number.isInteger(c) || c < 0 || c > 255)) {
    throw new AttestationError("ATTESTATION_CONFIG_INVALID", "platform config tcb.sgxTcbComponents must be 16 numbers 0..255", { details: { value: tcb.sgxTcbComponents } });
  }
  for (const f of ["pceSvn", "qeSvn"] as const) {
    if (!Number.isInteger(tcb[f]) || tcb[f] < 0 || tcb[f] > 0xffff) {
      throw new AttestationError("ATTESTATION_CONFIG_INVALID", `platform config tcb.${f} must be 0..65535`, { details: { value: tcb[f] } });
    }
  }
  return {
    sgxTcbComponents: tcb.sgxTcbComponents,
    pceSvn: tcb.pceSvn,
    fmspc: hexField(tcb.fmspc, 6, "tcb.fmspc"),
    pceId: hexField(tcb.pceId, 2, "tcb.pceId"),
    qeSvn: tcb.qeSvn,
  };
}

/** The TD report the config describes, with the given REPORTDATA. */
export function staticTdReport(config: PlatformConfig, reportData: Buffer): TdReportBody {
  const td = config.td;
  if (!Array.isArray(td.rtmr) || td.rtmr.length !== 4) {
    throw new AttestationError("ATTESTATION_CONFIG_INVALID", "platform config td.rtmr must list four RTMRs");
  }
  return {
    teeTcbSvn: hexField(td.teeTcbSvn, 16, "td.teeTcbSvn"),
    mrSeam: hexField(td.mrSeam, 48, "td.mrSeam"),
    mrSignerSeam: hexField(td.mrSignerSeam, 48, "td.mrSignerSeam"),
    seamAttributes: hexField(td.seamAttributes, 8, "td.seamAttributes"),
    tdAttributes: hexField(td.tdAttributes, 8, "td.tdAttributes"),
    xfam: hexField(td.xfam, 8, "td.xfam"),
    mrTd: hexField(td.mrTd, 48, "td.mrTd"),
    mrConfigId: hexField(td.mrConfigId, 48, "td.mrConfigId"),
    mrOwner: hexField(td.mrOwner, 48, "td.mrOwner"),
    mrOwnerConfig: hexField(td.mrOwnerConfig, 48, "td.mrOwnerConfig"),
    rtmr: td.rtmr.map((r, i) => hexField(r, 48, `td.rtmr[${i}]`)) as [Buffer, Buffer, Buffer, Buffer],
    reportData: reportData.length === 64 ? reportData : hexField(reportData.toString("hex"), 64, "reportData"),
  };
}

/** The platform's quoting enclave, provisioned by the authority its config names (deterministic keys). */
export async function provisionFromConfig(config: PlatformConfig, authority?: ProvisioningAuthority): Promise<QuotingEnclave> {
  const pcs = authority ?? (await ProvisioningAuthority.create({ seed: config.authoritySeed }));
  return QuotingEnclave.provision(pcs, platformTcbOf(config), {
    pck: deriveP256KeyPair(config.platformSeed, "pck"),
    attestationKey: deriveP256KeyPair(config.platformSeed, "attestation"),
  });
}

/** An attester: TD reports from `source`, signed by `qe`. */
export function createAttester(source: QuoteSource, qe: QuotingEnclave): Attester {
  return { quote: (reportData) => qe.quote(source.tdReport(reportData)) };
}

/** A quote source that reports the config's TD. */
export function configQuoteSource(config: PlatformConfig): QuoteSource {
  return { tdReport: (reportData) => staticTdReport(config, reportData) };
}

const comps = (svns: number[]) => Array.from({ length: 16 }, (_, i) => ({ svn: svns[i] ?? 0 }));

/**
 * The TCB levels the simulated provisioning service publishes for an FMSPC, newest first:
 * TDX component 2 (the SEAM loader / microcode TDX part) ≥ 3 is UpToDate, 2 SWHardeningNeeded,
 * 1 OutOfDate, anything else Revoked; the TDX 1.x module (identity TDX_01) is UpToDate from SVN 3,
 * OutOfDate at 2 and Revoked below.
 */
export function defaultTcbInfo(options: { fmspc?: string; pceId?: string; issueDate?: Date; nextUpdate?: Date } = {}): TcbInfo {
  const sgx = [2, 2, 2, 2, 2, 1, 0, 2];
  const level = (tdx2: number, status: TcbStatus, date: string, advisories: string[] = []) => ({
    tcb: { sgxtcbcomponents: comps(sgx), pcesvn: 11, tdxtcbcomponents: comps([0, 0, tdx2]) },
    tcbDate: date,
    tcbStatus: status,
    ...(advisories.length > 0 ? { advisoryIDs: advisories } : {}),
  });
  return {
    id: "TDX",
    version: 3,
    issueDate: (options.issueDate ?? new Date("2025-01-01T00:00:00Z")).toISOString(),
    nextUpdate: (options.nextUpdate ?? new Date("2050-01-01T00:00:00Z")).toISOString(),
    fmspc: options.fmspc ?? DEFAULT_FMSPC,
    pceId: options.pceId ?? DEFAULT_PCE_ID,
    tcbType: 0,
    tcbEvaluationDataNumber: 17,
    tdxModule: { mrsigner: "00".repeat(48), attributes: "00".repeat(8), attributesMask: "ff".repeat(8) },
    tdxModuleIdentities: [
      {
        id: "TDX_01",
        mrsigner: "00".repeat(48),
        attributes: "00".repeat(8),
        attributesMask: "ff".repeat(8),
        tcbLevels: [
          { tcb: { isvsvn: 3 }, tcbDate: "2025-06-01T00:00:00Z", tcbStatus: "UpToDate" },
          { tcb: { isvsvn: 2 }, tcbDate: "2024-03-01T00:00:00Z", tcbStatus: "OutOfDate", advisoryIDs: ["INTEL-SA-01036"] },
          { tcb: { isvsvn: 0 }, tcbDate: "2023-01-01T00:00:00Z", tcbStatus: "Revoked", advisoryIDs: ["INTEL-SA-00837"] },
        ],
      },
    ],
    tcbLevels: [
      level(3, "UpToDate", "2025-06-01T00:00:00Z"),
      level(2, "SWHardeningNeeded", "2024-11-01T00:00:00Z", ["INTEL-SA-00960"]),
      level(1, "OutOfDate", "2024-03-01T00:00:00Z", ["INTEL-SA-01036"]),
      level(0, "Revoked", "2023-01-01T00:00:00Z", ["INTEL-SA-00837"]),
    ],
  };
}

/** The collateral the default simulated provisioning service of `config` publishes. */
export async function defaultCollateral(config: PlatformConfig, authority?: ProvisioningAuthority): Promise<QuoteCollateral> {
  const pcs = authority ?? (await ProvisioningAuthority.create({ seed: config.authoritySeed }));
  return pcs.collateral(defaultTcbInfo({ fmspc: config.tcb.fmspc, pceId: config.tcb.pceId }));
}
