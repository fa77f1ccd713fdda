/** Attestation: TDX quote v4 codec, simulated provisioning PKI, quote verification, TCB status, policy. */
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
export { deriveP256KeyPair, generateP256KeyPair, rawPublicKey, publicKeyFromRaw, signRaw, toCryptoKeyPair, verifyRaw } from "./p256.js";
/** The X.509 library with node:crypto installed as its engine (the channel builds its certificates with it). */
export { x509 } from "./x509-provider.js";
export type { P256KeyPair } from "./p256.js";
export { decodePckExtension, encodePckExtension, SGX_EXTENSION_OID } from "./sgx-extension.js";
export type { PckExtension } from "./sgx-extension.js";
export { AUTHORITY_NAMES, ProvisioningAuthority } from "./provisioning-authority.js";
export type { ProvisioningAuthorityOptions } from "./provisioning-authority.js";
export { defaultQeIdentity, QuotingEnclave, pckExtensionOf } from "./quoting-enclave.js";
export type { PlatformTcb, QuotingEnclaveKeys } from "./quoting-enclave.js";
export { assertSignedTcbInfo, signTcbInfo, verifyCollateral } from "./tcb-info.js";
export { TCB_STATUSES } from "./tcb-status.js";
export { assertSignedQeIdentity, evaluateQeIdentity, signQeIdentity, verifyQeIdentity } from "./qe-identity.js";
export type { QeIdentity, QeIdentityEvaluation, SignedQeIdentity } from "./qe-identity.js";
export type { QuoteCollateral, SignedTcbInfo, TcbInfo, TcbLevel, TdxModuleIdentity } from "./tcb-info.js";
export type { TcbStatus } from "./tcb-status.js";
export { convergeTcbStatus, evaluateTcb } from "./tcb-evaluation.js";
export type { TcbEvaluation, TcbEvaluationInput } from "./tcb-evaluation.js";
export { verifyQuote } from "./quote-verifier.js";
export type { CollateralSource, QuoteVerificationOptions, VerifiedQuote } from "./quote-verifier.js";
export { assertPolicy, evaluatePolicy, parsePolicy, parseTvmTcbCapability } from "./policy.js";
export type { AttestationPolicy, MaskedValue, PolicyVerdict, TvmTcbCapability } from "./policy.js";
export {
  DEFAULT_FMSPC,
  DEFAULT_MRSEAM,
  DEFAULT_MRTD,
  DEFAULT_PCE_ID,
  DEFAULT_TEE_TCB_SVN,
  DEFAULT_XFAM,
  configQuoteSource,
  createAttester,
  defaultCollateral,
  defaultPlatformConfig,
  defaultTcbInfo,
  parsePlatformConfig,
  platformTcbOf,
  provisionFromConfig,
  staticTdReport,
} from "./simulated-platform.js";
export type { Attester, PlatformConfig, QuoteSource } from "./simulated-platform.js";
export { authorityCollateralSource, provisionPlatform, tcbCapabilityOf, tdQuoteSource } from "./platform-attestation.js";
export type { PlatformProvisioningOptions } from "./platform-attestation.js";
