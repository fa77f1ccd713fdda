/**
 * Quote verification, in the order DCAP's quote verification library applies it:
 * parse → PCK chain to a trusted root → PCK signature over the QE report → QE REPORTDATA binds the
 * attestation key → attestation key signature over header||body → collateral (TCB info and QE identity,
 * signed by the TCB signing key of a trusted root) → the QE report matches the QE identity → TCB info for
 * the same FMSPC/PCE-ID → TCB status (platform, TDX module and QE statuses converged).
 */
import { QuoteVerificationError } from "./errors.js";
import { certificatePublicKey, verifyCertificateChainPem, type Certificate } from "./certificates.js";
import { publicKeyFromRaw, sha256, verifyRaw } from "./p256.js";
import { decodeQuote, type TdxQuote } from "./quote-codec.js";
import { decodePckExtension, SGX_EXTENSION_OID, type PckExtension } from "./sgx-extension.js";
import { evaluateQeIdentity } from "./qe-identity.js";
import { convergeTcbStatus, evaluateTcb, type TcbEvaluation } from "./tcb-evaluation.js";
import { verifyCollateral, type QuoteCollateral } from "./tcb-info.js";

export interface QuoteVerificationOptions {
  /** Root certificates this deployment trusts (matched by subject and public key). */
  readonly trustedRoots: readonly Certificate[];
  /** The collateral, or where to get it for the FMSPC the PCK certificate names. */
  readonly collateral: QuoteCollateral | CollateralSource;
  readonly now?: Date;
}

/** Looks up the collateral (TCB info) for a platform's FMSPC, e.g. from a local cache of the provisioning service. */
export type CollateralSource = (pck: PckExtension) => QuoteCollateral | Promise<QuoteCollateral>;

export interface VerifiedQuote {
  readonly quote: TdxQuote;
  readonly pck: PckExtension;
  readonly pckCertificate: Certificate;
  readonly tcb: TcbEvaluation;
}

export async function verifyQuote(bytes: Uint8Array, options: QuoteVerificationOptions): Promise<VerifiedQuote> {
  const quote = decodeQuote(bytes);
  const sig = quote.signatureData;

  const chain = await verifyCertificateChainPem(sig.pckCertChainPem, { ...options, label: "PCK" });
  const pckCertificate = chain[0]!;
  const ext = pckCertificate.getExtension(SGX_EXTENSION_OID);
  if (!ext) throw new QuoteVerificationError("ATTESTATION_PCK_EXTENSION_INVALID", "PCK certificate has no SGX extension", { details: { oid: SGX_EXTENSION_OID } });
  const pck = decodePckExtension(Buffer.from(ext.value));

  if (!verifyRaw(certificatePublicKey(pckCertificate), sig.qeReportBytes, sig.qeReportSignature)) {
    throw new QuoteVerificationError("ATTESTATION_QE_REPORT_SIGNATURE_INVALID", "QE report signature does not verify with the PCK key");
  }
  const expected = Buffer.concat([sha256(sig.attestationKey, sig.qeAuthData), Buffer.alloc(32)]);
  if (!expected.equals(sig.qeReport.reportData)) {
    throw new QuoteVerificationError("ATTESTATION_QE_REPORT_DATA_MISMATCH", "QE report does not bind the attestation key", { details: {
      expected: expected.toString("hex"),
      actual: sig.qeReport.reportData.toString("hex"),
    } });
  }
  const attestationKey = (() => {
    try {
      return publicKeyFromRaw(sig.attestationKey);
    } catch (cause) {
      throw new QuoteVerificationError("ATTESTATION_QUOTE_SIGNATURE_INVALID", "quote attestation key is not a P-256 point", { cause });
    }
  })();
  if (!verifyRaw(attestationKey, quote.signedBytes, sig.signature)) {
    throw new QuoteVerificationError("ATTESTATION_QUOTE_SIGNATURE_INVALID", "quote signature does not verify with the attestation key");
  }

  const collateral = typeof options.collateral === "function" ? await options.collateral(pck) : options.collateral;
  const { tcbInfo, qeIdentity } = await verifyCollateral(collateral, options);
  const qe = evaluateQeIdentity(qeIdentity, sig.qeReport);
  const fmspc = pck.fmspc.toString("hex");
  const pceId = pck.pceId.toString("hex");
  if (tcbInfo.fmspc.toLowerCase() !== fmspc || tcbInfo.pceId.toLowerCase() !== pceId) {
    throw new QuoteVerificationError("ATTESTATION_TCB_INFO_MISMATCH", `TCB info is for FMSPC ${tcbInfo.fmspc}, the PCK certificate says ${fmspc}`, { details: {
      tcbInfoFmspc: tcbInfo.fmspc,
      pckFmspc: fmspc,
      tcbInfoPceId: tcbInfo.pceId,
      pckPceId: pceId,
    } });
  }
  const platform = evaluateTcb(tcbInfo, {
    sgxTcbComponents: pck.sgxTcbComponents,
    pceSvn: pck.pceSvn,
    teeTcbSvn: quote.body.teeTcbSvn,
    mrSignerSeam: quote.body.mrSignerSeam,
    seamAttributes: quote.body.seamAttributes,
  });
  const tcb: TcbEvaluation = {
    ...platform,
    status: convergeTcbStatus(platform.status, qe.status),
    qeStatus: qe.status,
    advisoryIds: [...new Set([...platform.advisoryIds, ...qe.advisoryIds])],
  };
  return { quote, pck, pckCertificate, tcb };
}
