import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "chai";
import { GuestWorkload, GuestWriteSequence, PAGE_SIZE, Platform, tdMemoryDigest } from "../../orchestrator/tdx/index.js";

const options = { bytesPerSecond: 4 << 20, hotSetBytes: 8 * PAGE_SIZE, hotSetGpa: 4 * PAGE_SIZE, seed: 1234, writeSize: 128 };

describe("GuestWorkload", () => {
  it("is deterministic from its seed: two TDs given the same writes end up identical", () => {
    const p = new Platform();
    const a = p.createTd({ memoryBytes: 16 * PAGE_SIZE });
    const b = p.createTd({ memoryBytes: 16 * PAGE_SIZE });
    new GuestWorkload(a, options).step(500);
    const wb = new GuestWorkload(b, options);
    wb.step(200);
    wb.step(300);
    expect(tdMemoryDigest(a).equals(tdMemoryDigest(b))).to.equal(true);
    const c = p.createTd({ memoryBytes: 16 * PAGE_SIZE });
    new GuestWorkload(c, { ...options, seed: 4321 }).step(500);
    expect(tdMemoryDigest(a).equals(tdMemoryDigest(c))).to.equal(false);
  });

  it("writes only inside its hot set, and its record replays to the same memory", () => {
    const p = new Platform();
    const td = p.createTd({ memoryBytes: 16 * PAGE_SIZE });
    const w = new GuestWorkload(td, options);
    w.step(300);
    const writes = GuestWriteSequence.take(options, td.memoryBytes, w.writes);
    expect(writes).to.have.length(300);
    for (const x of writes) {
      expect(x.gpa).to.be.at.least(4 * PAGE_SIZE);
      expect(x.gpa + x.length).to.be.at.most(12 * PAGE_SIZE);
      expect(x.gpa % 128).to.equal(0);
    }
    const image = new Uint8Array(td.memoryBytes);
    GuestWriteSequence.replayInto(image, options, w.writes);
    expect(Buffer.from(image).equals(Buffer.from(td.memory))).to.equal(true);
    expect(w.bytesWritten).to.equal(300 * 128);
    expect(td.getReg(0, "rax")).to.equal(300n);
  });

  it("never writes while the TD is not running, and keeps its place in the sequence", () => {
    const p = new Platform();
    const td = p.createTd({ memoryBytes: 16 * PAGE_SIZE });
    const w = new GuestWorkload(td, options);
    w.step(10);
    p.module.setMigrationKey(td, Buffer.alloc(32, 1), 1);
    const s = p.module.streamCreate(td, 0).stream!;
    p.module.exportStateImmutable(td, s);
    p.module.exportPause(td);
    const frozen = tdMemoryDigest(td);
    expect(w.step(50)).to.equal(0);
    expect(tdMemoryDigest(td).equals(frozen)).to.equal(true);
    p.module.exportAbort(td, s);
    expect(w.step(5)).to.equal(5);
    const image = new Uint8Array(td.memoryBytes);
    GuestWriteSequence.replayInto(image, options, w.writes);
    expect(Buffer.from(image).equals(Buffer.from(td.memory))).to.equal(true);
  });

  it("runs on timers at a rate scaled by the throttle, and stops", async () => {
    const p = new Platform();
    const td = p.createTd({ memoryBytes: 16 * PAGE_SIZE });
    const w = new GuestWorkload(td, { ...options, tickMs: 2 });
    w.throttle = 0;
    w.start();
    await sleep(30);
    expect(w.writes).to.equal(0);
    w.throttle = 1;
    for (let i = 0; i < 100 && w.writes === 0; i++) await sleep(5);
    w.stop();
    expect(w.running).to.equal(false);
    const after = w.writes;
    expect(after).to.be.greaterThan(0);
    await sleep(20);
    expect(w.writes).to.equal(after);
    expect(() => (w.throttle = 1.5)).to.throw(/between 0 and 1/);
  });

  it("rejects a bad configuration", () => {
    const td = new Platform().createTd({ memoryBytes: 16 * PAGE_SIZE });
    expect(() => new GuestWorkload(td, { ...options, writeSize: 100 })).to.throw(/writeSize/);
    expect(() => new GuestWorkload(td, { ...options, hotSetBytes: 100 * PAGE_SIZE })).to.throw(/hot set/);
    expect(() => new GuestWorkload(td, { ...options, bytesPerSecond: -1 })).to.throw(/bytesPerSecond/);
  });
});
