import { PAGE_SIZE } from "./constants.js";
import { TdxModelError } from "./errors.js";
import { TDX_STATUS } from "./status.js";
import type { TrustDomain } from "./trust-domain.js";

export interface GuestWorkloadOptions {
  /** Write rate at throttle 1 (bytes per second). */
  readonly bytesPerSecond: number;
  /** Size of the hot set the writes land in (bytes, a multiple of 4 KiB). */
  readonly hotSetBytes: number;
  /** GPA where the hot set starts (page-aligned; default 0). */
  readonly hotSetGpa?: number;
  readonly seed: number;
  /** Bytes per write (a multiple of 4 dividing 4096; default 256). */
  readonly writeSize?: number;
  /** Timer period (default 5 ms). */
  readonly tickMs?: number;
  /** Longest stretch of missed time made up in one tick (default 50 ms): a stalled loop does not cause a burst. */
  readonly maxCatchUpMs?: number;
}

/** XMM0 in the legacy XSAVE region. */
const XMM0_OFFSET = 160;

/** One guest write: `length` bytes at `gpa` filled with the 32-bit `pattern`. */
export interface GuestWrite {
  readonly gpa: number;
  readonly length: number;
  readonly pattern: number;
}

/** mulberry32: a small, fast, seedable 32-bit PRNG. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

interface Resolved {
  readonly hotPages: number;
  readonly hotStartPage: number;
  readonly writeSize: number;
  readonly slotsPerPage: number;
}

function resolve(options: GuestWorkloadOptions, memoryBytes: number): Resolved {
  const writeSize = options.writeSize ?? 256;
  const hotSetGpa = options.hotSetGpa ?? 0;
  if (!(options.bytesPerSecond >= 0) || !Number.isFinite(options.bytesPerSecond)) {
    throw new TdxModelError("TDX_WORKLOAD_INVALID", "bytesPerSecond must be a finite number >= 0", { details: { bytesPerSecond: options.bytesPerSecond } });
  }
  if (writeSize < 4 || writeSize % 4 !== 0 || PAGE_SIZE % writeSize !== 0) {
    throw new TdxModelError("TDX_WORKLOAD_INVALID", "writeSize must be a multiple of 4 that divides 4096", { details: { writeSize } });
  }
  if (options.hotSetBytes < PAGE_SIZE || options.hotSetBytes % PAGE_SIZE !== 0 || hotSetGpa % PAGE_SIZE !== 0 || hotSetGpa + options.hotSetBytes > memoryBytes) {
    throw new TdxModelError("TDX_WORKLOAD_INVALID", "the hot set must be whole pages inside TD memory", {
      details: { hotSetBytes: options.hotSetBytes, hotSetGpa, memoryBytes },
    });
  }
  return { hotPages: options.hotSetBytes / PAGE_SIZE, hotStartPage: hotSetGpa / PAGE_SIZE, writeSize, slotsPerPage: PAGE_SIZE / writeSize };
}

/** The deterministic write sequence of a workload: the k-th write depends on the seed and k only. */
export class GuestWriteSequence {
  private readonly next: () => number;
  private readonly r: Resolved;

  constructor(options: GuestWorkloadOptions, memoryBytes: number) {
    this.r = resolve(options, memoryBytes);
    this.next = mulberry32(options.seed);
  }

  /** The next write (allocation-free variant: fills `out` and returns it). */
  nextInto(out: { gpa: number; length: number; pattern: number }): { gpa: number; length: number; pattern: number } {
    const page = this.r.hotStartPage + (this.next() % this.r.hotPages);
    const slot = this.next() % this.r.slotsPerPage;
    out.gpa = page * PAGE_SIZE + slot * this.r.writeSize;
    out.length = this.r.writeSize;
    out.pattern = this.next();
    return out;
  }

  /** The first `count` writes of a workload (for replay in tests). */
  static take(options: GuestWorkloadOptions, memoryBytes: number, count: number): GuestWrite[] {
    const seq = new GuestWriteSequence(options, memoryBytes);
    const out: GuestWrite[] = [];
    for (let i = 0; i < count; i++) out.push({ ...seq.nextInto({ gpa: 0, length: 0, pattern: 0 }) });
    return out;
  }

  /** Applies the first `count` writes to a plain memory image (what the guest's memory must look like). */
  static replayInto(memory: Uint8Array, options: GuestWorkloadOptions, count: number): void {
    const seq = new GuestWriteSequence(options, memory.length);
    const w = { gpa: 0, length: 0, pattern: 0 };
    const words = new Uint32Array(memory.buffer, memory.byteOffset, memory.byteLength >>> 2);
    for (let i = 0; i < count; i++) {
      seq.nextInto(w);
      words.fill(w.pattern, (w.gpa >>> 2), (w.gpa + w.length) >>> 2);
    }
  }
}

/**
 * A guest program that keeps writing its memory while the TD runs: `bytesPerSecond` (times the throttle that
 * auto-converge sets) over a hot set, deterministically from a seed. Each batch of writes also advances vCPU 0
 * (RIP, RAX, XMM0 in its XSAVE area) and the TD TSC, so vCPU and TD-scope state change too.
 *
 * It runs on the event loop with a timer. That is deliberate: the machine has two cores that the migration
 * workers need, the write rate is modest (tens of MiB/s), and writes between timer ticks interleave with the
 * export leaves running in worker threads, which is exactly the concurrency the SEPT state (Atomics) is built
 * for. It never writes while the TD is not running (paused, exported, torn down): the memory-write path refuses.
 */
export class GuestWorkload {
  readonly options: GuestWorkloadOptions;
  private readonly td: TrustDomain;
  private readonly seq: GuestWriteSequence;
  private readonly scratch = { gpa: 0, length: 0, pattern: 0 };
  private throttleFactor = 1;
  private timer: NodeJS.Timeout | undefined;
  private lastTick = 0;
  private owedBytes = 0;
  private writeCount = 0;
  /** The scratch write was drawn from the sequence but refused; it is retried first. */
  private pending = false;

  constructor(td: TrustDomain, options: GuestWorkloadOptions) {
    this.td = td;
    this.options = options;
    this.seq = new GuestWriteSequence(options, td.memoryBytes);
  }

  /** Writes done so far: replaying this many writes of the sequence reproduces the guest's memory. */
  get writes(): number {
    return this.writeCount;
  }

  get bytesWritten(): number {
    return this.writeCount * (this.options.writeSize ?? 256);
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  /** 0..1: the share of the configured rate the guest gets (auto-converge lowers it). */
  get throttle(): number {
    return this.throttleFactor;
  }

  set throttle(value: number) {
    if (!(value >= 0 && value <= 1)) throw new TdxModelError("TDX_WORKLOAD_INVALID", "throttle is between 0 and 1", { details: { value } });
    this.throttleFactor = value;
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.lastTick = performance.now();
    this.owedBytes = 0;
    this.timer = setInterval(() => this.tick(), this.options.tickMs ?? 5);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Performs up to `count` writes now; returns how many happened (fewer when the TD stops running). Tests call it
   * directly for exact interleavings.
   */
  step(count: number): number {
    const td = this.td;
    let done = 0;
    for (; done < count; done++) {
      const w = this.pending ? this.scratch : this.seq.nextInto(this.scratch);
      this.pending = false;
      // The write path refuses a TD that is not running (it checks on every write: another thread may pause the
      // TD at any time); the refused write is kept and happens first when the guest runs again.
      if (td.guestFill32(w.gpa, w.length, w.pattern) !== TDX_STATUS.TDX_SUCCESS) {
        this.pending = true;
        break;
      }
      this.writeCount++;
    }
    if (done > 0) {
      td.setReg(0, "rip", td.getReg(0, "rip") + BigInt(done * 4));
      td.setReg(0, "rax", BigInt(this.writeCount));
      td.tdTsc = td.tdTsc + BigInt(done);
      td.xsave(0).writeUInt32LE(this.scratch.pattern, XMM0_OFFSET); // the last pattern stays in XMM0
    }
    return done;
  }

  private tick(): void {
    const now = performance.now();
    const elapsed = Math.min(now - this.lastTick, this.options.maxCatchUpMs ?? 50);
    this.lastTick = now;
    if (!this.td.isRunning) {
      this.owedBytes = 0; // no debt accrues while the guest does not run
      return;
    }
    this.owedBytes += (this.options.bytesPerSecond * this.throttleFactor * elapsed) / 1000;
    const size = this.options.writeSize ?? 256;
    const writes = Math.floor(this.owedBytes / size);
    if (writes === 0) return;
    const done = this.step(writes);
    this.owedBytes -= done * size;
  }
}
