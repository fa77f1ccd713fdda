import { Worker } from "node:worker_threads";
import { expect } from "chai";
import { GuestWorkload, PAGE_SIZE, tdStateDigest, TDX_STATUS, type MigStreamContext, type TdSharedHandle, type TdxStatus } from "../../orchestrator/tdx/index.js";
import { expectStatus, MigrationSession, type Sent } from "./harness.js";
import { describeEachBackend } from "./codec-backends.js";

/** A worker running memory leaves, with a promise per request. */
class LeafWorker {
  private readonly worker: Worker;
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (value: Record<string, unknown>) => void; reject: (err: Error) => void }>();

  constructor() {
    this.worker = new Worker(new URL("./fixtures/worker-boot.mjs", import.meta.url), {
      workerData: { entry: new URL("./fixtures/leaf-worker.ts", import.meta.url).href },
    });
    this.worker.on("message", (m: { id: number }) => {
      this.waiting.get(m.id)?.resolve(m as Record<string, unknown>);
      this.waiting.delete(m.id);
    });
    this.worker.on("error", (err) => {
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    });
  }

  call(req: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ ...req, id });
    });
  }

  open(handle: TdSharedHandle): Promise<unknown> {
    return this.call({ op: "open", handle });
  }

  async exportMem(tdId: string, stream: MigStreamContext, gpas: number[]): Promise<{ status: TdxStatus; bundle?: Uint8Array; pages: number }> {
    return (await this.call({ op: "export-mem", tdId, stream, gpas })) as never;
  }

  async importBundle(tdId: string, stream: MigStreamContext, bundle: Uint8Array): Promise<{ status: TdxStatus }> {
    return (await this.call({ op: "import", tdId, stream, bundle })) as never;
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

describeEachBackend("memory leaves in worker threads", function () {
  this.timeout(30_000);

  it("export on two source workers and import on two destination workers, the guest writing meanwhile", async () => {
    const m = new MigrationSession({ memoryPages: 512, vcpus: 2, streams: 2 });
    m.setup();
    const exporters = [new LeafWorker(), new LeafWorker()];
    const importers = [new LeafWorker(), new LeafWorker()];
    try {
      await Promise.all([...exporters.map((w) => w.open(m.td.handle)), ...importers.map((w) => w.open(m.dtd.handle))]);
      const workload = new GuestWorkload(m.td, { bytesPerSecond: 8 << 20, hotSetBytes: 64 * PAGE_SIZE, seed: 5, tickMs: 1 });
      m.importAll([m.exportImmutable()]);
      workload.start();
      m.src.exportBlockwAll(m.td);

      // Stream i exports its half of memory in bundles of 32 pages; its bundles are imported in order on stream i.
      const runStream = async (i: number, gpas: number[]): Promise<number> => {
        let pages = 0;
        for (let at = 0; at < gpas.length; at += 32) {
          const r = await exporters[i]!.exportMem(m.td.id, m.s[i]!, gpas.slice(at, at + 32));
          expectStatus(r.status, TDX_STATUS.TDX_SUCCESS);
          if (r.bundle === undefined) continue;
          pages += r.pages;
          expectStatus((await importers[i]!.importBundle(m.dtd.id, m.d[i]!, r.bundle)).status, TDX_STATUS.TDX_SUCCESS);
        }
        return pages;
      };
      const all = Array.from({ length: m.td.memoryPages }, (_, p) => p * PAGE_SIZE);
      const exported = await Promise.all([runStream(0, all.filter((_, p) => p % 2 === 0)), runStream(1, all.filter((_, p) => p % 2 === 1))]);
      expect(exported[0]! + exported[1]!).to.be.at.most(512);

      for (let round = 0; round < 3; round++) {
        await new Promise((r) => setTimeout(r, 5));
        const token: Sent = m.track(round % 2);
        expectStatus(m.importOne(token), TDX_STATUS.TDX_SUCCESS);
        const dirty = Array.from(m.td.drainDirtyLog());
        m.src.exportBlockw(m.td, dirty);
        await Promise.all([runStream(0, dirty.filter((_, k) => k % 2 === 0)), runStream(1, dirty.filter((_, k) => k % 2 === 1))]);
      }
      workload.stop();
      expect(workload.writes).to.be.greaterThan(0);
      m.importAll(m.blackout());
      expectStatus(m.dst.importCommit(m.dtd).status, TDX_STATUS.TDX_SUCCESS);
      expect(tdStateDigest(m.dtd).equals(tdStateDigest(m.td))).to.equal(true);
    } finally {
      await Promise.all([...exporters, ...importers].map((w) => w.terminate()));
    }
  });
});
