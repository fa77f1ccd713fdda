import { createHash, type KeyObject } from "node:crypto";
import { MAX_MIGS, MAX_VCPUS, PAGE_SHIFT, PAGE_SIZE, SHA384_SIZE } from "./constants.js";
import { TdxModelError } from "./errors.js";
import { MigrationKeySlot } from "./migration-key.js";
import type { CodecKey } from "./page-codec.js";
import type { PlatformInfo } from "./platform.js";
import { TDX_STATUS, type TdxStatus } from "./status.js";
import { decodeTdConfig, encodeTdConfig, type TdConfig } from "./td-config.js";
import {
  CTL,
  MIGSC_BIGINTS_PER_STREAM,
  MIGSC_INTS_PER_STREAM,
  OP_STATE,
  PAGE_FLAG,
  VCPU_REGS,
  VCPU_REGS_SIZE,
  VCPU_SLOT_SIZE,
  type OpState,
  type TdLifecycle,
  type VcpuRegName,
  xsaveSize,
} from "./td-layout.js";
import { normalizePlatformInfo, TD_STATE_SIZE, TDCS_OFFSET, type TdSharedHandle } from "./td-shared.js";

/** Reopens a TD from its handle (in a worker, or anywhere): all views share the same memory. */
export function openTdShared(handle: TdSharedHandle): TrustDomain {
  return new TrustDomain(handle);
}

/** RUNNABLE, LIVE_EXPORT, LIVE_IMPORT: the guest executes (a plain comparison: the write path asks on every write). */
const isRunningState = (s: OpState): boolean => s === OP_STATE.RUNNABLE || s === OP_STATE.LIVE_EXPORT || s === OP_STATE.LIVE_IMPORT;
// Hot-path constants as module locals (imported bindings may be accessors once transpiled).
const BLOCKED = PAGE_FLAG.BLOCKED;
const DIRTY = PAGE_FLAG.DIRTY;
const LOGGED = PAGE_FLAG.LOGGED;
const SHIFT = PAGE_SHIFT;
const CTL_OP_STATE = CTL.OP_STATE;
const CTL_DIRTY_COUNT = CTL.DIRTY_COUNT;
const CTL_DIRTY_LOG_LEN = CTL.DIRTY_LOG_LEN;

/**
 * A trust domain: private memory of 4 KiB pages, vCPUs, TDCS (configuration, measurements, migration key) and
 * the per-page SEPT migration state, all in shared memory. The VMM side (the migration engine) reaches it only
 * through the TDX module's leaves (`TdxModule`); the guest side through the memory-write path and the
 * measurement registers.
 */
export class TrustDomain {
  readonly handle: TdSharedHandle;
  readonly platform: PlatformInfo;
  readonly memory: Uint8Array;
  private readonly memory32: Uint32Array;
  /** Per-page flags (PAGE_FLAG), changed with Atomics only. */
  readonly pageFlags: Uint8Array;
  /** Per page: 1 + the epoch of its last export (export side) or import (import side); 0 = never. */
  readonly pageEpoch: Uint32Array;
  readonly control: Int32Array;
  readonly tdcs: Buffer;
  readonly vcpuBytes: Buffer;
  /** Per stream: [iv_counter, last received iv_counter]. */
  readonly migscIv: BigUint64Array;
  /** Per stream: [next mb_counter, expected mb_counter]. */
  readonly migscCounters: Int32Array;
  private readonly dirtyLog: Uint32Array;
  private readonly vcpuRegs: BigUint64Array;
  private cachedConfig: TdConfig | undefined;
  private readonly migKey: MigrationKeySlot;

  constructor(handle: TdSharedHandle) {
    this.handle = handle;
    this.platform = normalizePlatformInfo(handle.platform);
    this.memory = new Uint8Array(handle.memory);
    this.memory32 = new Uint32Array(handle.memory);
    this.pageFlags = new Uint8Array(handle.pageFlags);
    this.pageEpoch = new Uint32Array(handle.pageEpoch);
    this.dirtyLog = new Uint32Array(handle.dirtyLog);
    this.control = new Int32Array(handle.control);
    this.tdcs = Buffer.from(handle.tdcs);
    this.vcpuBytes = Buffer.from(handle.vcpus);
    this.vcpuRegs = new BigUint64Array(handle.vcpus);
    this.migscIv = new BigUint64Array(handle.migsc, 0, MAX_MIGS * MIGSC_BIGINTS_PER_STREAM);
    this.migscCounters = new Int32Array(handle.migsc, MAX_MIGS * MIGSC_BIGINTS_PER_STREAM * 8, MAX_MIGS * MIGSC_INTS_PER_STREAM);
    this.migKey = new MigrationKeySlot(this.tdcs, this.control);
  }

  get id(): string {
    return this.handle.id;
  }

  get memoryPages(): number {
    return this.handle.memoryPages;
  }

  get memoryBytes(): number {
    return this.handle.memoryPages * PAGE_SIZE;
  }

  // ---- configuration (TDCS immutable part) ----

  /** True once the TD has an immutable configuration (always on a source; after STATE.IMMUTABLE on a destination). */
  get configured(): boolean {
    return Atomics.load(this.control, CTL.IMMUTABLE_DONE) === 1 || this.opState !== OP_STATE.IMPORT_READY;
  }

  get config(): TdConfig {
    if (this.cachedConfig !== undefined) return this.cachedConfig;
    const config = decodeTdConfig(this.tdcs, TDCS_OFFSET.immutable);
    if (config === undefined || !this.configured) {
      throw new TdxModelError("TDX_TD_NOT_CONFIGURED", "the TD has no configuration yet (import it first)", { details: { td: this.id } });
    }
    this.cachedConfig = config;
    return config;
  }

  /** Writes the immutable configuration into the TDCS (TDH.MNG.INIT, or TDH.IMPORT.STATE.IMMUTABLE). */
  writeConfig(config: TdConfig): void {
    encodeTdConfig(config, this.tdcs, TDCS_OFFSET.immutable);
    Atomics.store(this.control, CTL.NUM_VCPUS, config.numVcpus);
    this.cachedConfig = undefined;
  }

  get numVcpus(): number {
    return Atomics.load(this.control, CTL.NUM_VCPUS);
  }

  get xsaveSize(): number {
    return xsaveSize(this.config.xfam);
  }

  // ---- lifecycle ----

  get opState(): OpState {
    return Atomics.load(this.control, CTL_OP_STATE) as OpState;
  }

  /** Moves the TD from one of `from` to `to` atomically; TDX_OP_STATE_INCORRECT (or LIFECYCLE for a torn-down TD) otherwise. */
  transition(from: readonly OpState[], to: OpState): TdxStatus {
    for (;;) {
      const current = this.opState;
      if (!from.includes(current)) {
        return current === OP_STATE.TORN_DOWN ? TDX_STATUS.TDX_LIFECYCLE_STATE_INCORRECT : TDX_STATUS.TDX_OP_STATE_INCORRECT;
      }
      if (Atomics.compareExchange(this.control, CTL.OP_STATE, current, to) === current) return TDX_STATUS.TDX_SUCCESS;
    }
  }

  /** Checks the TD is in one of `states` without changing it. */
  requireState(states: readonly OpState[]): TdxStatus {
    const current = this.opState;
    if (states.includes(current)) return TDX_STATUS.TDX_SUCCESS;
    return current === OP_STATE.TORN_DOWN ? TDX_STATUS.TDX_LIFECYCLE_STATE_INCORRECT : TDX_STATUS.TDX_OP_STATE_INCORRECT;
  }

  get lifecycle(): TdLifecycle {
    const c = this.control;
    switch (this.opState) {
      case OP_STATE.CREATED:
        return { kind: "created" };
      case OP_STATE.RUNNABLE:
        return { kind: "running", afterImport: Atomics.load(c, CTL.AFTER_IMPORT) === 1, restorePending: Atomics.load(c, CTL.RESTORE_PENDING) === 1 };
      case OP_STATE.LIVE_EXPORT:
        return { kind: "exporting", epoch: Atomics.load(c, CTL.EXPORT_EPOCH) };
      case OP_STATE.PAUSED_EXPORT:
        return { kind: "paused", epoch: Atomics.load(c, CTL.EXPORT_EPOCH) };
      case OP_STATE.POST_EXPORT:
        return { kind: "exported" };
      case OP_STATE.IMPORT_READY:
        return { kind: "importing", phase: "awaiting-immutable", epoch: 0 };
      case OP_STATE.MEMORY_IMPORT:
        return { kind: "importing", phase: "memory", epoch: Atomics.load(c, CTL.IMPORT_EPOCH) };
      case OP_STATE.STATE_IMPORT:
        return { kind: "importing", phase: "state", epoch: Atomics.load(c, CTL.IMPORT_EPOCH) };
      case OP_STATE.POST_IMPORT:
        return { kind: "importing", phase: "post-import", epoch: Atomics.load(c, CTL.IMPORT_EPOCH) };
      case OP_STATE.LIVE_IMPORT:
        return { kind: "committed" };
      case OP_STATE.FAILED_IMPORT:
        return { kind: "import-failed" };
      case OP_STATE.TORN_DOWN:
        return { kind: "torn-down" };
    }
  }

  /** True while the guest executes (and may write its memory). */
  get isRunning(): boolean {
    return isRunningState(this.opState);
  }

  // ---- guest memory-write path ----

  /**
   * The guest writes `data` at `gpa`. A write to a write-blocked page takes the EPT-violation path first, which
   * unblocks the page and marks it dirty (TDH.EXPORT.UNBLOCKW as the VMM calls it on such a violation) and logs
   * it on the dirty log; then the write completes. Returns TDX_OP_STATE_INCORRECT when the guest is not running.
   */
  guestWrite(gpa: number, data: Uint8Array): TdxStatus {
    const check = this.checkGuestAccess(gpa, data.length);
    if (check !== TDX_STATUS.TDX_SUCCESS) return check;
    this.faultInRange(gpa, data.length);
    this.memory.set(data, gpa);
    return TDX_STATUS.TDX_SUCCESS;
  }

  /** The guest fills `length` bytes at `gpa` with a repeating 32-bit pattern (no allocation: the workload's path). */
  guestFill32(gpa: number, length: number, pattern: number): TdxStatus {
    const check = this.checkGuestAccess(gpa, length);
    if (check !== TDX_STATUS.TDX_SUCCESS) return check;
    this.faultInRange(gpa, length);
    const m = this.memory;
    const b0 = pattern & 0xff, b1 = (pattern >>> 8) & 0xff, b2 = (pattern >>> 16) & 0xff, b3 = pattern >>> 24;
    if ((gpa & 3) === 0 && (length & 3) === 0) {
      // Little-endian platform words: byte i of the run is byte (i & 3) of the pattern, as in the unaligned path.
      this.memory32.fill(pattern >>> 0, gpa >>> 2, (gpa + length) >>> 2);
    } else {
      for (let i = 0; i < length; i++) m[gpa + i] = (i & 3) === 0 ? b0 : (i & 3) === 1 ? b1 : (i & 3) === 2 ? b2 : b3;
    }
    return TDX_STATUS.TDX_SUCCESS;
  }

  /** A copy of guest memory (a debug read, as TDH.MEM.RD would do for a DEBUG TD; the model allows it in tests). */
  readMemory(gpa: number, length: number): Buffer {
    if (gpa < 0 || length < 0 || gpa + length > this.memoryBytes) {
      throw new TdxModelError("TDX_GPA_OUT_OF_RANGE", "read outside TD memory", { details: { gpa, length } });
    }
    return Buffer.from(this.memory.subarray(gpa, gpa + length));
  }

  private checkGuestAccess(gpa: number, length: number): TdxStatus {
    const state = Atomics.load(this.control, CTL_OP_STATE) as OpState;
    if (!isRunningState(state)) return state === OP_STATE.TORN_DOWN ? TDX_STATUS.TDX_LIFECYCLE_STATE_INCORRECT : TDX_STATUS.TDX_OP_STATE_INCORRECT;
    if (!Number.isInteger(gpa) || gpa < 0 || length < 0 || gpa + length > this.memory.length) return TDX_STATUS.TDX_OPERAND_ADDR_RANGE_ERROR;
    return TDX_STATUS.TDX_SUCCESS;
  }

  private faultInRange(gpa: number, length: number): void {
    if (length === 0) return;
    const first = gpa >>> SHIFT;
    const last = (gpa + length - 1) >>> SHIFT;
    for (let p = first; p <= last; p++) {
      if ((Atomics.load(this.pageFlags, p) & BLOCKED) !== 0) this.unblockPage(p);
    }
  }

  // ---- SEPT migration state ----

  /**
   * Clears the write block of page `page` and marks it dirty (the TDH.EXPORT.UNBLOCKW effect). Returns
   * TDX_NOT_WRITE_BLOCKED when it was not blocked.
   */
  unblockPage(page: number): TdxStatus {
    const flags = this.pageFlags;
    for (;;) {
      const s = Atomics.load(flags, page);
      if ((s & BLOCKED) === 0) return TDX_STATUS.TDX_NOT_WRITE_BLOCKED;
      const next = (s & ~BLOCKED) | DIRTY | LOGGED;
      if (Atomics.compareExchange(flags, page, s, next) !== s) continue;
      if ((s & DIRTY) === 0) Atomics.add(this.control, CTL_DIRTY_COUNT, 1);
      if ((s & LOGGED) === 0) {
        const at = Atomics.add(this.control, CTL_DIRTY_LOG_LEN, 1);
        Atomics.store(this.dirtyLog, at, page);
      }
      return TDX_STATUS.TDX_SUCCESS;
    }
  }

  /** Entries on the dirty log (pages written since they were write-blocked, not drained yet). */
  get dirtyLogLength(): number {
    return Atomics.load(this.control, CTL.DIRTY_LOG_LEN);
  }

  /** Pages that still need an export before the start token (dirty, or never exported in this session). */
  get pendingExportPages(): { dirty: number; notExported: number } {
    return { dirty: Atomics.load(this.control, CTL.DIRTY_COUNT), notExported: Atomics.load(this.control, CTL.NOT_EXPORTED) };
  }

  /**
   * Drains the dirty log: the GPAs of the pages the guest wrote after they were write-blocked, in the order they
   * were first written. O(entries), never O(memory). The dirty log is single-consumer (the VMM's thread that
   * runs pre-copy) and written only by the thread that runs the guest.
   */
  drainDirtyLog(): Uint32Array {
    const n = Atomics.exchange(this.control, CTL.DIRTY_LOG_LEN, 0);
    const out = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const page = this.dirtyLog[i]!;
      Atomics.and(this.pageFlags, page, ~PAGE_FLAG.LOGGED & 0xff);
      out[i] = page * PAGE_SIZE;
    }
    return out;
  }

  /** Resets per-page migration state and counters for a new session (outside any blackout: O(memory)). */
  resetMigrationState(notExported: number): void {
    this.pageFlags.fill(0);
    this.pageEpoch.fill(0);
    Atomics.store(this.control, CTL.DIRTY_LOG_LEN, 0);
    Atomics.store(this.control, CTL.DIRTY_COUNT, 0);
    Atomics.store(this.control, CTL.NOT_EXPORTED, notExported);
    Atomics.store(this.control, CTL.EXPORT_EPOCH, 0);
    Atomics.store(this.control, CTL.IMPORT_EPOCH, 0);
    Atomics.store(this.control, CTL.TOTAL_MB, 0);
    Atomics.store(this.control, CTL.TD_STATE_DONE, 0);
    Atomics.store(this.control, CTL.VPS_DONE, 0);
    Atomics.store(this.control, CTL.PRESENT_COUNT, 0);
    for (let i = 0; i < MAX_VCPUS; i++) Atomics.store(this.control, CTL.VP_DONE_BASE + i, 0);
  }

  // ---- vCPUs ----

  private checkVp(vp: number): void {
    if (!Number.isInteger(vp) || vp < 0 || vp >= this.handle.vcpuSlots) {
      throw new TdxModelError("TDX_VP_INDEX_INVALID", "no such vCPU", { details: { vp, vcpus: this.handle.vcpuSlots } });
    }
  }

  getReg(vp: number, reg: VcpuRegName): bigint {
    this.checkVp(vp);
    return Atomics.load(this.vcpuRegs, (vp * VCPU_SLOT_SIZE) / 8 + VCPU_REGS.indexOf(reg));
  }

  setReg(vp: number, reg: VcpuRegName, value: bigint): void {
    this.checkVp(vp);
    Atomics.store(this.vcpuRegs, (vp * VCPU_SLOT_SIZE) / 8 + VCPU_REGS.indexOf(reg), BigInt.asUintN(64, value));
  }

  /** The vCPU's XSAVE area (a live view, sized from XFAM). */
  xsave(vp: number): Buffer {
    this.checkVp(vp);
    const start = vp * VCPU_SLOT_SIZE + VCPU_REGS_SIZE;
    return this.vcpuBytes.subarray(start, start + this.xsaveSize);
  }

  /** The bytes of vCPU `vp` that STATE.VP migrates: registers followed by the XSAVE area. */
  vcpuStateView(vp: number): Buffer {
    this.checkVp(vp);
    const start = vp * VCPU_SLOT_SIZE;
    return this.vcpuBytes.subarray(start, start + VCPU_REGS_SIZE + this.xsaveSize);
  }

  // ---- measurements and TD-scope state ----

  rtmr(index: number): Buffer {
    if (!Number.isInteger(index) || index < 0 || index > 3) throw new TdxModelError("TDX_RTMR_INDEX_INVALID", "RTMR index is 0..3", { details: { index } });
    const at = TDCS_OFFSET.rtmr + index * SHA384_SIZE;
    return Buffer.from(this.tdcs.subarray(at, at + SHA384_SIZE));
  }

  /** TDG.MR.RTMR.EXTEND: RTMR[i] = SHA-384(RTMR[i] || data), data 48 bytes; the guest must be running. */
  extendRtmr(index: number, data: Uint8Array): TdxStatus {
    if (!this.isRunning) return TDX_STATUS.TDX_OP_STATE_INCORRECT;
    if (data.length !== SHA384_SIZE) return TDX_STATUS.TDX_OPERAND_INVALID;
    const current = this.rtmr(index);
    const next = createHash("sha384").update(current).update(data).digest();
    next.copy(this.tdcs, TDCS_OFFSET.rtmr + index * SHA384_SIZE);
    return TDX_STATUS.TDX_SUCCESS;
  }

  /** TD-scope mutable state view (RTMRs + TD TSC), the payload of STATE.TD. */
  tdStateView(): Buffer {
    return this.tdcs.subarray(TDCS_OFFSET.rtmr, TDCS_OFFSET.rtmr + TD_STATE_SIZE);
  }

  get tdTsc(): bigint {
    return this.tdcs.readBigUInt64LE(TDCS_OFFSET.tdTsc);
  }

  set tdTsc(value: bigint) {
    this.tdcs.writeBigUInt64LE(BigInt.asUintN(64, value), TDCS_OFFSET.tdTsc);
  }

  // ---- migration key (its TDCS slot and control words: migration-key.ts) ----

  get migrationKeySet(): boolean {
    return this.migKey.isSet;
  }

  get migrationVersion(): number {
    return this.migKey.version;
  }

  migrationKey(): Buffer {
    return this.migKey.bytes();
  }

  installMigrationKey(key: Uint8Array, version: number): void {
    this.migKey.install(key, version);
  }

  clearMigrationKey(): void {
    this.migKey.clear();
  }

  migrationKeyObject(): KeyObject {
    return this.migKey.keyObject();
  }

  migrationCodecKey(): CodecKey {
    return this.migKey.codecKey();
  }
}

