import { randomBytes } from "node:crypto";
import { expect } from "chai";
import {
  PAGE_SIZE,
  Platform,
  statusName,
  TDX_STATUS,
  type MigStreamContext,
  type PlatformOptions,
  type TdxStatus,
  type TrustDomain,
} from "../../orchestrator/tdx/index.js";

/** Asserts a TDX status by name, so a failure prints "expected TDX_X to equal TDX_Y". */
export function expectStatus(actual: TdxStatus, expected: TdxStatus): void {
  expect(statusName(actual)).to.equal(statusName(expected));
}

export interface SessionOptions {
  readonly memoryPages?: number;
  readonly vcpus?: number;
  readonly streams?: number;
  readonly source?: PlatformOptions;
  readonly destination?: PlatformOptions;
  readonly sourceVersion?: number;
  readonly destinationVersion?: number;
  readonly attributes?: bigint;
  readonly xfam?: bigint;
  /** Install a different key on the destination. */
  readonly wrongKey?: boolean;
  /** Install no key on the destination. */
  readonly noDestinationKey?: boolean;
}

export interface Sent {
  readonly stream: number;
  readonly bundle: Buffer;
}

/** A source TD and a destination, driven through the leaves in-process (the engine does the same over TCP). */
export class MigrationSession {
  readonly source: Platform;
  readonly destination: Platform;
  readonly td: TrustDomain;
  readonly dtd: TrustDomain;
  readonly key = randomBytes(32);
  readonly s: MigStreamContext[] = [];
  readonly d: MigStreamContext[] = [];
  private nextStream = 0;

  constructor(readonly options: SessionOptions = {}) {
    this.source = new Platform({ name: "source", ...options.source });
    this.destination = new Platform({ name: "destination", ...options.destination });
    const memoryPages = options.memoryPages ?? 64;
    const image = Buffer.alloc(2 * PAGE_SIZE);
    for (let i = 0; i < image.length; i++) image[i] = (i * 7) & 0xff;
    this.td = this.source.createTd({
      memoryBytes: memoryPages * PAGE_SIZE,
      numVcpus: options.vcpus ?? 2,
      image: [{ gpa: 0, data: image }],
      ...(options.attributes !== undefined ? { attributes: options.attributes } : {}),
      ...(options.xfam !== undefined ? { xfam: options.xfam } : {}),
    });
    // Give every page distinct content.
    for (let p = 2; p < memoryPages; p++) this.td.memory.fill((p * 13) & 0xff, p * PAGE_SIZE, (p + 1) * PAGE_SIZE);
    this.dtd = this.destination.createImportTd({ memoryBytes: memoryPages * PAGE_SIZE, numVcpus: options.vcpus ?? 2 });
  }

  get src() {
    return this.source.module;
  }

  get dst() {
    return this.destination.module;
  }

  /** Keys and streams on both sides. */
  setup(): void {
    expectStatus(this.src.setMigrationKey(this.td, this.key, this.options.sourceVersion ?? 1).status, TDX_STATUS.TDX_SUCCESS);
    if (this.options.noDestinationKey !== true) {
      const dkey = this.options.wrongKey === true ? randomBytes(32) : this.key;
      expectStatus(this.dst.setMigrationKey(this.dtd, dkey, this.options.destinationVersion ?? 1).status, TDX_STATUS.TDX_SUCCESS);
    }
    for (let i = 0; i < (this.options.streams ?? 2); i++) {
      const a = this.src.streamCreate(this.td, i);
      const b = this.dst.streamCreate(this.dtd, i);
      expectStatus(a.status, TDX_STATUS.TDX_SUCCESS);
      expectStatus(b.status, TDX_STATUS.TDX_SUCCESS);
      this.s.push(a.stream!);
      this.d.push(b.stream!);
    }
  }

  /** TDH.EXPORT.STATE.IMMUTABLE on stream 0. */
  exportImmutable(): Sent {
    const r = this.src.exportStateImmutable(this.td, this.s[0]!);
    expectStatus(r.status, TDX_STATUS.TDX_SUCCESS);
    return { stream: 0, bundle: r.bundle! };
  }

  /** Imports one bundle on the destination stream it came from. */
  importOne(sent: Sent): TdxStatus {
    return this.dst.importBundle(this.dtd, this.d[sent.stream]!, sent.bundle).status;
  }

  importAll(sent: readonly Sent[]): void {
    for (const x of sent) expectStatus(this.importOne(x), TDX_STATUS.TDX_SUCCESS);
  }

  /** Exports the given pages (already write-blocked) in bundles of `batch`, streams round-robin. */
  exportPages(gpas: readonly number[], batch = 8): Sent[] {
    const out: Sent[] = [];
    for (let i = 0; i < gpas.length; i += batch) {
      const stream = this.nextStream++ % this.s.length;
      const r = this.src.exportMem(this.td, this.s[stream]!, gpas.slice(i, i + batch));
      expectStatus(r.status, TDX_STATUS.TDX_SUCCESS);
      if (r.bundle !== undefined) out.push({ stream, bundle: Buffer.from(r.bundle) });
    }
    return out;
  }

  /** The first epoch: block every page and export all of them. */
  firstEpoch(batch = 8): Sent[] {
    expectStatus(this.src.exportBlockwAll(this.td).status, TDX_STATUS.TDX_SUCCESS);
    const all = Array.from({ length: this.td.memoryPages }, (_, p) => p * PAGE_SIZE);
    return this.exportPages(all, batch);
  }

  /** TDH.EXPORT.TRACK on a stream: the epoch token. */
  track(stream = 0): Sent {
    const r = this.src.exportTrack(this.td, this.s[stream]!);
    expectStatus(r.status, TDX_STATUS.TDX_SUCCESS);
    return { stream, bundle: r.bundle! };
  }

  /** A pre-copy epoch: drain the dirty log, block those pages, export them. */
  dirtyEpoch(batch = 8): Sent[] {
    const dirty = Array.from(this.td.drainDirtyLog());
    if (dirty.length === 0) return [];
    this.src.exportBlockw(this.td, dirty);
    return this.exportPages(dirty, batch);
  }

  /** The blackout: pause, epoch token, last dirty pages, TD and vCPU states, start token. */
  blackout(): Sent[] {
    expectStatus(this.src.exportPause(this.td).status, TDX_STATUS.TDX_SUCCESS);
    // A new epoch for the pages dirtied since the last one (a page goes at most once per epoch).
    const out = [this.track(0), ...this.dirtyEpoch()];
    const tdState = this.src.exportStateTd(this.td, this.s[0]!);
    expectStatus(tdState.status, TDX_STATUS.TDX_SUCCESS);
    out.push({ stream: 0, bundle: tdState.bundle! });
    for (let vp = 0; vp < this.td.numVcpus; vp++) {
      const stream = vp % this.s.length;
      const r = this.src.exportStateVp(this.td, this.s[stream]!, vp);
      expectStatus(r.status, TDX_STATUS.TDX_SUCCESS);
      out.push({ stream, bundle: r.bundle! });
    }
    const start = this.src.exportTrack(this.td, this.s[0]!, { start: true });
    expectStatus(start.status, TDX_STATUS.TDX_SUCCESS);
    out.push({ stream: 0, bundle: start.bundle! });
    return out;
  }
}

/** Flips one bit of a copy of `b` at `offset`. */
export function flipBit(b: Buffer, offset: number, bit = 0): Buffer {
  const copy = Buffer.from(b);
  copy[offset]! ^= 1 << bit;
  return copy;
}
