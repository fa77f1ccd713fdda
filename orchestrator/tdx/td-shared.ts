import { randomBytes } from "node:crypto";
import { MAX_VCPUS, MIG_KEY_SIZE, PAGE_SIZE, SHA384_SIZE } from "./constants.js";
import { TdxModelError } from "./errors.js";
import type { PlatformInfo } from "./platform.js";
import { IMMUTABLE_STATE_SIZE } from "./td-config.js";
import { CONTROL_INTS, MIGSC_BYTES, VCPU_SLOT_SIZE } from "./td-layout.js";

/** Everything a TD is, as plain data and SharedArrayBuffers: postMessage it to a worker and `openTdShared` it there. */
export interface TdSharedHandle {
  readonly id: string;
  /** The platform the TD lives on (plain data: its TDX module's checks need it in any thread). */
  readonly platform: PlatformInfo;
  readonly memoryPages: number;
  readonly vcpuSlots: number;
  readonly memory: SharedArrayBuffer;
  readonly pageFlags: SharedArrayBuffer;
  readonly pageEpoch: SharedArrayBuffer;
  readonly dirtyLog: SharedArrayBuffer;
  readonly control: SharedArrayBuffer;
  readonly migsc: SharedArrayBuffer;
  readonly tdcs: SharedArrayBuffer;
  readonly vcpus: SharedArrayBuffer;
}

/** TDCS byte layout: immutable state, then TD-scope mutable state (RTMR0..3, TD TSC), then the migration key. */
export const TDCS_OFFSET = {
  immutable: 0,
  rtmr: IMMUTABLE_STATE_SIZE,
  tdTsc: IMMUTABLE_STATE_SIZE + 4 * SHA384_SIZE,
  migKey: IMMUTABLE_STATE_SIZE + 4 * SHA384_SIZE + 8,
} as const;
/** TD-scope mutable state carried by the MB_TYPE 1 bundle: RTMR0..3 and the TD's TSC. */
export const TD_STATE_SIZE = 4 * SHA384_SIZE + 8;
const TDCS_SIZE = TDCS_OFFSET.migKey + MIG_KEY_SIZE;

/** Largest TD of the model: GPAs must fit 32 bits (4 GiB), which keeps GPA lists free of bigint arithmetic. */
export const MAX_MEMORY_PAGES = 1 << 20;

export interface AllocateTdOptions {
  readonly platform: PlatformInfo;
  readonly memoryPages: number;
  readonly vcpuSlots: number;
  /** Reuse a (pre-touched) memory buffer of exactly memoryPages * 4 KiB; it is zeroed. */
  readonly memory?: SharedArrayBuffer;
  readonly id?: string;
}

export function allocateTdShared(options: AllocateTdOptions): TdSharedHandle {
  const { memoryPages, vcpuSlots } = options;
  if (!Number.isInteger(memoryPages) || memoryPages < 1 || memoryPages > MAX_MEMORY_PAGES) {
    throw new TdxModelError("TDX_MEMORY_SIZE_INVALID", "TD memory must be 1..1048576 pages of 4 KiB", { details: { memoryPages } });
  }
  if (!Number.isInteger(vcpuSlots) || vcpuSlots < 1 || vcpuSlots > MAX_VCPUS) {
    throw new TdxModelError("TDX_VCPU_COUNT_INVALID", `a TD has 1..${MAX_VCPUS} vCPUs`, { details: { vcpuSlots } });
  }
  let memory = options.memory;
  if (memory === undefined) {
    memory = new SharedArrayBuffer(memoryPages * PAGE_SIZE);
  } else {
    if (memory.byteLength !== memoryPages * PAGE_SIZE) {
      throw new TdxModelError("TDX_MEMORY_SIZE_INVALID", "the supplied memory buffer does not match the TD size", {
        details: { byteLength: memory.byteLength, memoryPages },
      });
    }
    new Uint8Array(memory).fill(0);
  }
  return {
    id: options.id ?? randomBytes(16).toString("hex"),
    platform: options.platform,
    memoryPages,
    vcpuSlots,
    memory,
    pageFlags: new SharedArrayBuffer(memoryPages),
    pageEpoch: new SharedArrayBuffer(memoryPages * 4),
    dirtyLog: new SharedArrayBuffer(memoryPages * 4),
    control: new SharedArrayBuffer(CONTROL_INTS * 4),
    migsc: new SharedArrayBuffer(MIGSC_BYTES),
    tdcs: new SharedArrayBuffer(TDCS_SIZE),
    vcpus: new SharedArrayBuffer(vcpuSlots * VCPU_SLOT_SIZE),
  };
}

/** Structured clone turns Buffers into Uint8Arrays: give them back their Buffer methods. */
export function normalizePlatformInfo(info: PlatformInfo): PlatformInfo {
  const buf = (u: Uint8Array): Buffer => (Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength));
  return {
    ...info,
    teeTcbSvn: buf(info.teeTcbSvn),
    fmspc: buf(info.fmspc),
    mrSeam: buf(info.mrSeam),
    mrSignerSeam: buf(info.mrSignerSeam),
    seamAttributes: buf(info.seamAttributes),
  };
}
