/**
 * The source's export pipeline: write-blocks the pages to send, seals them (TDH.EXPORT.MEM) in the workers or, for
 * the blackout's few last pages, on this thread, writes the bundles to the streams' sockets, and sends epoch tokens
 * with their acknowledgement. It counts the pages sent and measures the shortest epoch round trip.
 */
import { MB_TYPE, PAGE_SIZE, peekMbmdHeader } from "../tdx/index.js";
import type { MigStreamContext, TdxModule, TdxStatus, TrustDomain } from "../tdx/index.js";
import { withTimeout } from "../util/index.js";
import type { BackwardReader } from "./backward-reader.js";
import { ProtocolError } from "./errors.js";
import type { FailureLatch } from "./failure-latch.js";
import { FRAME_TYPE } from "./frame.js";
import type { FramedConnection } from "./framed-connection.js";
import { checkLeaf, timedOut } from "./session-shared.js";
import type { JobTracker } from "./session-shared.js";
import type { SourceSettings } from "./source-options.js";
import type { ExportMemOutcome } from "./work-descriptors.js";
import type { WorkerPool } from "./worker-pool.js";

const MIN_PAGES_PER_BUNDLE = 16;
/** Largest bundle sealed on the main thread in the blackout: at most the destination's inline import size (128). */
const INLINE_BUNDLE_PAGES = 128;

export interface ExportPipelineParts {
  settings: SourceSettings;
  td: TrustDomain;
  module: TdxModule;
  streams: readonly MigStreamContext[];
  conns: readonly FramedConnection[];
  pool: WorkerPool;
  latch: FailureLatch;
  jobs: JobTracker;
  reader: BackwardReader;
}

export class ExportPipeline {
  readonly #p: ExportPipelineParts;
  /** Per stream: bundle buffers the socket is done with, to seal later bundles into. */
  readonly #freeBundles: ArrayBuffer[][];
  #pagesSent = 0;
  /** Shortest epoch-token → EPOCH_ACK time seen (a round trip with the destination's import of a token), ms. */
  #minAckMs = Number.POSITIVE_INFINITY;

  constructor(parts: ExportPipelineParts) {
    this.#p = parts;
    this.#freeBundles = parts.streams.map(() => []);
  }

  get pagesSent(): number {
    return this.#pagesSent;
  }

  /** The shortest epoch round trip measured so far, ms (Infinity before the first). */
  get minAckMs(): number {
    return this.#minAckMs;
  }

  /** Round 1: write-blocks all memory and returns every page's GPA. */
  blockAll(): Uint32Array {
    const td = this.#p.td;
    this.#leaf("TDH.EXPORT.BLOCKW", this.#p.module.exportBlockwAll(td).status);
    const gpas = new Uint32Array(td.memoryPages);
    for (let p = 0; p < gpas.length; p++) gpas[p] = p * PAGE_SIZE;
    return gpas;
  }

  /** Drains the dirty log and write-blocks those pages for the next export. */
  blockDirty(): Uint32Array {
    const gpas = this.#p.td.drainDirtyLog();
    if (gpas.length > 0) this.#leaf("TDH.EXPORT.BLOCKW", this.#p.module.exportBlockw(this.#p.td, gpas).status);
    return gpas;
  }

  /**
   * Exports `gpas` as memory bundles: batches go round-robin to the streams; each stream keeps `exportWindow`
   * descriptors in flight on its worker and writes each bundle to its socket in order, waiting for the socket when
   * it is full (backpressure reaches the workers through the window).
   */
  async exportPages(gpas: Uint32Array): Promise<number> {
    const { settings, streams, conns, pool, latch, jobs, td } = this.#p;
    const streamCount = streams.length;
    // Small page sets (late rounds, the blackout) go in smaller bundles, several per stream, so that the
    // destination decrypts the first while the source still encrypts the next.
    const per = Math.max(MIN_PAGES_PER_BUNDLE, Math.min(settings.pagesPerBundle, Math.ceil(gpas.length / (streamCount * 4))));
    const batches = Math.ceil(gpas.length / per);
    const perStream = await Promise.all(
      streams.map(async (stream, k) => {
        const conn = conns[k]!;
        const queue: Promise<ExportMemOutcome>[] = [];
        let next = k;
        let pages = 0;
        const free = this.#freeBundles[k]!;
        const submit = (): void => {
          const start = next * per;
          const slice = gpas.slice(start, Math.min(start + per, gpas.length));
          next += streamCount;
          const out = free.pop() ?? null;
          const transfer = out ? [slice.buffer, out] : [slice.buffer];
          queue.push(jobs.track(pool.submit<ExportMemOutcome>(k, { kind: "export-mem", tdId: td.id, stream, gpas: slice.buffer, out }, transfer)));
        };
        while (queue.length < settings.exportWindow && next < batches) submit();
        while (queue.length > 0) {
          const r = await latch.guard(queue.shift()!);
          if (next < batches) submit();
          this.#leaf("TDH.EXPORT.MEM", r.status);
          if (r.bundle) {
            pages += r.pages;
            const buffer = r.bundle;
            // Once the kernel has the bytes, the buffer goes back to the worker for a later bundle.
            await latch.guard(conn.send(FRAME_TYPE.BUNDLE, new Uint8Array(buffer, 0, r.bundleBytes), () => free.push(buffer)));
          }
        }
        return pages;
      }),
    );
    const pages = perStream.reduce((a, b) => a + b, 0);
    this.#pagesSent += pages;
    return pages;
  }

  /**
   * TDH.EXPORT.MEM on this thread (no export descriptor is in flight during the blackout), in bundles of at most
   * INLINE_BUNDLE_PAGES pages round-robin over the streams: small enough that the destination opens each on its
   * main thread too, so the blackout's last pages never wait for a worker thread to be scheduled.
   */
  async exportPagesInline(gpas: Uint32Array): Promise<number> {
    if (gpas.length === 0) return 0;
    const { streams, conns, module, td, latch } = this.#p;
    const per = Math.min(INLINE_BUNDLE_PAGES, Math.ceil(gpas.length / streams.length));
    let pages = 0;
    const sends: Promise<void>[] = [];
    for (let b = 0; b * per < gpas.length; b++) {
      const k = b % streams.length;
      const r = module.exportMem(td, streams[k]!, gpas.subarray(b * per, Math.min((b + 1) * per, gpas.length)));
      this.#leaf("TDH.EXPORT.MEM", r.status);
      if (r.bundle && r.pages > 0) {
        pages += r.pages;
        sends.push(conns[k]!.send(FRAME_TYPE.BUNDLE, r.bundle));
      }
    }
    await latch.guard(Promise.all(sends));
    this.#pagesSent += pages;
    return pages;
  }

  /**
   * TDH.EXPORT.TRACK: the epoch token on stream 0, an EPOCH_MARK with the same epoch on every other stream. Resolves
   * once they are sent, with the promise of the destination's EPOCH_ACK (settling with its arrival time,
   * `performance.now()`). The session keeps one token in flight while the next round streams, and waits for the last
   * acknowledgement before it pauses the TD (the way to the point of no return): a bad key, an incompatible platform
   * or a damaged bundle is thus refused while the source can still resume on its own, and the link does not idle a
   * round trip per round.
   */
  async sendEpochToken(): Promise<{ acked: Promise<number> }> {
    const { module, td, streams, latch, reader, settings } = this.#p;
    const r = module.exportTrack(td, streams[0]!);
    const token = this.#leaf("TDH.EXPORT.TRACK", r.status, r.bundle);
    const epoch = peekMbmdHeader(token)!.migEpoch;
    const ack = reader.expectEpochAck(epoch);
    await latch.guard(this.sendToken(token));
    const sentAt = performance.now();
    const timeoutMs = settings.commitTimeoutMs;
    const acked = latch.guard(withTimeout(ack, timeoutMs, timedOut(`EPOCH_ACK ${epoch}`, timeoutMs))).then(() => {
      const at = performance.now();
      this.#minAckMs = Math.min(this.#minAckMs, at - sentAt);
      return at;
    });
    acked.catch(() => undefined);
    return { acked };
  }

  /** An epoch token (or the start token) on stream 0, its EPOCH_MARK on every other stream. */
  async sendToken(token: Buffer): Promise<void> {
    const header = peekMbmdHeader(token);
    if (!header || header.mbType !== MB_TYPE.EPOCH_TOKEN) throw new ProtocolError("TDH.EXPORT.TRACK returned something other than an epoch token");
    const conns = this.#p.conns;
    await Promise.all([
      conns[0]!.send(FRAME_TYPE.BUNDLE, token),
      ...conns.slice(1).map((c) => c.sendJson(FRAME_TYPE.EPOCH_MARK, { epoch: header.migEpoch })),
    ]);
  }

  #leaf<T>(leaf: string, status: TdxStatus, value?: T): T {
    return checkLeaf("source", this.#p.settings.migrationId, leaf, status, value);
  }
}
