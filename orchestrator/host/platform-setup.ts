import { readFile } from "node:fs/promises";
import {
  deriveP256KeyPair,
  type Attester,
  type Certificate,
  type CollateralSource,
} from "../attestation/index.js";
import { createAttester, ProvisioningAuthority } from "../attestation-issuer/index.js";
import { authorityCollateralSource, provisionPlatform, tdQuoteSource } from "../attestation-issuer/index.js";
import { parseJsonText } from "../config/index.js";
import { TvmxError } from "../errors/index.js";
import { Platform, type TrustDomain } from "../tdx/index.js";

/**
 * The platform file of a host (JSON): which simulated TDX platform its CPU model is, and which provisioning
 * authority (the deployment's root of trust for quotes) certified it. Every field but the seeds is optional.
 *
 *   { "authoritySeed": "tvmx-demo", "platformSeed": "host-b",
 *     "moduleSvn": { "minor": 3, "major": 1 }, "teeTcbSvnRest": "0300000000000000000000000000",
 *     "pceSvn": 13, "fmspc": "90c06f000000", "migrationVersions": { "importMax": 1 } }
 *
 * TEE_TCB_SVN = moduleSvn.minor, moduleSvn.major, then the 14 bytes of teeTcbSvnRest: byte 2 is the TDX
 * component the TCB levels judge (3 UpToDate, 2 SWHardeningNeeded, 1 OutOfDate, 0 Revoked).
 */
export interface HostPlatformFile {
  authoritySeed: string;
  platformSeed: string;
  name?: string;
  moduleVersion?: { major: number; minor: number };
  moduleSvn?: { minor: number; major: number };
  teeTcbSvnRest?: string;
  pceSvn?: number;
  fmspc?: string;
  migrationVersions?: { exportMin?: number; exportMax?: number; importMin?: number; importMax?: number };
  sgxTcbComponents?: number[];
}

export const DEFAULT_PLATFORM_FILE: HostPlatformFile = { authoritySeed: "tvmx-simulated-provisioning", platformSeed: "tvmx-platform-0", fmspc: "90c06f000000" };

export interface HostPlatform {
  platform: Platform;
  /** A small non-migratable TD whose reports back the channel's quotes (the host's channel TD). */
  channelTd: TrustDomain;
  attester: Attester;
  authority: ProvisioningAuthority;
  trustedRoots: Certificate[];
  collateral: CollateralSource;
}

export async function readPlatformFile(path: string | undefined): Promise<HostPlatformFile> {
  if (path === undefined) return DEFAULT_PLATFORM_FILE;
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new TvmxError("CONFIG_NOT_FOUND", `platform file not found: ${path}`, { details: { path }, cause: err });
  }
  const raw = parseJsonText(text, path) as Partial<HostPlatformFile>;
  if (typeof raw !== "object" || raw === null || typeof raw.authoritySeed !== "string" || typeof raw.platformSeed !== "string") {
    throw new TvmxError("CONFIG_INVALID", `${path}: authoritySeed and platformSeed (strings) are required`, { details: { path } });
  }
  for (const [field, re] of [["teeTcbSvnRest", /^[0-9a-fA-F]{28}$/], ["fmspc", /^[0-9a-fA-F]{12}$/]] as const) {
    const v = raw[field];
    if (v !== undefined && (typeof v !== "string" || !re.test(v))) {
      throw new TvmxError("CONFIG_INVALID", `${path}: ${field} must be ${field === "fmspc" ? 6 : 14} bytes of hex, got ${JSON.stringify(v)}`, { details: { path, field, value: v } });
    }
  }
  return raw as HostPlatformFile;
}

export async function setupPlatform(file: HostPlatformFile): Promise<HostPlatform> {
  let platform: Platform;
  try {
    platform = new Platform({
      name: file.name ?? file.platformSeed,
      attestationKey: deriveP256KeyPair(file.platformSeed, "attestation"),
      ...(file.moduleVersion ? { moduleVersion: file.moduleVersion } : {}),
      ...(file.moduleSvn ? { moduleSvn: file.moduleSvn } : {}),
      ...(file.teeTcbSvnRest ? { teeTcbSvnRest: Buffer.from(file.teeTcbSvnRest, "hex") } : {}),
      ...(file.pceSvn !== undefined ? { pceSvn: file.pceSvn } : {}),
      fmspc: Buffer.from(file.fmspc ?? "90c06f000000", "hex"),
      ...(file.migrationVersions ? { migrationVersions: file.migrationVersions } : {}),
    });
  } catch (err) {
    throw new TvmxError("CONFIG_INVALID", `platform description rejected by the CPU model: ${(err as Error).message}`, { details: { platformSeed: file.platformSeed }, cause: err });
  }
  const authority = await ProvisioningAuthority.create({ seed: file.authoritySeed });
  const qe = await provisionPlatform(authority, platform, file.sgxTcbComponents ? { sgxTcbComponents: file.sgxTcbComponents } : {});
  const channelTd = platform.createTd({ memoryBytes: 16 * 4096, attributes: 0n });
  return {
    platform,
    channelTd,
    attester: createAttester(tdQuoteSource(platform, channelTd), qe),
    authority,
    trustedRoots: [authority.rootCertificate],
    collateral: authorityCollateralSource(authority),
  };
}
