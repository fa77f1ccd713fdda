import type { TdReportBody } from "../tdx/index.js";

/**
 * What produces quotes, as the channel sees it: the verifier side names the interface, the simulated issuer
 * (attestation-issuer/) implements it.
 */

/** Where TD reports come from: the CPU model's platform for a given TD, or a fixed report description. */
export interface QuoteSource {
  tdReport(reportData: Buffer): TdReportBody;
}

/** Produces signed quotes for a 64-byte REPORTDATA. */
export interface Attester {
  quote(reportData: Buffer): Buffer;
}
