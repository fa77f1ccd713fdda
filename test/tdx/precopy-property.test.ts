import { expect } from "chai";
import { GuestWorkload, PAGE_SIZE, tdStateDigest, TDX_STATUS } from "../../orchestrator/tdx/index.js";
import { expectStatus, MigrationSession, type Sent } from "./harness.js";
import { describeEachBackend } from "./codec-backends.js";

/** A small deterministic PRNG for the schedule (independent of the guest's). */
function prng(seed: number): (n: number) => number {
  let x = seed * 2654435761 + 1;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

describeEachBackend("pre-copy under random interleavings of guest writes and export", () => {
  for (let seed = 1; seed <= 12; seed++) {
    it(`loses no write (schedule ${seed})`, () => {
      const rnd = prng(seed);
      const m = new MigrationSession({ memoryPages: 96, vcpus: 2, streams: 2 });
      m.setup();
      const workload = new GuestWorkload(m.td, { bytesPerSecond: 1, hotSetBytes: 24 * PAGE_SIZE, hotSetGpa: rnd(64) * PAGE_SIZE, seed, writeSize: 4 << rnd(6) });
      expectStatus(m.importOne(m.exportImmutable()), TDX_STATUS.TDX_SUCCESS); // the immutable state comes first
      const streams: Sent[][] = [[], []];
      const importReady = (): void => {
        // Each stream's bundles arrive in order; the two streams interleave at random.
        while (streams[0]!.length + streams[1]!.length > 0) {
          const k = streams[0]!.length === 0 ? 1 : streams[1]!.length === 0 ? 0 : rnd(2);
          expectStatus(m.importOne(streams[k]!.shift()!), TDX_STATUS.TDX_SUCCESS);
        }
      };
      const exportSome = (gpas: number[]): void => {
        // Random batch sizes, the guest writing between batches.
        let at = 0;
        while (at < gpas.length) {
          const n = 1 + rnd(24);
          const k = rnd(2);
          const r = m.src.exportMem(m.td, m.s[k]!, gpas.slice(at, at + n));
          expectStatus(r.status, TDX_STATUS.TDX_SUCCESS);
          if (r.bundle) streams[k]!.push({ stream: k, bundle: Buffer.from(r.bundle) });
          at += n;
          workload.step(rnd(30));
        }
      };
      m.src.exportBlockwAll(m.td);
      workload.step(rnd(50));
      exportSome(Array.from({ length: m.td.memoryPages }, (_, p) => p * PAGE_SIZE));
      const rounds = 1 + rnd(5);
      for (let r = 0; r < rounds; r++) {
        importReady(); // the epoch barrier: everything of the epoch before its token
        const k = rnd(2);
        streams[k]!.push(m.track(k));
        importReady();
        const dirty = Array.from(m.td.drainDirtyLog());
        m.src.exportBlockw(m.td, dirty);
        workload.step(rnd(40));
        exportSome(dirty);
      }
      importReady();
      const blackout = m.blackout();
      m.importAll(blackout);
      expectStatus(m.dst.importCommit(m.dtd).status, TDX_STATUS.TDX_SUCCESS);
      expect(workload.writes).to.be.greaterThan(0);
      expect(tdStateDigest(m.dtd).equals(tdStateDigest(m.td))).to.equal(true);
    });
  }
});
