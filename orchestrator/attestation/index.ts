/**
 * Attestation, the verifier side: the TDX quote v4 format and codecs, certificates, collateral, quote verification,
 * TCB status and the policy. The simulated issuer (provisioning authority, quoting enclave, simulated platform, the
 * collateral's signatures) is attestation-issuer/, which builds on this folder; nothing here imports it.
 */
export {
  AttestationError,
  PolicyViolationError,
  QuoteParseError,
  QuoteVerificationError,
} from "./errors.js";
export type { AttestationErrorCode, PolicyViolation } from "./errors.js";
export * from "./quote-format.js";
export { decodeQuote, encodeQuote, encodeQuoteHeader, encodeSignedPart } from "./quote-codec.js";
export type { QuoteHeader, QuoteSignatureData, TdxQuote } from "./quote-codec.js";
export { decodeTdQuoteBody, encodeTdQuoteBody } from "./td-report-codec.js";
export { decodeQeReport, encodeQeReport } from "./qe-report-codec.js";
export type { QeReport } from "./qe-report-codec.js";
export { certificatePublicKey, parseCertificateChain, parseTrustedRoots, verifyCertificateChain, verifyCertificateChainPem } from "./certificates.js";
export type { Certificate } from "./certificates.js";
export { deriveP256KeyPair, generateP256KeyPair, rawPublicKey, publicKeyFromRaw, sha256, signRaw, toCryptoKeyPair, verifyRaw } from "./p256.js";
/** The X.509 library with node:crypto installed as its engine (the channel builds its certificates with it). */
export { x509 } from "./x509-provider.js";
export type { P256KeyPair } from "./p256.js";
export { decodePckExtension, encodePckExtension, SGX_EXTENSION_OID } from "./sgx-extension.js";
export type { PckExtension } from "./sgx-extension.js";
export { assertSignedTcbInfo, verifyCollateral } from "./tcb-info.js";
export { TCB_STATUSES } from "./tcb-status.js";
export { assertSignedQeIdentity, evaluateQeIdentity, verifyQeIdentity } from "./qe-identity.js";
export type { QeIdentity, QeIdentityEvaluation, SignedQeIdentity } from "./qe-identity.js";
export type { QuoteCollateral, SignedTcbInfo, TcbInfo, TcbLevel, TdxModuleIdentity } from "./tcb-info.js";
export type { TcbStatus } from "./tcb-status.js";
export { convergeTcbStatus, evaluateTcb } from "./tcb-evaluation.js";
export type { TcbEvaluation, TcbEvaluationInput } from "./tcb-evaluation.js";
export { verifyQuote } from "./quote-verifier.js";
export type { CollateralSource, QuoteVerificationOptions, VerifiedQuote } from "./quote-verifier.js";
export { assertPolicy, evaluatePolicy, parsePolicy, parseTvmTcbCapability } from "./policy.js";
export type { AttestationPolicy, MaskedValue, PolicyVerdict, TvmTcbCapability } from "./policy.js";
export type { Attester, QuoteSource } from "./attester.js";
export { tcbCapabilityOf } from "./tcb-capability.js";
