/**
 * Attestation for the CPU model's platforms: a platform is provisioned by the provisioning authority (its
 * PCK certificate records the platform's FMSPC and PCE SVN) and quotes with the platform's own attestation
 * key; the TD reports come from TDG.MR.REPORT of one of its TDs (on a host, the channel TD).
 */
import type { Platform, TcbRequirement, TrustDomain } from "../tdx/index.js";
import type { CollateralSource, QuoteCollateral, QuoteSource, TcbInfo, TvmTcbCapability } from "../attestation/index.js";
import type { ProvisioningAuthority } from "./provisioning-authority.js";
import { QuotingEnclave } from "./quoting-enclave.js";
import { defaultPlatformConfig, defaultTcbInfo } from "./simulated-platform.js";

export interface PlatformProvisioningOptions {
  /** The platform's 16 SGX TCB components (microcode, BIOS...): the CPU model does not track them. */
  readonly sgxTcbComponents?: readonly number[];
  readonly qeSvn?: number;
  /** hex, 2 bytes */
  readonly pceId?: string;
}

/** Certifies `platform` with `authority` and returns its quoting enclave (signing with the platform's attestation key). */
export function provisionPlatform(authority: ProvisioningAuthority, platform: Platform, options: PlatformProvisioningOptions = {}): Promise<QuotingEnclave> {
  const defaults = defaultPlatformConfig().tcb;
  return QuotingEnclave.provision(
    authority,
    {
      sgxTcbComponents: options.sgxTcbComponents ?? defaults.sgxTcbComponents,
      pceSvn: platform.info.pceSvn,
      fmspc: Buffer.from(platform.info.fmspc),
      pceId: Buffer.from(options.pceId ?? defaults.pceId, "hex"),
      qeSvn: options.qeSvn ?? defaults.qeSvn,
    },
    { attestationKey: platform.attestationKey },
  );
}

/** TD reports of `td` on `platform` (TDG.MR.REPORT). */
export function tdQuoteSource(platform: Platform, td: TrustDomain): QuoteSource {
  return { tdReport: (reportData) => platform.tdReport(td, reportData) };
}

/**
 * The collateral a verifier's local cache of the provisioning service returns for a platform's FMSPC:
 * TCB info from `tcbInfoFor` (default: the standard levels), signed by `authority`, cached per FMSPC.
 */
export function authorityCollateralSource(authority: ProvisioningAuthority, tcbInfoFor: (fmspc: string, pceId: string) => TcbInfo = (fmspc, pceId) => defaultTcbInfo({ fmspc, pceId })): CollateralSource {
  const cache = new Map<string, QuoteCollateral>();
  return (pck) => {
    const fmspc = pck.fmspc.toString("hex");
    const pceId = pck.pceId.toString("hex");
    const key = `${fmspc}/${pceId}`;
    let c = cache.get(key);
    if (!c) {
      c = authority.collateral(tcbInfoFor(fmspc, pceId));
      cache.set(key, c);
    }
    return c;
  };
}
