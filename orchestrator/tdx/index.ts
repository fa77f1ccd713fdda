/**
 * The simulated TDX-style CPU (Intel TDX Module 1.5 migration ABI): platform, trust domains, SEAMCALL leaves,
 * the migration wire format (MBMD, IV, GPA list) and the guest workload. See docs/tdx-model.md.
 */
export type {
  BlockwResult,
  BundleResult,
  ExportAbortOptions,
  ExportMemResult,
  ExportTrackOptions,
  ImportBundleResult,
  ImportMemResult,
  ImportTrackResult,
  LeafResult,
  MigInitiateResult,
  MigStreamContext,
  StreamCreateResult,
} from "./api.js";
export {
  ATTRIBUTES,
  GPA_LIST_ENTRY_SIZE,
  MAC_SIZE,
  MAX_MIG_EPOCH,
  MAX_MIGS,
  MAX_PAGES_PER_BUNDLE,
  MAX_VCPUS,
  MB_TYPE,
  MB_TYPES,
  MBMD_AAD_SIZE,
  MBMD_FIELDS_SIZE,
  MBMD_HEADER_SIZE,
  MBMD_SIZE,
  MIG_EPOCH_START_TOKEN,
  MIG_KEY_SIZE,
  PAGE_SIZE,
  SHA384_SIZE,
  XFAM,
  XFAM_FIXED1,
} from "./constants.js";
export type { MbType } from "./constants.js";
export { tdMemoryDigest, tdStateDigest, tdVcpuDigest } from "./digest.js";
export { expectSuccess, TdxLeafFailedError, TdxModelError } from "./errors.js";
export { memBundleSize } from "./export-leaves.js";
export { GPA_OPERATION, readGpaEntry, writeGpaEntry } from "./gpa-list.js";
export { BACKWARD_IV_BIT, buildIv, IV_SIZE } from "./iv.js";
export { LEAF, leafName } from "./leaf.js";
export type { LeafName, LeafNumber } from "./leaf.js";
export { decodeMbmd, encodeMbmd, encodeMbmdAad, importLeafName, MBMD_OFFSET, peekMbmdHeader, peekMemPageCount } from "./mbmd.js";
export type { Mbmd, MbmdDecodeResult, MbmdFields, MbmdHeader } from "./mbmd.js";
export { MrtdBuilder } from "./measurement.js";
export {
  decodeMigRequest,
  encodeMigRequestBody,
  MIG_REQUEST_SIZE,
  MIG_REQUEST_VERSION,
  signMigRequest,
  verifyMigRequest,
} from "./mig-request.js";
export type { MigRequestDescriptor, MigRequestFields, MigRequestVerification } from "./mig-request.js";
export { setMigrationKey, TdxModule } from "./module.js";
export type { MigInitiateOptions, SeamcallArgs } from "./module.js";
export {
  DEFAULT_CPUID_FEATURES,
  DEFAULT_SUPPORTED_ATTRIBUTES,
  DEFAULT_SUPPORTED_XFAM,
  Platform,
} from "./platform.js";
export type { CreateImportTdOptions, CreateTdOptions, MigrationVersionSupport, PlatformInfo, PlatformOptions } from "./platform.js";
export {
  activeCodecChoice,
  checkCodecArgs,
  chooseCodec,
  codecReport,
  CRYPTO_BACKEND_ENV,
  loadNativeCodec,
  NATIVE_ADDON_PATH,
  nodePageCodec,
  pageCodec,
  setActiveCodecChoice,
} from "./page-codec.js";
export type { CodecBackendName, CodecChoice, CodecKey, CodecReport, PageCodec, PageLayout } from "./page-codec.js";
export { isSuccess, statusClass, statusName, TDX_STATUS } from "./status.js";
export type { TdxStatus, TdxStatusName } from "./status.js";
export { decodeTdConfig, encodeTdConfig, IMMUTABLE_STATE_SIZE, moduleVersionAtLeast, teeTcbSvnAtLeast } from "./td-config.js";
export type { ModuleVersion, TcbRequirement, TdConfig } from "./td-config.js";
export { OP_STATE, OP_STATE_NAME, PAGE_FLAG, VCPU_REGS, xsaveSize } from "./td-layout.js";
export type { OpState, TdLifecycle, VcpuRegName } from "./td-layout.js";
export { TD_REPORT_FIELD_SIZES } from "./td-report.js";
export type { TdReportBody } from "./td-report.js";
export { allocateTdShared, MAX_MEMORY_PAGES, TD_STATE_SIZE } from "./td-shared.js";
export type { TdSharedHandle } from "./td-shared.js";
export { openTdShared, TrustDomain } from "./trust-domain.js";
export { GuestWorkload, GuestWriteSequence } from "./workload.js";
export type { GuestWorkloadOptions, GuestWrite } from "./workload.js";
