import { MAX_MIGS, MAX_VCPUS } from "./constants.js";

/**
 * The layout of a TD's shared state. Everything a leaf touches lives in SharedArrayBuffers, so that any leaf can
 * run in a worker thread on a TD reopened from its `TdSharedHandle` (a memory leaf usually does).
 */

/** TD operation state, after TDX's OP_STATE (plus the model's IMPORT_READY and TORN_DOWN). */
export const OP_STATE = {
  /** TDH.MNG.CREATE/INIT done, pages being added and measured; not runnable yet. */
  CREATED: 1,
  /** TDH.MR.FINALIZE done (or import ended): the guest runs. */
  RUNNABLE: 2,
  /** Export session in its in-order phase, the guest still runs. */
  LIVE_EXPORT: 3,
  /** TDH.EXPORT.PAUSE done: blackout, the guest does not run. */
  PAUSED_EXPORT: 4,
  /** Start token emitted: only the destination's abort token can bring the TD back. */
  POST_EXPORT: 5,
  /** Destination: immutable state imported, memory import (in-order). */
  MEMORY_IMPORT: 6,
  /** Destination: TD-scope state imported, vCPU state and memory still allowed. */
  STATE_IMPORT: 7,
  /** Destination: start token imported, waiting for commit. */
  POST_IMPORT: 8,
  /** Destination: committed, the guest runs; TDH.IMPORT.END closes the session. */
  LIVE_IMPORT: 9,
  /** Destination: an import failed or was aborted; the TD can only be torn down. */
  FAILED_IMPORT: 10,
  /** Destination: created for an import, waiting for TDH.IMPORT.STATE.IMMUTABLE. */
  IMPORT_READY: 11,
  /** Reclaimed: memory and keys released; nothing runs it ever again. */
  TORN_DOWN: 12,
} as const;
export type OpState = (typeof OP_STATE)[keyof typeof OP_STATE];

/** Names for logs and errors. */
export const OP_STATE_NAME: Record<OpState, string> = Object.fromEntries(
  Object.entries(OP_STATE).map(([name, value]) => [value, name]),
) as Record<OpState, string>;

/** The lifecycle as a discriminated union, computed from the shared state by `TrustDomain.lifecycle`. */
export type TdLifecycle =
  | { readonly kind: "created" }
  | { readonly kind: "running"; readonly afterImport: boolean; readonly restorePending: boolean }
  | { readonly kind: "exporting"; readonly epoch: number }
  | { readonly kind: "paused"; readonly epoch: number }
  | { readonly kind: "exported" }
  | { readonly kind: "importing"; readonly phase: "awaiting-immutable" | "memory" | "state" | "post-import"; readonly epoch: number }
  | { readonly kind: "committed" }
  | { readonly kind: "import-failed" }
  | { readonly kind: "torn-down" };

/** Indexes into the TD's control Int32Array. */
export const CTL = {
  OP_STATE: 0,
  /** Export: current epoch (0 in the first pre-copy epoch). */
  EXPORT_EPOCH: 1,
  /** Import: current epoch. */
  IMPORT_EPOCH: 2,
  /** Bundles exported (export side) or imported (import side) in this session, tokens included. */
  TOTAL_MB: 3,
  /** Pages with PAGE_FLAG.DIRTY set. */
  DIRTY_COUNT: 4,
  /** Pages not exported yet in this session. */
  NOT_EXPORTED: 5,
  /** Entries on the dirty log. */
  DIRTY_LOG_LEN: 6,
  KEY_SET: 7,
  MIG_VERSION: 8,
  /** 1 once a bundle authenticated under the key: a later MAC failure means tampering, not a wrong key. */
  KEY_PROVEN: 9,
  IMMUTABLE_DONE: 10,
  TD_STATE_DONE: 11,
  VPS_DONE: 12,
  /** Export: abort happened and TDH.EXPORT.RESTORE has not run yet. */
  RESTORE_PENDING: 13,
  /** Import: the TD became runnable through an import. */
  AFTER_IMPORT: 14,
  /** Pages imported (PRESENT) on the import side. */
  PRESENT_COUNT: 15,
  /** Bitmask of created streams (MAX_MIGS <= 31). */
  STREAMS: 16,
  /** Number of vCPUs the TD has (the destination learns it at STATE.IMMUTABLE). */
  NUM_VCPUS: 17,
  /** Bumped whenever the migration key changes, so per-thread key objects are refreshed. */
  KEY_GEN: 19,
  /** Start of the per-vCPU "state migrated" flags. */
  VP_DONE_BASE: 32,
} as const;
export const CONTROL_INTS = CTL.VP_DONE_BASE + MAX_VCPUS;

/** Per-page flags (Uint8Array, changed with Atomics.compareExchange only). */
export const PAGE_FLAG = {
  /** Write-blocked for export (TDH.EXPORT.BLOCKW). */
  BLOCKED: 1,
  /** Written after it was blocked: must be exported again. */
  DIRTY: 2,
  /** Exported at least once in this session. */
  EXPORTED: 4,
  /** On the dirty log (so a page is logged once until the log is drained). */
  LOGGED: 8,
  /** Destination: imported at least once. */
  PRESENT: 16,
} as const;

/** Per-stream counters: BigInt64 [iv_counter, last received iv_counter] then Int32 [next mb_counter, expected mb_counter]. */
export const MIGSC_BIGINTS_PER_STREAM = 2;
export const MIGSC_INTS_PER_STREAM = 2;
export const MIGSC_BYTES = MAX_MIGS * MIGSC_BIGINTS_PER_STREAM * 8 + MAX_MIGS * MIGSC_INTS_PER_STREAM * 4;

/** vCPU register file: 24 u64 in this order, followed by the XSAVE area. */
export const VCPU_REGS = [
  "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
  "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
  "rip", "rflags", "cr0", "cr3", "cr4", "efer", "xcr0", "tscAux",
] as const;
export type VcpuRegName = (typeof VCPU_REGS)[number];
export const VCPU_REGS_SIZE = VCPU_REGS.length * 8;

/**
 * XSAVE components (standard, non-compacted format): offset and size of each state component by XFAM bit.
 * The legacy region (x87 + SSE, 512 bytes) and the XSAVE header (64 bytes) are always present.
 */
export const XSAVE_COMPONENTS: readonly { bit: number; offset: number; size: number }[] = [
  { bit: 2, offset: 576, size: 256 }, // AVX (YMM_Hi128)
  { bit: 5, offset: 1088, size: 64 }, // AVX-512 opmask
  { bit: 6, offset: 1152, size: 512 }, // ZMM_Hi256
  { bit: 7, offset: 1664, size: 1024 }, // Hi16_ZMM
  { bit: 9, offset: 2688, size: 8 }, // PKRU
  { bit: 17, offset: 2752, size: 64 }, // AMX TILECFG
  { bit: 18, offset: 2816, size: 8192 }, // AMX TILEDATA
];
export const XSAVE_LEGACY_AND_HEADER = 576;
export const XSAVE_MAX_SIZE = 2816 + 8192;

/** Size of the XSAVE area of a TD with this XFAM. */
export function xsaveSize(xfam: bigint): number {
  let size = XSAVE_LEGACY_AND_HEADER;
  for (const c of XSAVE_COMPONENTS) if ((xfam >> BigInt(c.bit)) & 1n) size = Math.max(size, c.offset + c.size);
  return size;
}

/** One vCPU's slot in the shared vCPU buffer (registers + the largest XSAVE area). */
export const VCPU_SLOT_SIZE = VCPU_REGS_SIZE + XSAVE_MAX_SIZE;
