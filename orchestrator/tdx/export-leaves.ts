import type {
  BlockwResult,
  BundleResult,
  ExportAbortOptions,
  ExportMemResult,
  ExportTrackOptions,
  LeafResult,
  MigStreamContext,
} from "./api.js";
import { openMbmd, pageCountersFit, sealMbmd } from "./bundle-crypto.js";
import {
  ATTRIBUTES,
  GPA_LIST_ENTRY_SIZE,
  MAC_SIZE,
  MAX_MIG_EPOCH,
  MAX_PAGES_PER_BUNDLE,
  MB_TYPE,
  MBMD_SIZE,
  MIG_EPOCH_START_TOKEN,
  PAGE_SIZE,
} from "./constants.js";
import { TdxModelError } from "./errors.js";
import { writeGpaEntry } from "./gpa-list.js";
import { BACKWARD_IV_BIT } from "./iv.js";
import { decodeMbmd, encodeMbmdAad, type MbmdFields } from "./mbmd.js";
import { pageCodec } from "./page-codec.js";
import {
  advanceExpectedMbCounter,
  checkStream,
  createdStreamCount,
  expectedMbCounter,
  lastReceivedIv,
  reserveIvs,
  resetStreamsForSession,
  setLastReceivedIv,
  takeMbCounter,
} from "./mig-stream.js";
import { TDX_STATUS, type TdxStatus } from "./status.js";
import { encodeTdConfig, IMMUTABLE_STATE_SIZE } from "./td-config.js";
import { CTL, OP_STATE, PAGE_FLAG, type OpState } from "./td-layout.js";
import type { TrustDomain } from "./trust-domain.js";

/** Bytes of a memory bundle with `pages` pages: MBMD, GPA list, encrypted pages, page MACs. */
export function memBundleSize(pages: number): number {
  return MBMD_SIZE + pages * (GPA_LIST_ENTRY_SIZE + PAGE_SIZE + MAC_SIZE);
}

const EXPORTING: readonly OpState[] = [OP_STATE.LIVE_EXPORT, OP_STATE.PAUSED_EXPORT];
const ok = TDX_STATUS.TDX_SUCCESS;

/** Validates a GPA: page-aligned, inside TD memory. Returns the page index or -1. */
function pageOf(td: TrustDomain, gpa: number): number {
  if (!Number.isInteger(gpa) || gpa < 0 || gpa % PAGE_SIZE !== 0 || gpa >= td.memoryBytes) return -1;
  return gpa / PAGE_SIZE;
}

/** Builds and seals a non-memory bundle (state or token) on the stream's sending direction. */
function sealSmallBundle(td: TrustDomain, migsIndex: number, fields: MbmdFields, migEpoch: number, payload: Uint8Array | undefined): Buffer {
  const bundle = Buffer.alloc(MBMD_SIZE + (payload?.length ?? 0));
  const ivCounter = reserveIvs(td, migsIndex, 1);
  const mbCounter = takeMbCounter(td, migsIndex);
  encodeMbmdAad({ migVersion: td.migrationVersion, migsIndex, mbCounter, migEpoch, ivCounter }, fields, bundle);
  sealMbmd(td.migrationKeyObject(), ivCounter, migsIndex, bundle, undefined, payload, MBMD_SIZE);
  Atomics.add(td.control, CTL.TOTAL_MB, 1);
  return bundle;
}

function commonExportChecks(td: TrustDomain, stream: MigStreamContext, states: readonly OpState[]): TdxStatus {
  const state = td.requireState(states);
  if (state !== ok) return state;
  if (!td.migrationKeySet) return TDX_STATUS.TDX_MIGRATION_DECRYPTION_KEY_NOT_SET;
  return checkStream(td, stream);
}

/** TDH.EXPORT.STATE.IMMUTABLE: starts the export session (RUNNABLE → LIVE_EXPORT) with the immutable TD state. */
export function exportStateImmutable(td: TrustDomain, stream: MigStreamContext): BundleResult {
  if (td.opState === OP_STATE.RUNNABLE && Atomics.load(td.control, CTL.RESTORE_PENDING) === 1) {
    return { status: TDX_STATUS.TDX_PREVIOUS_EXPORT_CLEANUP_INCOMPLETE };
  }
  const pre = commonExportChecks(td, stream, [OP_STATE.RUNNABLE]);
  if (pre !== ok) return { status: pre };
  if ((td.config.attributes & ATTRIBUTES.MIGRATABLE) === 0n) return { status: TDX_STATUS.TDX_TD_NOT_MIGRATABLE };
  const status = td.transition([OP_STATE.RUNNABLE], OP_STATE.LIVE_EXPORT);
  if (status !== ok) return { status };
  td.resetMigrationState(td.memoryPages);
  resetStreamsForSession(td);
  const payload = encodeTdConfig(td.config);
  const fields: MbmdFields = { mbType: MB_TYPE.IMMUTABLE_TD_STATE, numFMigs: createdStreamCount(td), numSysMdPages: 0 };
  return { status: ok, bundle: sealSmallBundle(td, stream.migsIndex, fields, 0, payload.subarray(0, IMMUTABLE_STATE_SIZE)) };
}

/** TDH.EXPORT.BLOCKW: write-blocks pages for this epoch (all-or-nothing on a malformed GPA). */
export function exportBlockw(td: TrustDomain, gpas: ArrayLike<number>): BlockwResult {
  const state = td.requireState(EXPORTING);
  if (state !== ok) return { status: state, blocked: 0 };
  for (let i = 0; i < gpas.length; i++) if (pageOf(td, gpas[i]!) < 0) return { status: TDX_STATUS.TDX_GPA_LIST_ENTRY_INVALID, blocked: 0 };
  let blocked = 0;
  for (let i = 0; i < gpas.length; i++) {
    const before = Atomics.or(td.pageFlags, gpas[i]! / PAGE_SIZE, PAGE_FLAG.BLOCKED);
    if ((before & PAGE_FLAG.BLOCKED) === 0) blocked++;
  }
  const status = blocked === 0 && gpas.length > 0 ? TDX_STATUS.TDX_ALREADY_WRITE_BLOCKED : ok;
  return { status, blocked };
}

/** Write-blocks every page (the first pre-copy epoch): O(memory), outside the blackout. */
export function exportBlockwAll(td: TrustDomain): BlockwResult {
  const state = td.requireState(EXPORTING);
  if (state !== ok) return { status: state, blocked: 0 };
  let blocked = 0;
  for (let p = 0; p < td.memoryPages; p++) {
    const before = Atomics.or(td.pageFlags, p, PAGE_FLAG.BLOCKED);
    if ((before & PAGE_FLAG.BLOCKED) === 0) blocked++;
  }
  return { status: ok, blocked };
}

/** TDH.EXPORT.UNBLOCKW: the VMM unblocks a page after the guest's write faulted on it; the page becomes dirty. */
export function exportUnblockw(td: TrustDomain, gpa: number): LeafResult {
  const state = td.requireState([OP_STATE.LIVE_EXPORT]);
  if (state !== ok) return { status: state };
  const page = pageOf(td, gpa);
  if (page < 0) return { status: TDX_STATUS.TDX_GPA_LIST_ENTRY_INVALID };
  return { status: td.unblockPage(page) };
}

/** Per-thread scratch for the pages claimed by one TDH.EXPORT.MEM. */
const claimed = new Uint32Array(MAX_PAGES_PER_BUNDLE);

/**
 * TDH.EXPORT.MEM: exports up to 512 write-blocked pages as one memory bundle. Each page must be write-blocked and
 * not exported yet in this epoch. A page the guest wrote after it was blocked is left out (it is dirty and on the
 * dirty log: the next epoch exports it). `out` may be a preallocated buffer of at least memBundleSize(n) bytes;
 * the returned bundle is then a view of it.
 */
export function exportMem(td: TrustDomain, stream: MigStreamContext, gpas: ArrayLike<number>, out?: Buffer): ExportMemResult {
  const pre = commonExportChecks(td, stream, EXPORTING);
  if (pre !== ok) return { status: pre, pages: 0, skipped: 0 };
  const n = gpas.length;
  if (n === 0 || n > MAX_PAGES_PER_BUNDLE) return { status: TDX_STATUS.TDX_GPA_LIST_TOO_LONG, pages: 0, skipped: 0 };
  if (out !== undefined && out.length < memBundleSize(n)) {
    throw new TdxModelError("TDX_BUFFER_TOO_SMALL", "the bundle buffer is too small", { details: { length: out.length, needed: memBundleSize(n) } });
  }
  const epochTag = Atomics.load(td.control, CTL.EXPORT_EPOCH) + 1;
  const flags = td.pageFlags;
  const { BLOCKED, DIRTY, EXPORTED } = PAGE_FLAG;
  const PAGE = PAGE_SIZE;
  const MAC = MAC_SIZE;
  const ENTRY = GPA_LIST_ENTRY_SIZE;
  // Pass 1: check every entry before changing anything.
  for (let i = 0; i < n; i++) {
    const page = pageOf(td, gpas[i]!);
    if (page < 0) return { status: TDX_STATUS.TDX_GPA_LIST_ENTRY_INVALID, pages: 0, skipped: 0 };
    if (Atomics.load(td.pageEpoch, page) === epochTag) return { status: TDX_STATUS.TDX_MIGRATED_IN_CURRENT_EPOCH, pages: 0, skipped: 0 };
    const s = Atomics.load(flags, page);
    if ((s & (BLOCKED | DIRTY)) === 0) return { status: TDX_STATUS.TDX_NOT_WRITE_BLOCKED, pages: 0, skipped: 0 };
  }
  // Pass 2: claim each page for this epoch (a page the guest unblocked meanwhile is skipped).
  let count = 0;
  let skipped = 0;
  for (let i = 0; i < n; i++) {
    const page = gpas[i]! / PAGE;
    const prevTag = Atomics.load(td.pageEpoch, page);
    if (prevTag === epochTag || Atomics.compareExchange(td.pageEpoch, page, prevTag, epochTag) !== prevTag) {
      skipped++; // a duplicate inside this list
      continue;
    }
    let exported = false;
    for (;;) {
      const s = Atomics.load(flags, page);
      if ((s & BLOCKED) === 0) break;
      const next = (s | EXPORTED) & ~DIRTY;
      if (Atomics.compareExchange(flags, page, s, next) !== s) continue;
      if ((s & DIRTY) !== 0) Atomics.sub(td.control, CTL.DIRTY_COUNT, 1);
      if ((s & EXPORTED) === 0) Atomics.sub(td.control, CTL.NOT_EXPORTED, 1);
      exported = true;
      break;
    }
    if (!exported) {
      Atomics.store(td.pageEpoch, page, prevTag);
      skipped++;
      continue;
    }
    claimed[count++] = page;
  }
  if (count === 0) return { status: ok, pages: 0, skipped };

  const size = memBundleSize(count);
  const bundle = out === undefined ? Buffer.allocUnsafe(size) : out.subarray(0, size);
  const migsIndex = stream.migsIndex;
  const ivBase = reserveIvs(td, migsIndex, count + 1);
  const mbCounter = takeMbCounter(td, migsIndex);
  const migEpoch = epochTag - 1;
  encodeMbmdAad({ migVersion: td.migrationVersion, migsIndex, mbCounter, migEpoch, ivCounter: ivBase }, { mbType: MB_TYPE.MEM, numGpas: count }, bundle);
  const listAt = MBMD_SIZE;
  const pagesAt = listAt + count * ENTRY;
  const macsAt = pagesAt + count * PAGE;
  for (let i = 0; i < count; i++) writeGpaEntry(bundle, listAt + i * ENTRY, claimed[i]! * PAGE);
  const key = td.migrationCodecKey();
  if (!pageCountersFit(ivBase, count)) {
    throw new TdxModelError("TDX_IV_COUNTER_RANGE", "the stream's IV counter passed 2^53", { details: { migsIndex, ivBase: ivBase.toString() } });
  }
  pageCodec().sealPages(key, td.memory, bundle, { listAt, pagesAt, macsAt, count }, Number(ivBase) + 1, migsIndex);
  sealMbmd(key.object, ivBase, migsIndex, bundle, bundle.subarray(listAt, pagesAt), undefined, 0);
  Atomics.add(td.control, CTL.TOTAL_MB, 1);
  return { status: ok, bundle, pages: count, skipped };
}

/** TDH.EXPORT.PAUSE: the blackout starts; the guest stops (LIVE_EXPORT → PAUSED_EXPORT). */
export function exportPause(td: TrustDomain): LeafResult {
  return { status: td.transition([OP_STATE.LIVE_EXPORT], OP_STATE.PAUSED_EXPORT) };
}

/** TDH.EXPORT.STATE.TD: the TD-scope mutable state (RTMRs, TD TSC), once, after PAUSE. */
export function exportStateTd(td: TrustDomain, stream: MigStreamContext): BundleResult {
  const pre = commonExportChecks(td, stream, [OP_STATE.PAUSED_EXPORT]);
  if (pre !== ok) return { status: pre };
  if (Atomics.compareExchange(td.control, CTL.TD_STATE_DONE, 0, 1) !== 0) return { status: TDX_STATUS.TDX_OP_STATE_INCORRECT };
  const epoch = Atomics.load(td.control, CTL.EXPORT_EPOCH);
  return { status: ok, bundle: sealSmallBundle(td, stream.migsIndex, { mbType: MB_TYPE.MUTABLE_TD_STATE }, epoch, td.tdStateView()) };
}

/** TDH.EXPORT.STATE.VP: one vCPU's registers and XSAVE area, once per vCPU, after STATE.TD. */
export function exportStateVp(td: TrustDomain, stream: MigStreamContext, vpIndex: number): BundleResult {
  const pre = commonExportChecks(td, stream, [OP_STATE.PAUSED_EXPORT]);
  if (pre !== ok) return { status: pre };
  if (Atomics.load(td.control, CTL.TD_STATE_DONE) !== 1) return { status: TDX_STATUS.TDX_OP_STATE_INCORRECT };
  if (!Number.isInteger(vpIndex) || vpIndex < 0 || vpIndex >= td.numVcpus) return { status: TDX_STATUS.TDX_VP_INDEX_INVALID };
  if (Atomics.compareExchange(td.control, CTL.VP_DONE_BASE + vpIndex, 0, 1) !== 0) return { status: TDX_STATUS.TDX_VCPU_ALREADY_EXPORTED };
  Atomics.add(td.control, CTL.VPS_DONE, 1);
  const epoch = Atomics.load(td.control, CTL.EXPORT_EPOCH);
  const fields: MbmdFields = { mbType: MB_TYPE.MUTABLE_VCPU_STATE, vpIndex };
  return { status: ok, bundle: sealSmallBundle(td, stream.migsIndex, fields, epoch, td.vcpuStateView(vpIndex)) };
}

/**
 * TDH.EXPORT.TRACK: ends the current epoch and emits an epoch token carrying the new epoch and the total bundle
 * count. With `start` (after PAUSE, TD and all vCPU states exported, no dirty or unexported page left) it emits
 * the start token (mig_epoch 0xFFFFFFFF) and the TD moves to POST_EXPORT.
 */
export function exportTrack(td: TrustDomain, stream: MigStreamContext, options: ExportTrackOptions = {}): BundleResult {
  if (options.start === true) {
    const pre = commonExportChecks(td, stream, [OP_STATE.PAUSED_EXPORT]);
    if (pre !== ok) return { status: pre };
    if (Atomics.load(td.control, CTL.TD_STATE_DONE) !== 1) return { status: TDX_STATUS.TDX_OP_STATE_INCORRECT };
    if (Atomics.load(td.control, CTL.VPS_DONE) !== td.numVcpus) return { status: TDX_STATUS.TDX_SOME_VCPUS_NOT_MIGRATED };
    const pending = td.pendingExportPages;
    if (pending.dirty !== 0 || pending.notExported !== 0) return { status: TDX_STATUS.TDX_EXPORTED_DIRTY_PAGES_REMAIN };
    const status = td.transition([OP_STATE.PAUSED_EXPORT], OP_STATE.POST_EXPORT);
    if (status !== ok) return { status };
    const totalMb = BigInt(Atomics.load(td.control, CTL.TOTAL_MB) + 1);
    return { status: ok, bundle: sealSmallBundle(td, stream.migsIndex, { mbType: MB_TYPE.EPOCH_TOKEN, totalMb }, MIG_EPOCH_START_TOKEN, undefined) };
  }
  const pre = commonExportChecks(td, stream, EXPORTING);
  if (pre !== ok) return { status: pre };
  const current = Atomics.load(td.control, CTL.EXPORT_EPOCH);
  if (current >= MAX_MIG_EPOCH) return { status: TDX_STATUS.TDX_MIGRATION_EPOCH_OVERFLOW };
  const epoch = current + 1;
  Atomics.store(td.control, CTL.EXPORT_EPOCH, epoch);
  const totalMb = BigInt(Atomics.load(td.control, CTL.TOTAL_MB) + 1);
  return { status: ok, bundle: sealSmallBundle(td, stream.migsIndex, { mbType: MB_TYPE.EPOCH_TOKEN, totalMb }, epoch, undefined) };
}

/**
 * TDH.EXPORT.ABORT: ends the export session and lets the guest run again. Before the start token this is the
 * source's decision alone; after it, only a valid abort token from the destination (proof that it will never run
 * the TD) is accepted. The stream counters are kept (never reused).
 */
export function exportAbort(td: TrustDomain, stream: MigStreamContext, options: ExportAbortOptions = {}): LeafResult {
  const state = td.opState;
  if (state === OP_STATE.LIVE_EXPORT || state === OP_STATE.PAUSED_EXPORT) {
    const status = td.transition([OP_STATE.LIVE_EXPORT, OP_STATE.PAUSED_EXPORT], OP_STATE.RUNNABLE);
    if (status === ok) Atomics.store(td.control, CTL.RESTORE_PENDING, 1);
    return { status };
  }
  if (state !== OP_STATE.POST_EXPORT) return { status: td.requireState([OP_STATE.POST_EXPORT]) };
  const token = options.abortToken;
  if (token === undefined) return { status: TDX_STATUS.TDX_ABORT_TOKEN_REQUIRED };
  const pre = commonExportChecks(td, stream, [OP_STATE.POST_EXPORT]);
  if (pre !== ok) return { status: pre };
  const verdict = verifyAbortToken(td, stream.migsIndex, Buffer.from(token.buffer, token.byteOffset, token.byteLength));
  if (verdict !== ok) return { status: verdict };
  const status = td.transition([OP_STATE.POST_EXPORT], OP_STATE.RUNNABLE);
  if (status === ok) Atomics.store(td.control, CTL.RESTORE_PENDING, 1);
  return { status };
}

function verifyAbortToken(td: TrustDomain, migsIndex: number, token: Buffer): TdxStatus {
  const decoded = decodeMbmd(token);
  if (decoded.mbmd === undefined) return decoded.status;
  const m = decoded.mbmd;
  if (token.length !== MBMD_SIZE) return TDX_STATUS.TDX_INVALID_MBMD_LENGTH;
  if (m.fields.mbType !== MB_TYPE.ABORT_TOKEN) return TDX_STATUS.TDX_BUNDLE_TYPE_UNEXPECTED;
  if (m.migsIndex !== migsIndex) return TDX_STATUS.TDX_INVALID_MBMD_MIGS_INDEX;
  if (m.migVersion !== td.migrationVersion) return TDX_STATUS.TDX_INVALID_MBMD_MIG_VERSION;
  const expected = expectedMbCounter(td, migsIndex);
  if (m.mbCounter < expected) return TDX_STATUS.TDX_INVALID_MBMD_MB_COUNTER_REPLAYED;
  if (m.mbCounter > expected) return TDX_STATUS.TDX_INVALID_MBMD_MB_COUNTER_OUT_OF_ORDER;
  if ((m.ivCounter & BACKWARD_IV_BIT) === 0n || m.ivCounter <= lastReceivedIv(td, migsIndex)) return TDX_STATUS.TDX_INVALID_MBMD_IV_COUNTER;
  if (openMbmd(td.migrationKeyObject(), m.ivCounter, migsIndex, token, undefined, undefined) === undefined) return TDX_STATUS.TDX_INCORRECT_MBMD_MAC;
  advanceExpectedMbCounter(td, migsIndex);
  setLastReceivedIv(td, migsIndex, m.ivCounter);
  return ok;
}

/**
 * TDH.EXPORT.RESTORE: after an abort, returns every page's SEPT state to normal (unblocked, not dirty, not exported)
 * and closes the session. Fails unless an export was aborted: after a commit the source can never resume.
 */
export function exportRestore(td: TrustDomain): LeafResult {
  const state = td.requireState([OP_STATE.RUNNABLE]);
  if (state !== ok) return { status: state };
  if (Atomics.compareExchange(td.control, CTL.RESTORE_PENDING, 1, 0) !== 1) return { status: TDX_STATUS.TDX_OP_STATE_INCORRECT };
  td.resetMigrationState(0);
  return { status: ok };
}
