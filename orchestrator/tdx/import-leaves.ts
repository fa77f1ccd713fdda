import type { BundleResult, ImportBundleResult, ImportMemResult, ImportTrackResult, LeafResult, MigStreamContext } from "./api.js";
import { openMbmd, pageCountersFit, sealMbmd } from "./bundle-crypto.js";
import {
  ATTRIBUTES,
  GPA_LIST_ENTRY_SIZE,
  MAC_SIZE,
  MAX_PAGES_PER_BUNDLE,
  MB_TYPE,
  MBMD_SIZE,
  MIG_EPOCH_START_TOKEN,
  PAGE_SIZE,
  type MbType,
} from "./constants.js";
import { TdxModelError } from "./errors.js";
import { readGpaEntry } from "./gpa-list.js";
import { BACKWARD_IV_BIT } from "./iv.js";
import { decodeMbmd, encodeMbmdAad, peekMbmdHeader, type Mbmd } from "./mbmd.js";
import { pageCodec } from "./page-codec.js";
import {
  advanceExpectedMbCounter,
  checkStream,
  createdStreamCount,
  expectedMbCounter,
  lastReceivedIv,
  reserveIvs,
  setLastReceivedIv,
  takeMbCounter,
} from "./mig-stream.js";
import { TDX_STATUS, type TdxStatus } from "./status.js";
import { decodeTdConfig, IMMUTABLE_STATE_SIZE, moduleVersionAtLeast, teeTcbSvnAtLeast } from "./td-config.js";
import { CTL, OP_STATE, PAGE_FLAG, VCPU_REGS_SIZE, xsaveSize, type OpState } from "./td-layout.js";
import { TD_STATE_SIZE } from "./td-shared.js";
import type { TrustDomain } from "./trust-domain.js";

const ok = TDX_STATUS.TDX_SUCCESS;
const IMPORTING: readonly OpState[] = [OP_STATE.MEMORY_IMPORT, OP_STATE.STATE_IMPORT];
const ABORTABLE: readonly OpState[] = [OP_STATE.IMPORT_READY, OP_STATE.MEMORY_IMPORT, OP_STATE.STATE_IMPORT, OP_STATE.POST_IMPORT, OP_STATE.FAILED_IMPORT];

/**
 * A failure that breaks the import session: the destination TD moves to FAILED_IMPORT (it can only be aborted
 * and torn down), as the TDX module does when an imported bundle does not authenticate or is out of order.
 */
function fail(td: TrustDomain, status: TdxStatus): TdxStatus {
  td.transition([OP_STATE.IMPORT_READY, OP_STATE.MEMORY_IMPORT, OP_STATE.STATE_IMPORT], OP_STATE.FAILED_IMPORT);
  return status;
}

type Opened = { status: TdxStatus; mbmd?: Mbmd; buf: Buffer };

/**
 * The checks every imported bundle goes through, in the module's order. Non-fatal (nothing consumed): wrong
 * TD state, no key, unknown stream, a bundle of another type than the leaf expects. Fatal: every MBMD format,
 * version, order and epoch check. The MAC is checked by the caller (it knows the AAD and payload).
 */
function openBundle(td: TrustDomain, stream: MigStreamContext, bundle: Uint8Array, states: readonly OpState[], type: MbType): Opened {
  const buf = Buffer.from(bundle.buffer, bundle.byteOffset, bundle.byteLength);
  const state = td.requireState(states);
  if (state !== ok) return { status: state, buf };
  if (!td.migrationKeySet) return { status: TDX_STATUS.TDX_MIGRATION_DECRYPTION_KEY_NOT_SET, buf };
  const streamStatus = checkStream(td, stream);
  if (streamStatus !== ok) return { status: streamStatus, buf };
  const peek = peekMbmdHeader(buf);
  if (peek !== undefined && peek.mbType !== type && [0, 1, 2, 16, 32, 33].includes(peek.mbType)) {
    return { status: TDX_STATUS.TDX_BUNDLE_TYPE_UNEXPECTED, buf };
  }
  const decoded = decodeMbmd(buf);
  if (decoded.mbmd === undefined) return { status: fail(td, decoded.status), buf };
  const m = decoded.mbmd;
  const migsIndex = stream.migsIndex;
  if (m.migsIndex !== migsIndex) return { status: fail(td, TDX_STATUS.TDX_INVALID_MBMD_MIGS_INDEX), buf };
  if (m.migVersion !== td.migrationVersion) return { status: fail(td, TDX_STATUS.TDX_INVALID_MBMD_MIG_VERSION), buf };
  const expected = expectedMbCounter(td, migsIndex);
  if (m.mbCounter < expected) return { status: fail(td, TDX_STATUS.TDX_INVALID_MBMD_MB_COUNTER_REPLAYED), buf };
  if (m.mbCounter > expected) return { status: fail(td, TDX_STATUS.TDX_INVALID_MBMD_MB_COUNTER_OUT_OF_ORDER), buf };
  if (m.ivCounter <= lastReceivedIv(td, migsIndex) || (m.ivCounter & BACKWARD_IV_BIT) !== 0n) {
    return { status: fail(td, TDX_STATUS.TDX_INVALID_MBMD_IV_COUNTER), buf };
  }
  if (type !== MB_TYPE.EPOCH_TOKEN) {
    const epoch = Atomics.load(td.control, CTL.IMPORT_EPOCH);
    if (m.migEpoch < epoch) return { status: fail(td, TDX_STATUS.TDX_INVALID_MBMD_MIG_EPOCH_OLD), buf };
    if (m.migEpoch > epoch) return { status: fail(td, TDX_STATUS.TDX_INVALID_MBMD_MIG_EPOCH_FUTURE), buf };
  }
  return { status: ok, mbmd: m, buf };
}

/** A MAC failure: before any bundle authenticated under the key, the key itself is the suspect. */
function macFailure(td: TrustDomain): TdxStatus {
  const proven = Atomics.load(td.control, CTL.KEY_PROVEN) === 1;
  return fail(td, proven ? TDX_STATUS.TDX_INCORRECT_MBMD_MAC : TDX_STATUS.TDX_INVALID_MIGRATION_DECRYPTION_KEY);
}

/** Bookkeeping after a bundle was accepted: the stream advances, the bundle counts. */
function accept(td: TrustDomain, m: Mbmd, lastIv: bigint): void {
  Atomics.store(td.control, CTL.KEY_PROVEN, 1);
  advanceExpectedMbCounter(td, m.migsIndex);
  setLastReceivedIv(td, m.migsIndex, lastIv);
  Atomics.add(td.control, CTL.TOTAL_MB, 1);
}

/** Decrypts a state bundle's payload, which must be exactly `size` bytes. */
function openState(td: TrustDomain, o: Opened, size: number): { status: TdxStatus; plain?: Buffer } {
  const m = o.mbmd!;
  if (o.buf.length !== MBMD_SIZE + size) return { status: fail(td, TDX_STATUS.TDX_INVALID_MBMD_LENGTH) };
  const plain = openMbmd(td.migrationKeyObject(), m.ivCounter, m.migsIndex, o.buf, undefined, o.buf.subarray(MBMD_SIZE));
  if (plain === undefined) return { status: macFailure(td) };
  return { status: ok, plain };
}

/**
 * TDH.IMPORT.STATE.IMMUTABLE: the first bundle. Checks the TD's configuration against this platform (ATTRIBUTES,
 * XFAM, CPUID, TCB capability) and against the prepared destination (vCPU count, memory size), then starts the
 * in-order memory import.
 */
export function importStateImmutable(td: TrustDomain, stream: MigStreamContext, bundle: Uint8Array): LeafResult {
  const platform = td.platform;
  const o = openBundle(td, stream, bundle, [OP_STATE.IMPORT_READY], MB_TYPE.IMMUTABLE_TD_STATE);
  if (o.status !== ok) return { status: o.status };
  const opened = openState(td, o, IMMUTABLE_STATE_SIZE);
  if (opened.status !== ok) return { status: opened.status };
  const range = platform.migrationVersions;
  if (o.mbmd!.migVersion < range.importMin || o.mbmd!.migVersion > range.importMax) return { status: fail(td, TDX_STATUS.TDX_MIG_VERSION_UNSUPPORTED) };
  const fields = o.mbmd!.fields;
  const numFMigs = fields.mbType === MB_TYPE.IMMUTABLE_TD_STATE ? fields.numFMigs : 0;
  if (numFMigs > createdStreamCount(td)) return { status: fail(td, TDX_STATUS.TDX_NUM_MIGS_HIGHER_THAN_CREATED) };
  const config = decodeTdConfig(opened.plain!);
  if (config === undefined) return { status: fail(td, TDX_STATUS.TDX_INVALID_MBMD_STATE_PAYLOAD) };
  if ((config.attributes & ATTRIBUTES.MIGRATABLE) === 0n) return { status: fail(td, TDX_STATUS.TDX_TD_NOT_MIGRATABLE) };
  if ((config.attributes & ~platform.supportedAttributes) !== 0n) return { status: fail(td, TDX_STATUS.TDX_IMPORT_ATTRIBUTES_UNSUPPORTED) };
  if ((config.xfam & ~platform.supportedXfam) !== 0n) return { status: fail(td, TDX_STATUS.TDX_IMPORT_XFAM_UNSUPPORTED) };
  if ((config.cpuidFeatures & ~platform.cpuidFeatures) !== 0n) return { status: fail(td, TDX_STATUS.TDX_IMPORT_CPUID_INCOMPATIBLE) };
  if (!teeTcbSvnAtLeast(platform.teeTcbSvn, config.tcb.minTeeTcbSvn)) return { status: fail(td, TDX_STATUS.TDX_IMPORT_TCB_INSUFFICIENT) };
  if (!moduleVersionAtLeast(platform.moduleVersion, config.tcb.minModuleVersion)) {
    return { status: fail(td, TDX_STATUS.TDX_IMPORT_MODULE_VERSION_INSUFFICIENT) };
  }
  if (config.numVcpus !== td.handle.vcpuSlots) return { status: fail(td, TDX_STATUS.TDX_IMPORT_MISMATCH_VCPU_COUNT) };
  if (config.memoryPages !== td.memoryPages) return { status: fail(td, TDX_STATUS.TDX_IMPORT_MISMATCH_MEMORY_SIZE) };
  td.resetMigrationState(0);
  td.writeConfig(config);
  Atomics.store(td.control, CTL.IMMUTABLE_DONE, 1);
  accept(td, o.mbmd!, o.mbmd!.ivCounter);
  return { status: td.transition([OP_STATE.IMPORT_READY], OP_STATE.MEMORY_IMPORT) };
}

/**
 * TDH.IMPORT.MEM: authenticates a memory bundle (MBMD MAC over the MBMD and the GPA list, then each page's MAC
 * with its GPA entry as AAD) and writes its pages. A page may be imported at most once per epoch; a newer epoch
 * overwrites an older copy.
 */
export function importMem(td: TrustDomain, stream: MigStreamContext, bundle: Uint8Array): ImportMemResult {
  const o = openBundle(td, stream, bundle, IMPORTING, MB_TYPE.MEM);
  if (o.status !== ok) return { status: o.status, pages: 0 };
  const m = o.mbmd!;
  const buf = o.buf;
  const n = m.fields.mbType === MB_TYPE.MEM ? m.fields.numGpas : 0;
  if (n === 0 || n > MAX_PAGES_PER_BUNDLE) return { status: fail(td, TDX_STATUS.TDX_INVALID_MBMD_NUM_GPAS), pages: 0 };
  if (buf.length !== MBMD_SIZE + n * (GPA_LIST_ENTRY_SIZE + PAGE_SIZE + MAC_SIZE)) return { status: fail(td, TDX_STATUS.TDX_INVALID_MBMD_LENGTH), pages: 0 };
  const listAt = MBMD_SIZE;
  const pagesAt = listAt + n * GPA_LIST_ENTRY_SIZE;
  const macsAt = pagesAt + n * PAGE_SIZE;
  const key = td.migrationCodecKey();
  if (openMbmd(key.object, m.ivCounter, m.migsIndex, buf, buf.subarray(listAt, pagesAt), undefined) === undefined) {
    return { status: macFailure(td), pages: 0 };
  }
  // A bundle whose page counters would pass 2^53 cannot be authentic (the source cannot have produced it).
  if (!pageCountersFit(m.ivCounter, n)) return { status: fail(td, TDX_STATUS.TDX_INVALID_MBMD_IV_COUNTER), pages: 0 };
  // Every GPA is checked and claimed for this epoch before any page is written; then the codec opens them all.
  const epochTag = Atomics.load(td.control, CTL.IMPORT_EPOCH) + 1;
  for (let i = 0; i < n; i++) {
    const gpa = readGpaEntry(buf, listAt + i * GPA_LIST_ENTRY_SIZE);
    if (gpa < 0 || gpa >= td.memoryBytes) return { status: fail(td, TDX_STATUS.TDX_GPA_LIST_ENTRY_INVALID), pages: 0 };
    const page = gpa / PAGE_SIZE;
    const prev = Atomics.load(td.pageEpoch, page);
    if (prev === epochTag || Atomics.compareExchange(td.pageEpoch, page, prev, epochTag) !== prev) {
      return { status: fail(td, TDX_STATUS.TDX_MIGRATED_IN_CURRENT_EPOCH), pages: 0 };
    }
  }
  let written = n;
  let failedPage: number | undefined;
  try {
    pageCodec().openPages(key, td.memory, buf, { listAt, pagesAt, macsAt, count: n }, Number(m.ivCounter) + 1, m.migsIndex);
  } catch (err) {
    if (!(err instanceof TdxModelError) || err.code !== "TDX_CODEC_PAGE_MAC") throw err;
    failedPage = err.details.page as number;
    written = failedPage;
  }
  for (let i = 0; i < written; i++) {
    const page = readGpaEntry(buf, listAt + i * GPA_LIST_ENTRY_SIZE) / PAGE_SIZE;
    const before = Atomics.or(td.pageFlags, page, PAGE_FLAG.PRESENT);
    if ((before & PAGE_FLAG.PRESENT) === 0) Atomics.add(td.control, CTL.PRESENT_COUNT, 1);
  }
  if (failedPage !== undefined) return { status: fail(td, TDX_STATUS.TDX_INVALID_PAGE_MAC), pages: 0, failedPage };
  accept(td, m, m.ivCounter + BigInt(n));
  return { status: ok, pages: n };
}

/** TDH.IMPORT.STATE.TD: the TD-scope mutable state; memory import may continue (MEMORY_IMPORT → STATE_IMPORT). */
export function importStateTd(td: TrustDomain, stream: MigStreamContext, bundle: Uint8Array): LeafResult {
  const o = openBundle(td, stream, bundle, [OP_STATE.MEMORY_IMPORT], MB_TYPE.MUTABLE_TD_STATE);
  if (o.status !== ok) return { status: o.status };
  const opened = openState(td, o, TD_STATE_SIZE);
  if (opened.status !== ok) return { status: opened.status };
  opened.plain!.copy(td.tdStateView());
  Atomics.store(td.control, CTL.TD_STATE_DONE, 1);
  accept(td, o.mbmd!, o.mbmd!.ivCounter);
  return { status: td.transition([OP_STATE.MEMORY_IMPORT], OP_STATE.STATE_IMPORT) };
}

/** TDH.IMPORT.STATE.VP: one vCPU's state, once per vCPU, after STATE.TD. */
export function importStateVp(td: TrustDomain, stream: MigStreamContext, bundle: Uint8Array): LeafResult {
  const o = openBundle(td, stream, bundle, [OP_STATE.STATE_IMPORT], MB_TYPE.MUTABLE_VCPU_STATE);
  if (o.status !== ok) return { status: o.status };
  const m = o.mbmd!;
  const vp = m.fields.mbType === MB_TYPE.MUTABLE_VCPU_STATE ? m.fields.vpIndex : -1;
  if (vp < 0 || vp >= td.numVcpus) return { status: fail(td, TDX_STATUS.TDX_INVALID_MBMD_VP_INDEX) };
  if (Atomics.load(td.control, CTL.VPS_DONE) >= td.numVcpus) return { status: fail(td, TDX_STATUS.TDX_ALL_VCPUS_IMPORTED) };
  if (Atomics.load(td.control, CTL.VP_DONE_BASE + vp) !== 0) return { status: fail(td, TDX_STATUS.TDX_VCPU_ALREADY_IMPORTED) };
  const opened = openState(td, o, VCPU_REGS_SIZE + xsaveSize(td.config.xfam));
  if (opened.status !== ok) return { status: opened.status };
  opened.plain!.copy(td.vcpuStateView(vp));
  Atomics.store(td.control, CTL.VP_DONE_BASE + vp, 1);
  Atomics.add(td.control, CTL.VPS_DONE, 1);
  accept(td, m, m.ivCounter);
  return { status: ok };
}

/**
 * TDH.IMPORT.TRACK: an epoch token starts the next epoch (bundles of older epochs are rejected from then on); the
 * start token ends the in-order phase, once TD and vCPU states are in and the bundle count matches the source's.
 */
export function importTrack(td: TrustDomain, stream: MigStreamContext, bundle: Uint8Array): ImportTrackResult {
  const epoch = Atomics.load(td.control, CTL.IMPORT_EPOCH);
  const o = openBundle(td, stream, bundle, IMPORTING, MB_TYPE.EPOCH_TOKEN);
  if (o.status !== ok) return { status: o.status, start: false, epoch };
  const m = o.mbmd!;
  if (o.buf.length !== MBMD_SIZE) return { status: fail(td, TDX_STATUS.TDX_INVALID_MBMD_LENGTH), start: false, epoch };
  const start = m.migEpoch === MIG_EPOCH_START_TOKEN;
  if (!start) {
    if (m.migEpoch <= epoch) return { status: fail(td, TDX_STATUS.TDX_INVALID_MBMD_MIG_EPOCH_OLD), start, epoch };
    if (m.migEpoch > epoch + 1) return { status: fail(td, TDX_STATUS.TDX_INVALID_MBMD_MIG_EPOCH_FUTURE), start, epoch };
  }
  if (openMbmd(td.migrationKeyObject(), m.ivCounter, m.migsIndex, o.buf, undefined, undefined) === undefined) {
    return { status: macFailure(td), start, epoch };
  }
  if (!start) {
    accept(td, m, m.ivCounter);
    Atomics.store(td.control, CTL.IMPORT_EPOCH, m.migEpoch);
    return { status: ok, start, epoch: m.migEpoch };
  }
  // The start token: everything of the in-order phase must be here.
  if (Atomics.load(td.control, CTL.TD_STATE_DONE) !== 1) return { status: TDX_STATUS.TDX_OP_STATE_INCORRECT, start, epoch };
  if (Atomics.load(td.control, CTL.VPS_DONE) !== td.numVcpus) return { status: TDX_STATUS.TDX_SOME_VCPUS_NOT_MIGRATED, start, epoch };
  const totalMb = m.fields.mbType === MB_TYPE.EPOCH_TOKEN ? m.fields.totalMb : -1n;
  if (BigInt(Atomics.load(td.control, CTL.TOTAL_MB) + 1) !== totalMb) return { status: fail(td, TDX_STATUS.TDX_IMPORT_MISMATCH_TOTAL_MB), start, epoch };
  accept(td, m, m.ivCounter);
  const status = td.transition([OP_STATE.STATE_IMPORT], OP_STATE.POST_IMPORT);
  return { status, start, epoch };
}

/** TDH.IMPORT.COMMIT: the destination TD may run from now on (POST_IMPORT → LIVE_IMPORT); no abort token can be made after it. */
export function importCommit(td: TrustDomain): LeafResult {
  const status = td.transition([OP_STATE.POST_IMPORT], OP_STATE.LIVE_IMPORT);
  if (status === ok) Atomics.store(td.control, CTL.AFTER_IMPORT, 1);
  return { status };
}

/** TDH.IMPORT.END: closes the import session of a committed TD (LIVE_IMPORT → RUNNABLE) and erases the key. */
export function importEnd(td: TrustDomain): LeafResult {
  const status = td.transition([OP_STATE.LIVE_IMPORT], OP_STATE.RUNNABLE);
  if (status === ok) td.clearMigrationKey();
  return { status };
}

/**
 * TDH.IMPORT.ABORT: gives up the import (the TD goes to FAILED_IMPORT and will never run here) and produces the
 * abort token for the backward stream, which lets the source resume even after its start token. Impossible after
 * commit.
 */
export function importAbort(td: TrustDomain, stream: MigStreamContext): BundleResult {
  const state = td.requireState(ABORTABLE);
  if (state !== ok) return { status: state };
  if (!td.migrationKeySet) return { status: TDX_STATUS.TDX_MIGRATION_DECRYPTION_KEY_NOT_SET };
  const streamStatus = checkStream(td, stream);
  if (streamStatus !== ok) return { status: streamStatus };
  const status = td.transition(ABORTABLE, OP_STATE.FAILED_IMPORT);
  if (status !== ok) return { status };
  const migsIndex = stream.migsIndex;
  const bundle = Buffer.alloc(MBMD_SIZE);
  const ivCounter = reserveIvs(td, migsIndex, 1) | BACKWARD_IV_BIT;
  const mbCounter = takeMbCounter(td, migsIndex);
  const migEpoch = Atomics.load(td.control, CTL.IMPORT_EPOCH);
  encodeMbmdAad({ migVersion: td.migrationVersion, migsIndex, mbCounter, migEpoch, ivCounter }, { mbType: MB_TYPE.ABORT_TOKEN }, bundle);
  sealMbmd(td.migrationKeyObject(), ivCounter, migsIndex, bundle, undefined, undefined, MBMD_SIZE);
  return { status: ok, bundle };
}

/** Routes a bundle to its import leaf by mb_type (the engine's import worker uses this). */
export function importBundle(td: TrustDomain, stream: MigStreamContext, bundle: Uint8Array): ImportBundleResult {
  const header = peekMbmdHeader(bundle);
  if (header === undefined) return { status: fail(td, TDX_STATUS.TDX_INVALID_MBMD_LENGTH), mbType: -1, pages: 0, start: false };
  const mbType = header.mbType;
  switch (mbType) {
    case MB_TYPE.IMMUTABLE_TD_STATE:
      return { ...importStateImmutable(td, stream, bundle), mbType, pages: 0, start: false };
    case MB_TYPE.MUTABLE_TD_STATE:
      return { ...importStateTd(td, stream, bundle), mbType, pages: 0, start: false };
    case MB_TYPE.MUTABLE_VCPU_STATE:
      return { ...importStateVp(td, stream, bundle), mbType, pages: 0, start: false };
    case MB_TYPE.MEM: {
      const r = importMem(td, stream, bundle);
      return { status: r.status, mbType, pages: r.pages, start: false };
    }
    case MB_TYPE.EPOCH_TOKEN: {
      const r = importTrack(td, stream, bundle);
      return { status: r.status, mbType, pages: 0, start: r.start };
    }
    case MB_TYPE.ABORT_TOKEN:
      return { status: TDX_STATUS.TDX_BUNDLE_TYPE_UNEXPECTED, mbType, pages: 0, start: false };
    default: {
      // Unknown type: the full decode reports it (and the session fails), once the non-fatal checks pass.
      const o = openBundle(td, stream, bundle, IMPORTING, MB_TYPE.MEM);
      return { status: o.status === ok ? fail(td, TDX_STATUS.TDX_INVALID_MBMD_MB_TYPE) : o.status, mbType, pages: 0, start: false };
    }
  }
}
