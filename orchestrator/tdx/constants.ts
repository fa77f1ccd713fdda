/** Architectural constants of the CPU model (names follow the Intel TDX Module 1.5 ABI). */

export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12;

/** TD ATTRIBUTES bits (64-bit, little-endian in every encoding). */
export const ATTRIBUTES = {
  DEBUG: 1n << 0n,
  SEPT_VE_DISABLE: 1n << 28n,
  MIGRATABLE: 1n << 29n,
  PKS: 1n << 30n,
  KL: 1n << 31n,
  PERFMON: 1n << 63n,
} as const;

/** XFAM bits (extended features the TD may use; the XSAVE area is sized from them). */
export const XFAM = {
  X87: 1n << 0n,
  SSE: 1n << 1n,
  AVX: 1n << 2n,
  OPMASK: 1n << 5n,
  ZMM_HI256: 1n << 6n,
  HI16_ZMM: 1n << 7n,
  PKRU: 1n << 9n,
  AMX_TILECFG: 1n << 17n,
  AMX_TILEDATA: 1n << 18n,
} as const;

/** X87 and SSE are mandatory for every TD (XFAM[1:0] = 11b). */
export const XFAM_FIXED1 = XFAM.X87 | XFAM.SSE;

/** Migration bundle types (MB_TYPE). */
export const MB_TYPE = {
  IMMUTABLE_TD_STATE: 0,
  MUTABLE_TD_STATE: 1,
  MUTABLE_VCPU_STATE: 2,
  MEM: 16,
  EPOCH_TOKEN: 32,
  ABORT_TOKEN: 33,
} as const;
export type MbType = (typeof MB_TYPE)[keyof typeof MB_TYPE];
export const MB_TYPES: readonly MbType[] = Object.values(MB_TYPE);

/** MBMD header: 24 bytes, the part every bundle starts with and the MAC covers. */
export const MBMD_HEADER_SIZE = 24;
/** Type-specific MBMD fields following the header. */
export const MBMD_FIELDS_SIZE = 8;
/** AES-256-GCM tag. */
export const MAC_SIZE = 16;
/** A whole MBMD: header + type-specific fields + MAC (the value of its `size` field). */
export const MBMD_SIZE = MBMD_HEADER_SIZE + MBMD_FIELDS_SIZE + MAC_SIZE;
/** The bytes of an MBMD that are authenticated (header + type-specific fields). */
export const MBMD_AAD_SIZE = MBMD_HEADER_SIZE + MBMD_FIELDS_SIZE;
/** One GPA-list entry (the AAD of the page it names). */
export const GPA_LIST_ENTRY_SIZE = 8;

/** The epoch value of the start token: the end of the in-order phase. */
export const MIG_EPOCH_START_TOKEN = 0xffffffff;
/** TDCS.EXPORT_COUNT limit (bit 31 must stay 0). */
export const MAX_MIG_EPOCH = 0x7fffffff;

/** Migration streams a TD may have (TDX allows 512; the model keeps a small fixed table in shared memory). */
export const MAX_MIGS = 16;
/** Pages in one memory bundle (TDX: one GPA list page = 512 entries). */
export const MAX_PAGES_PER_BUNDLE = 512;
/** vCPUs per TD in the model. */
export const MAX_VCPUS = 64;

/** AES-256 key length of the migration key. */
export const MIG_KEY_SIZE = 32;

/** SHA-384 digest length (MRTD, RTMR, MRSEAM...). */
export const SHA384_SIZE = 48;
