/**
 * The TDX quote v4 layout (Intel TDX DCAP Quoting Library API, appendix A.3 "Version 4 Quote Format"),
 * as offsets and sizes. All integers are little-endian. `docs/attestation.md` has the same table.
 *
 *   0    header (48): version u16 = 4, attestation key type u16 = 2, TEE type u32 = 0x81,
 *        QE SVN u16, PCE SVN u16, QE vendor id [16], user data [20]
 *   48   TD quote body (584): TEE_TCB_SVN, MRSEAM, MRSIGNERSEAM, SEAMATTRIBUTES, TDATTRIBUTES, XFAM,
 *        MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG, RTMR0..3, REPORTDATA
 *   632  quote signature data length u32
 *   636  ECDSA quote signature data: signature [64] (r||s over header||body), attestation public key
 *        [64] (x||y), certification data (type u16 = 6, size u32, QE report certification data:
 *        QE report [384], QE report signature [64], QE auth data size u16 + bytes,
 *        certification data type u16 = 5, size u32, PCK certificate chain PEM)
 */

export const QUOTE_VERSION_4 = 4;
export const ATTESTATION_KEY_TYPE_ECDSA_P256 = 2;
export const TEE_TYPE_TDX = 0x81;
/** Intel's QE vendor id 939A7233-F79C-4CA9-940A-0DB3957F0607. */
export const INTEL_QE_VENDOR_ID = Buffer.from("939a7233f79c4ca9940a0db3957f0607", "hex");

export const QUOTE_HEADER_SIZE = 48;
export const TD_QUOTE_BODY_SIZE = 584;
export const QE_REPORT_SIZE = 384;
export const ECDSA_SIGNATURE_SIZE = 64;
export const ECDSA_PUBLIC_KEY_SIZE = 64;

export const CERTIFICATION_DATA_TYPE_PCK_CERT_CHAIN = 5;
export const CERTIFICATION_DATA_TYPE_QE_REPORT = 6;

/** Upper bound on a quote we accept to parse: real quotes are ~5 KiB; this keeps parsing bounded. */
export const QUOTE_MAX_SIZE = 64 * 1024;

export const HEADER_OFFSETS = {
  version: 0,
  attestationKeyType: 2,
  teeType: 4,
  qeSvn: 8,
  pceSvn: 10,
  qeVendorId: 12,
  userData: 28,
} as const;

/** Offsets of the TD quote body fields, relative to the start of the body (quote offset 48). */
export const BODY_OFFSETS = {
  teeTcbSvn: 0,
  mrSeam: 16,
  mrSignerSeam: 64,
  seamAttributes: 112,
  tdAttributes: 120,
  xfam: 128,
  mrTd: 136,
  mrConfigId: 184,
  mrOwner: 232,
  mrOwnerConfig: 280,
  rtmr0: 328,
  rtmr1: 376,
  rtmr2: 424,
  rtmr3: 472,
  reportData: 520,
} as const;

/** Offsets of the SGX report body fields (the QE report, 384 bytes). */
export const QE_REPORT_OFFSETS = {
  cpuSvn: 0,
  miscSelect: 16,
  attributes: 48,
  mrEnclave: 64,
  mrSigner: 128,
  isvProdId: 256,
  isvSvn: 258,
  reportData: 320,
} as const;

export const SIGNATURE_DATA_LENGTH_OFFSET = QUOTE_HEADER_SIZE + TD_QUOTE_BODY_SIZE; // 632
export const SIGNATURE_DATA_OFFSET = SIGNATURE_DATA_LENGTH_OFFSET + 4; // 636

// Layout assertions: the offsets above must add up to the sizes the specification gives.
if (BODY_OFFSETS.reportData + 64 !== TD_QUOTE_BODY_SIZE) throw new Error("TD quote body layout does not add up to 584");
if (QE_REPORT_OFFSETS.reportData + 64 !== QE_REPORT_SIZE) throw new Error("QE report layout does not add up to 384");
