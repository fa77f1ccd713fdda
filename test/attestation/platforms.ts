/** Quotes from simulated platforms for the attestation tests, all provisioned by one shared authority. */
import { verifyQuote, type QuoteCollateral, type VerifiedQuote } from "../../orchestrator/attestation/index.js";
import {
  configQuoteSource,
  createAttester,
  defaultPlatformConfig,
  defaultTcbInfo,
  platformTcbOf,
  ProvisioningAuthority,
  QuotingEnclave,
  type PlatformConfig,
} from "../../orchestrator/attestation-issuer/index.js";

export interface PlatformVariant {
  td?: Partial<PlatformConfig["td"]>;
  tcb?: Partial<PlatformConfig["tcb"]>;
}

export interface AttestationBench {
  authority: ProvisioningAuthority;
  collateral: QuoteCollateral;
  quote(variant?: PlatformVariant, reportData?: Buffer): Promise<Buffer>;
  verify(bytes: Buffer, overrides?: { collateral?: QuoteCollateral; now?: Date; authority?: ProvisioningAuthority }): Promise<VerifiedQuote>;
}

/** TEE_TCB_SVN with module SVN `moduleSvn`, major 1, TDX component 2 = `component2`. */
export function teeTcbSvn(moduleSvn: number, component2: number, major = 1): string {
  const b = Buffer.alloc(16);
  b[0] = moduleSvn;
  b[1] = major;
  b[2] = component2;
  return b.toString("hex");
}

export async function createBench(): Promise<AttestationBench> {
  const authority = await ProvisioningAuthority.create();
  const collateral = authority.collateral(defaultTcbInfo());
  const enclaves = new Map<string, QuotingEnclave>();
  return {
    authority,
    collateral,
    async quote(variant = {}, reportData = Buffer.alloc(64, 0xab)) {
      const base = defaultPlatformConfig();
      const config: PlatformConfig = { ...base, tcb: { ...base.tcb, ...variant.tcb }, td: { ...base.td, ...variant.td } };
      const key = JSON.stringify(config.tcb);
      let qe = enclaves.get(key);
      if (!qe) {
        qe = await QuotingEnclave.provision(authority, platformTcbOf(config));
        enclaves.set(key, qe);
      }
      return createAttester(configQuoteSource(config), qe).quote(reportData);
    },
    verify(bytes, overrides = {}) {
      const pcs = overrides.authority ?? authority;
      return verifyQuote(bytes, { trustedRoots: [pcs.rootCertificate], collateral: overrides.collateral ?? collateral, now: overrides.now });
    },
  };
}
