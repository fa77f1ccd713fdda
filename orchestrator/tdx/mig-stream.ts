import { MAX_MIGS } from "./constants.js";
import type { MigStreamContext } from "./api.js";
import { TDX_STATUS, type TdxStatus } from "./status.js";
import { CTL } from "./td-layout.js";
import type { TrustDomain } from "./trust-domain.js";

/**
 * Stream (MIGSC) counters of a TD. They live in the TD's shared migration control area: any thread holding the TD
 * sees the same values, so neither a copy of a `MigStreamContext` nor an abort can make an IV repeat.
 */
export function streamCreated(td: TrustDomain, migsIndex: number): boolean {
  return Number.isInteger(migsIndex) && migsIndex >= 0 && migsIndex < MAX_MIGS && (Atomics.load(td.control, CTL.STREAMS) & (1 << migsIndex)) !== 0;
}

/** TDH.MIG.STREAM.CREATE body: marks the stream created (counters start at 0 and are never reset afterwards). */
export function createStream(td: TrustDomain, migsIndex: number): { status: TdxStatus; stream?: MigStreamContext } {
  if (!Number.isInteger(migsIndex) || migsIndex < 0) return { status: TDX_STATUS.TDX_MIGS_INDEX_INVALID };
  if (migsIndex >= MAX_MIGS) return { status: TDX_STATUS.TDX_MAX_MIGS_NUM_EXCEEDED };
  const bit = 1 << migsIndex;
  const before = Atomics.or(td.control, CTL.STREAMS, bit);
  if ((before & bit) !== 0) return { status: TDX_STATUS.TDX_MIGRATION_STREAM_STATE_INCORRECT };
  return { status: TDX_STATUS.TDX_SUCCESS, stream: { tdId: td.id, migsIndex } };
}

export function createdStreamCount(td: TrustDomain): number {
  let bits = Atomics.load(td.control, CTL.STREAMS);
  let n = 0;
  while (bits !== 0) {
    n += bits & 1;
    bits >>>= 1;
  }
  return n;
}

/** Reserves `count` consecutive IV counter values; returns the first (iv_counter is pre-incremented: first = old + 1). */
export function reserveIvs(td: TrustDomain, migsIndex: number, count: number): bigint {
  return Atomics.add(td.migscIv, migsIndex * 2, BigInt(count)) + 1n;
}

export function currentIv(td: TrustDomain, migsIndex: number): bigint {
  return Atomics.load(td.migscIv, migsIndex * 2);
}

export function lastReceivedIv(td: TrustDomain, migsIndex: number): bigint {
  return Atomics.load(td.migscIv, migsIndex * 2 + 1);
}

export function setLastReceivedIv(td: TrustDomain, migsIndex: number, iv: bigint): void {
  Atomics.store(td.migscIv, migsIndex * 2 + 1, iv);
}

/** Takes the next mb_counter of the stream's sending direction. */
export function takeMbCounter(td: TrustDomain, migsIndex: number): number {
  return Atomics.add(td.migscCounters, migsIndex * 2, 1) >>> 0;
}

export function expectedMbCounter(td: TrustDomain, migsIndex: number): number {
  return Atomics.load(td.migscCounters, migsIndex * 2 + 1) >>> 0;
}

export function advanceExpectedMbCounter(td: TrustDomain, migsIndex: number): void {
  Atomics.add(td.migscCounters, migsIndex * 2 + 1, 1);
}

/** Checks the stream belongs to `td` and was created on it. */
export function checkStream(td: TrustDomain, stream: MigStreamContext): TdxStatus {
  if (stream.tdId !== td.id) return TDX_STATUS.TDX_MIGS_INDEX_INVALID;
  if (!streamCreated(td, stream.migsIndex)) return TDX_STATUS.TDX_MIGRATION_STREAM_STATE_INCORRECT;
  return TDX_STATUS.TDX_SUCCESS;
}

/**
 * A new migration session starts (TDH.EXPORT.STATE.IMMUTABLE): bundle counters of both directions and the last
 * received IV restart with the new peer; the IV counters themselves never restart, so even a key reused across
 * sessions never meets the same IV twice.
 */
export function resetStreamsForSession(td: TrustDomain): void {
  for (let i = 0; i < MAX_MIGS; i++) {
    Atomics.store(td.migscCounters, i * 2, 0);
    Atomics.store(td.migscCounters, i * 2 + 1, 0);
    Atomics.store(td.migscIv, i * 2 + 1, 0n);
  }
}
