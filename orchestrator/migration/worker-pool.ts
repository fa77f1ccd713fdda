/**
 * The migration controller's "accelerator": a pool of worker threads fed through a queue of work descriptors.
 *
 * The main loop only moves bytes between sockets and this queue; export/encrypt and import/decrypt run in the
 * workers. Each descriptor names the worker it goes to (a stream is bound to one worker, because the stream's
 * context, its IV and MB counters, lives there and must be used in order). Per worker at most `maxInFlight`
 * descriptors are posted at once; the rest wait in the queue, so a fast producer cannot flood a worker.
 */
import { Worker } from "node:worker_threads";
import type { CodecReport } from "../tdx/index.js";
import { WorkerError } from "./errors.js";

export interface WorkerPoolOptions {
  size: number;
  /** URL of the worker's module (it calls `serveWorkDescriptors`). */
  entry: URL;
  /** Descriptors posted to one worker before the next waits in the queue (default 4). */
  maxInFlight?: number;
  name?: string;
}

/** What travels to a worker: the descriptor and the buffers whose ownership moves with it. */
interface QueuedWork {
  seq: number;
  descriptor: unknown;
  transfer: ArrayBuffer[];
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

export interface WorkRequestMessage {
  seq: number;
  descriptor: unknown;
}

export type WorkResultMessage =
  | { seq: number; ok: true; result: unknown }
  | { seq: number; ok: false; error: { name: string; message: string; code?: string; details?: unknown } };

const BOOT_URL = new URL("./worker-boot.mjs", import.meta.url);

class PoolWorker {
  readonly worker: Worker;
  readonly queue: QueuedWork[] = [];
  readonly inFlight = new Map<number, QueuedWork>();
  failure: Error | undefined;

  constructor(worker: Worker) {
    this.worker = worker;
  }
}

export class WorkerPool {
  readonly #workers: PoolWorker[];
  readonly #maxInFlight: number;
  readonly #name: string;
  #seq = 0;
  #closed = false;
  #completed = 0;

  private constructor(workers: PoolWorker[], maxInFlight: number, name: string) {
    this.#workers = workers;
    this.#maxInFlight = maxInFlight;
    this.#name = name;
  }

  /** Starts `size` workers and waits until each has loaded its module. */
  static async start(options: WorkerPoolOptions): Promise<WorkerPool> {
    if (!Number.isInteger(options.size) || options.size < 1) {
      throw new WorkerError("worker pool size must be a positive integer", { size: options.size });
    }
    const name = options.name ?? "migration";
    const workers = await Promise.all(
      Array.from({ length: options.size }, (_, index) => startWorker(options.entry, `${name}-${index}`)),
    );
    const pool = new WorkerPool(workers, options.maxInFlight ?? 4, name);
    workers.forEach((w, index) => pool.#attach(w, index));
    return pool;
  }

  get size(): number {
    return this.#workers.length;
  }

  /** Descriptors completed since start (for tests and metrics). */
  get completed(): number {
    return this.#completed;
  }

  /** CPU time (µs) the pool's threads used so far, summed over its workers (for benchmarks). */
  async cpuUsage(): Promise<{ user: number; system: number }> {
    const usages = await Promise.all(this.#workers.map((w) => w.worker.cpuUsage()));
    return usages.reduce((a, u) => ({ user: a.user + u.user, system: a.system + u.system }), { user: 0, system: 0 });
  }

  /** The page codec each worker seals and opens pages with (chosen in each thread from TVMX_CRYPTO_BACKEND). */
  codecs(): Promise<CodecReport[]> {
    return this.broadcast<CodecReport>({ kind: "codec" });
  }

  /** Descriptors queued or in flight on one worker. */
  backlog(workerIndex: number): number {
    const w = this.#worker(workerIndex);
    return w.queue.length + w.inFlight.size;
  }

  /**
   * Queues a descriptor for worker `workerIndex`; resolves with the worker's result. Buffers in `transfer` move to the
   * worker (zero copy) and must not be used afterwards. Descriptors to one worker run in submission order.
   */
  submit<R>(workerIndex: number, descriptor: unknown, transfer: ArrayBuffer[] = []): Promise<R> {
    const w = this.#worker(workerIndex);
    if (this.#closed) return Promise.reject(new WorkerError("worker pool is closed", { pool: this.#name }));
    if (w.failure) return Promise.reject(w.failure);
    return new Promise<R>((resolve, reject) => {
      w.queue.push({ seq: ++this.#seq, descriptor, transfer, resolve: resolve as (v: unknown) => void, reject });
      this.#pump(w);
    });
  }

  /** Same descriptor to every worker (e.g. opening a TD's shared memory); resolves with every result. */
  broadcast<R>(descriptor: unknown): Promise<R[]> {
    return Promise.all(this.#workers.map((_, index) => this.submit<R>(index, descriptor)));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#workers) {
      const err = new WorkerError("worker pool closed", { pool: this.#name });
      w.failure ??= err;
      for (const work of [...w.queue.splice(0), ...w.inFlight.values()]) work.reject(err);
      w.inFlight.clear();
    }
    await Promise.all(this.#workers.map((w) => w.worker.terminate()));
  }

  #worker(index: number): PoolWorker {
    const w = this.#workers[index];
    if (!w) throw new WorkerError("no such worker", { index, size: this.#workers.length });
    return w;
  }

  #pump(w: PoolWorker): void {
    while (w.inFlight.size < this.#maxInFlight && w.queue.length > 0) {
      const work = w.queue.shift()!;
      w.inFlight.set(work.seq, work);
      const message: WorkRequestMessage = { seq: work.seq, descriptor: work.descriptor };
      w.worker.postMessage(message, work.transfer);
    }
  }

  #attach(w: PoolWorker, index: number): void {
    w.worker.on("message", (message: WorkResultMessage) => {
      const work = w.inFlight.get(message.seq);
      if (!work) return;
      w.inFlight.delete(message.seq);
      this.#completed++;
      if (message.ok) work.resolve(message.result);
      else {
        const { name, message: text, code, details } = message.error;
        work.reject(new WorkerError(text, { worker: index, remoteName: name, remoteCode: code, remoteDetails: details }));
      }
      this.#pump(w);
    });
    const fail = (err: Error): void => {
      if (w.failure) return;
      w.failure = new WorkerError("migration worker failed", { worker: index, pool: this.#name }, err);
      for (const work of [...w.queue.splice(0), ...w.inFlight.values()]) work.reject(w.failure);
      w.inFlight.clear();
    };
    w.worker.on("error", fail);
    w.worker.on("exit", (code) => {
      if (!this.#closed) fail(new WorkerError("migration worker exited", { worker: index, exitCode: code }));
    });
  }
}

function startWorker(entry: URL, name: string): Promise<PoolWorker> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(BOOT_URL, { workerData: { entry: entry.href }, name });
    const onError = (err: Error): void => reject(new WorkerError("migration worker failed to start", { name }, err));
    worker.once("error", onError);
    // The worker's module posts `{ready: true}` once it is listening for descriptors.
    worker.once("message", (message: unknown) => {
      worker.off("error", onError);
      if ((message as { ready?: boolean } | null)?.ready === true) resolve(new PoolWorker(worker));
      else {
        void worker.terminate();
        reject(new WorkerError("migration worker sent an unexpected first message", { name }));
      }
    });
  });
}
