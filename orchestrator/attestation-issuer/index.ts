/**
 * The simulated issuer side of attestation: the provisioning authority (root and PCK CA, TCB signing, collateral),
 * the quoting enclave that signs quotes, the simulated platform described as data, and the provisioning of the TDX
 * CPU model's platforms. It builds on attestation/ (the format and the verifier) and stands where Intel's
 * provisioning service and a platform's QE stand; a real deployment replaces it, the verifier stays.
 */
export { signQeIdentity, signTcbInfo } from "./collateral-signing.js";
export { AUTHORITY_NAMES, ProvisioningAuthority } from "./provisioning-authority.js";
export type { ProvisioningAuthorityOptions } from "./provisioning-authority.js";
export { defaultQeIdentity, pckExtensionOf, QuotingEnclave } from "./quoting-enclave.js";
export type { PlatformTcb, QuotingEnclaveKeys } from "./quoting-enclave.js";
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
export type { PlatformConfig } from "./simulated-platform.js";
export { authorityCollateralSource, provisionPlatform, tdQuoteSource } from "./platform-attestation.js";
export type { PlatformProvisioningOptions } from "./platform-attestation.js";
