import { expect } from "chai";
import {
  GuestWorkload,
  GuestWriteSequence,
  OP_STATE,
  PAGE_SIZE,
  peekMbmdHeader,
  tdMemoryDigest,
  tdStateDigest,
  tdVcpuDigest,
  TDX_STATUS,
} from "../../orchestrator/tdx/index.js";
import { expectStatus, MigrationSession, type Sent } from "./harness.js";
import { describeEachBackend } from "./codec-backends.js";

describeEachBackend("export → import round trip", () => {
  it("moves a running TD: memory, vCPU and TD state equal the source's at pause, with the guest writing during pre-copy", () => {
    const m = new MigrationSession({ memoryPages: 256, vcpus: 3, streams: 2 });
    m.setup();
    const workload = new GuestWorkload(m.td, { bytesPerSecond: 1 << 20, hotSetBytes: 32 * PAGE_SIZE, hotSetGpa: 16 * PAGE_SIZE, seed: 7 });
    expectStatus(m.td.extendRtmr(2, Buffer.alloc(48, 1)), TDX_STATUS.TDX_SUCCESS);

    const sent: Sent[] = [m.exportImmutable()];
    workload.step(40); // the guest runs before the first epoch is blocked
    sent.push(...m.firstEpoch(16));
    workload.step(200); // writes to blocked pages make them dirty
    let rounds = 0;
    while (m.td.dirtyLogLength > 0 && rounds < 5) {
      sent.push(m.track(rounds % 2));
      sent.push(...m.dirtyEpoch(8));
      workload.step(60 - rounds * 10);
      rounds++;
    }
    expect(rounds).to.be.greaterThan(0);
    m.importAll(sent);
    expect(m.dtd.lifecycle).to.deep.equal({ kind: "importing", phase: "memory", epoch: rounds });

    const blackout = m.blackout();
    expect(m.td.lifecycle.kind).to.equal("exported");
    expect(workload.step(10)).to.equal(0); // the guest does not run any more on the source
    const atPause = { all: tdStateDigest(m.td), memory: tdMemoryDigest(m.td), vcpus: tdVcpuDigest(m.td) };
    m.importAll(blackout);
    expect(m.dtd.lifecycle.kind).to.equal("importing");
    expectStatus(m.dst.importCommit(m.dtd).status, TDX_STATUS.TDX_SUCCESS);

    expect(tdMemoryDigest(m.dtd).equals(atPause.memory)).to.equal(true);
    expect(tdVcpuDigest(m.dtd).equals(atPause.vcpus)).to.equal(true);
    expect(tdStateDigest(m.dtd).equals(atPause.all)).to.equal(true);
    expect(m.dtd.rtmr(2).equals(m.td.rtmr(2))).to.equal(true);
    expect(m.dtd.getReg(0, "rax")).to.equal(BigInt(workload.writes));
    expect(m.dtd.xsave(0).readUInt32LE(160)).to.not.equal(0); // XMM0 carries the guest's last pattern
    expect(m.dtd.xsave(0).equals(m.td.xsave(0))).to.equal(true);
    expect(m.dtd.tdTsc).to.equal(m.td.tdTsc);
  });

  it("replaying the workload's recorded writes onto the initial image gives the destination's memory", () => {
    const m = new MigrationSession({ memoryPages: 64, vcpus: 1, streams: 1 });
    const initial = Buffer.from(m.td.memory);
    m.setup();
    const options = { bytesPerSecond: 1 << 20, hotSetBytes: 16 * PAGE_SIZE, seed: 99, writeSize: 64 };
    const workload = new GuestWorkload(m.td, options);
    const sent: Sent[] = [m.exportImmutable(), ...m.firstEpoch()];
    workload.step(100);
    sent.push(m.track(), ...m.dirtyEpoch());
    m.importAll(sent);
    m.importAll(m.blackout());
    expectStatus(m.dst.importCommit(m.dtd).status, TDX_STATUS.TDX_SUCCESS);
    GuestWriteSequence.replayInto(initial, options, workload.writes);
    expect(Buffer.from(m.dtd.memory).equals(initial)).to.equal(true);
  });

  it("lets the destination run only after commit, and the source never after it", () => {
    const m = new MigrationSession({ memoryPages: 32, vcpus: 1, streams: 1 });
    m.setup();
    const sent = [m.exportImmutable(), ...m.firstEpoch()];
    m.importAll(sent);
    expectStatus(m.dtd.guestWrite(0, Buffer.alloc(4, 1)), TDX_STATUS.TDX_OP_STATE_INCORRECT);
    m.importAll(m.blackout());
    expectStatus(m.dtd.guestWrite(0, Buffer.alloc(4, 1)), TDX_STATUS.TDX_OP_STATE_INCORRECT); // post-import, not committed
    expectStatus(m.dst.importCommit(m.dtd).status, TDX_STATUS.TDX_SUCCESS);
    expectStatus(m.dtd.guestWrite(0, Buffer.alloc(4, 1)), TDX_STATUS.TDX_SUCCESS);

    // After commit there is no abort token to be had, so the source cannot resume.
    expectStatus(m.dst.importAbort(m.dtd, m.d[0]!).status, TDX_STATUS.TDX_OP_STATE_INCORRECT);
    expectStatus(m.src.exportAbort(m.td, m.s[0]!).status, TDX_STATUS.TDX_ABORT_TOKEN_REQUIRED);
    expectStatus(m.src.exportRestore(m.td).status, TDX_STATUS.TDX_OP_STATE_INCORRECT);
    expectStatus(m.td.guestWrite(0, Buffer.alloc(4, 1)), TDX_STATUS.TDX_OP_STATE_INCORRECT);
    expectStatus(m.src.teardown(m.td).status, TDX_STATUS.TDX_SUCCESS);
    expect(m.td.opState).to.equal(OP_STATE.TORN_DOWN);
    expectStatus(m.src.exportRestore(m.td).status, TDX_STATUS.TDX_LIFECYCLE_STATE_INCORRECT);
    expectStatus(m.src.exportAbort(m.td, m.s[0]!).status, TDX_STATUS.TDX_LIFECYCLE_STATE_INCORRECT);
    // Torn down, the TD's memory is released without being written (no leaf reads or writes it any more).
    expectStatus(m.td.guestWrite(0, Buffer.alloc(4, 1)), TDX_STATUS.TDX_LIFECYCLE_STATE_INCORRECT);

    expectStatus(m.dst.importEnd(m.dtd).status, TDX_STATUS.TDX_SUCCESS);
    expect(m.dtd.lifecycle).to.deep.equal({ kind: "running", afterImport: true, restorePending: false });
    expect(m.dtd.migrationKeySet).to.equal(false);
  });

  it("lets the source resume after the start token only with the destination's abort token", () => {
    const m = new MigrationSession({ memoryPages: 32, vcpus: 1, streams: 1 });
    m.setup();
    const before = tdMemoryDigest(m.td);
    m.importAll([m.exportImmutable(), ...m.firstEpoch()]);
    m.importAll(m.blackout());
    const token = m.dst.importAbort(m.dtd, m.d[0]!);
    expectStatus(token.status, TDX_STATUS.TDX_SUCCESS);
    expect(m.dtd.lifecycle.kind).to.equal("import-failed");
    expectStatus(m.dst.importCommit(m.dtd).status, TDX_STATUS.TDX_OP_STATE_INCORRECT);

    const forged = Buffer.from(token.bundle!);
    forged[40]! ^= 1;
    expectStatus(m.src.exportAbort(m.td, m.s[0]!, { abortToken: forged }).status, TDX_STATUS.TDX_INCORRECT_MBMD_MAC);
    expect(m.td.lifecycle.kind).to.equal("exported");
    expectStatus(m.src.exportAbort(m.td, m.s[0]!, { abortToken: token.bundle! }).status, TDX_STATUS.TDX_SUCCESS);
    expectStatus(m.src.exportAbort(m.td, m.s[0]!, { abortToken: token.bundle! }).status, TDX_STATUS.TDX_OP_STATE_INCORRECT);
    expect(m.td.lifecycle).to.deep.equal({ kind: "running", afterImport: false, restorePending: true });
    expectStatus(m.src.exportRestore(m.td).status, TDX_STATUS.TDX_SUCCESS);
    expect(tdMemoryDigest(m.td).equals(before)).to.equal(true);
    expectStatus(m.td.guestWrite(PAGE_SIZE, Buffer.alloc(8, 9)), TDX_STATUS.TDX_SUCCESS);
  });

  it("migrates again after an aborted attempt, the IV counters continuing where they were", () => {
    const m = new MigrationSession({ memoryPages: 32, vcpus: 1, streams: 1 });
    m.setup();
    const first = [m.exportImmutable(), ...m.firstEpoch()];
    const lastIv = peekMbmdHeader(first.at(-1)!.bundle)!.ivCounter;
    expectStatus(m.src.exportAbort(m.td, m.s[0]!).status, TDX_STATUS.TDX_SUCCESS);
    expectStatus(m.src.exportRestore(m.td).status, TDX_STATUS.TDX_SUCCESS);

    const retry = m.destination.createImportTd({ memoryBytes: m.td.memoryBytes, numVcpus: 1 });
    expectStatus(m.dst.setMigrationKey(retry, m.key, 1).status, TDX_STATUS.TDX_SUCCESS);
    const d0 = m.dst.streamCreate(retry, 0).stream!;
    const imm = m.src.exportStateImmutable(m.td, m.s[0]!);
    expectStatus(imm.status, TDX_STATUS.TDX_SUCCESS);
    const header = peekMbmdHeader(imm.bundle!)!;
    expect(header.mbCounter).to.equal(0);
    expect(header.ivCounter > lastIv).to.equal(true);
    expectStatus(m.dst.importBundle(retry, d0, imm.bundle!).status, TDX_STATUS.TDX_SUCCESS);
    m.src.exportBlockwAll(m.td);
    for (let p = 0; p < m.td.memoryPages; p += 16) {
      const r = m.src.exportMem(m.td, m.s[0]!, Array.from({ length: 16 }, (_, i) => (p + i) * PAGE_SIZE));
      expectStatus(m.dst.importBundle(retry, d0, r.bundle!).status, TDX_STATUS.TDX_SUCCESS);
    }
    expectStatus(m.src.exportPause(m.td).status, TDX_STATUS.TDX_SUCCESS);
    for (const r of [m.src.exportStateTd(m.td, m.s[0]!), m.src.exportStateVp(m.td, m.s[0]!, 0), m.src.exportTrack(m.td, m.s[0]!, { start: true })]) {
      expectStatus(m.dst.importBundle(retry, d0, r.bundle!).status, TDX_STATUS.TDX_SUCCESS);
    }
    expectStatus(m.dst.importCommit(retry).status, TDX_STATUS.TDX_SUCCESS);
    expect(tdStateDigest(retry).equals(tdStateDigest(m.td))).to.equal(true);
  });
});
