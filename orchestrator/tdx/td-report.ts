/**
 * The fields of a TD report body (TDX quote v4, "TD Quote Body", 584 bytes), as the CPU model
 * produces them for a trust domain. The byte layout lives with the quote encoder in
 * `orchestrator/attestation/`; this file only names the fields and their sizes so that the CPU
 * model and the attestation code agree on them.
 */
export interface TdReportBody {
  /** TEE_TCB_SVN: 16 bytes; byte 0-1 hold the TDX module SVN (minor, major). */
  readonly teeTcbSvn: Buffer;
  /** MRSEAM: SHA-384 of the TDX module (48 bytes). */
  readonly mrSeam: Buffer;
  /** MRSIGNERSEAM: SHA-384 of the module signer (48 bytes, zero for Intel's module). */
  readonly mrSignerSeam: Buffer;
  /** SEAMATTRIBUTES: 8 bytes. */
  readonly seamAttributes: Buffer;
  /** TDATTRIBUTES: 8 bytes, little-endian bit field (DEBUG bit 0, MIGRATABLE bit 29). */
  readonly tdAttributes: Buffer;
  /** XFAM: 8 bytes, little-endian. */
  readonly xfam: Buffer;
  /** MRTD: SHA-384 measurement of the initial TD image (48 bytes). */
  readonly mrTd: Buffer;
  /** MRCONFIGID, MROWNER, MROWNERCONFIG: 48 bytes each. */
  readonly mrConfigId: Buffer;
  readonly mrOwner: Buffer;
  readonly mrOwnerConfig: Buffer;
  /** RTMR0..3: 48 bytes each. */
  readonly rtmr: readonly [Buffer, Buffer, Buffer, Buffer];
  /** REPORTDATA: 64 bytes chosen by the caller (binds e.g. a TLS public key). */
  readonly reportData: Buffer;
}

export const TD_REPORT_FIELD_SIZES = {
  teeTcbSvn: 16,
  mrSeam: 48,
  mrSignerSeam: 48,
  seamAttributes: 8,
  tdAttributes: 8,
  xfam: 8,
  mrTd: 48,
  mrConfigId: 48,
  mrOwner: 48,
  mrOwnerConfig: 48,
  rtmr: 48,
  reportData: 64,
} as const;
