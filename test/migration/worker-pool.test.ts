import { expect } from "chai";
import { WorkerError } from "../../orchestrator/migration/errors.js";
import { WorkerPool } from "../../orchestrator/migration/worker-pool.js";

const entry = new URL("./fixtures/echo-worker.ts", import.meta.url);

describe("worker pool fed by work descriptors", () => {
  let pool: WorkerPool | undefined;
  afterEach(async () => {
    await pool?.close();
    pool = undefined;
  });

  it("runs descriptors on the worker they are bound to, each worker its own thread", async () => {
    pool = await WorkerPool.start({ size: 2, entry });
    const a = await pool.submit<{ threadId: number }>(0, { kind: "echo", value: 1 });
    const b = await pool.submit<{ threadId: number }>(1, { kind: "echo", value: 2 });
    const a2 = await pool.submit<{ threadId: number }>(0, { kind: "echo", value: 3 });
    expect(a.threadId).to.equal(a2.threadId);
    expect(a.threadId).to.not.equal(b.threadId);
  });

  it("moves buffers to the worker and back without copies", async () => {
    pool = await WorkerPool.start({ size: 1, entry });
    const bytes = new Uint8Array(1000).fill(3).buffer;
    const result = await pool.submit<{ sum: number; back: ArrayBuffer }>(0, { kind: "sum", bytes }, [bytes]);
    expect(result.sum).to.equal(3000);
    expect(bytes.byteLength, "the buffer was transferred, not copied").to.equal(0);
    expect(new DataView(result.back).getUint32(0, true)).to.equal(3000);
  });

  it("keeps submission order per worker while queueing beyond the in-flight window", async () => {
    pool = await WorkerPool.start({ size: 1, entry, maxInFlight: 2 });
    const order: number[] = [];
    const jobs = [5, 1, 4, 0, 3].map((ms, i) =>
      pool!.submit<number>(0, { kind: "slow", ms, value: i }).then((v) => order.push(v)),
    );
    expect(pool.backlog(0)).to.equal(5);
    await Promise.all(jobs);
    expect(order).to.deep.equal([0, 1, 2, 3, 4]);
    expect(pool.backlog(0)).to.equal(0);
  });

  it("reports a failing descriptor as a typed error and keeps the worker serving", async () => {
    pool = await WorkerPool.start({ size: 1, entry });
    let error: unknown;
    try {
      await pool.submit(0, { kind: "fail" });
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(WorkerError);
    expect((error as WorkerError).details).to.include({ remoteCode: "TEST_FAIL" });
    expect(await pool.submit<{ value: number }>(0, { kind: "echo", value: 9 })).to.include({ value: 9 });
  });

  it("fails pending and later work when a worker dies", async () => {
    pool = await WorkerPool.start({ size: 1, entry });
    let error: unknown;
    try {
      await pool.submit(0, { kind: "exit" });
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(WorkerError);
    let later: unknown;
    try {
      await pool.submit(0, { kind: "echo", value: 1 });
    } catch (err) {
      later = err;
    }
    expect(later).to.be.instanceOf(WorkerError);
  });
});
