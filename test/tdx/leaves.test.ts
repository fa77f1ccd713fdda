import { expect } from "chai";
import {
  isSuccess,
  LEAF,
  leafName,
  MAX_MIGS,
  MB_TYPE,
  PAGE_SIZE,
  peekMbmdHeader,
  statusClass,
  statusName,
  TDX_STATUS,
} from "../../orchestrator/tdx/index.js";
import { expectStatus, MigrationSession } from "./harness.js";

describe("TDX status codes", () => {
  it("are all distinct, with Intel's class values in bits 63:32", () => {
    const values = Object.values(TDX_STATUS);
    expect(new Set(values).size).to.equal(values.length);
    expect(TDX_STATUS.TDX_INVALID_MBMD).to.equal(0xc0000e0000000000n);
    expect(TDX_STATUS.TDX_INCORRECT_MBMD_MAC).to.equal(0xc0000e0100000000n);
    expect(TDX_STATUS.TDX_MIGRATION_DECRYPTION_KEY_NOT_SET).to.equal(0xc0000e0800000000n);
    expect(statusClass(TDX_STATUS.TDX_INVALID_MBMD_RESERVED)).to.equal(TDX_STATUS.TDX_INVALID_MBMD);
  });

  it("name themselves, and tell errors from warnings", () => {
    expect(statusName(TDX_STATUS.TDX_INVALID_MBMD_MB_COUNTER_REPLAYED)).to.equal("TDX_INVALID_MBMD_MB_COUNTER_REPLAYED");
    expect(statusName(TDX_STATUS.TDX_INVALID_MBMD | 0x77n)).to.equal("TDX_INVALID_MBMD+0x77");
    expect(isSuccess(TDX_STATUS.TDX_SUCCESS)).to.equal(true);
    expect(isSuccess(TDX_STATUS.TDX_ALREADY_WRITE_BLOCKED)).to.equal(true);
    expect(isSuccess(TDX_STATUS.TDX_INVALID_PAGE_MAC)).to.equal(false);
  });
});

describe("SEAMCALL leaves", () => {
  it("use Intel's leaf numbers, and the model's TDH.MIG.INITIATE lies outside Intel's range", () => {
    expect(LEAF["TDH.EXPORT.MEM"]).to.equal(68);
    expect(LEAF["TDH.IMPORT.COMMIT"]).to.equal(82);
    expect(LEAF["TDH.MIG.STREAM.CREATE"]).to.equal(96);
    expect(LEAF["TDH.MIG.INITIATE"]).to.be.greaterThan(0xff);
    expect(leafName(74)).to.equal("TDH.EXPORT.STATE.VP");
    expect(new Set(Object.values(LEAF)).size).to.equal(Object.keys(LEAF).length);
  });

  it("run by number through seamcall(), and an unknown leaf is TDX_OPERAND_INVALID", () => {
    const m = new MigrationSession({ memoryPages: 16, vcpus: 1, streams: 1 });
    m.setup();
    const imm = m.src.seamcall(LEAF["TDH.EXPORT.STATE.IMMUTABLE"], { td: m.td, stream: m.s[0]! }) as { status: bigint; bundle?: Buffer };
    expectStatus(imm.status, TDX_STATUS.TDX_SUCCESS);
    expect(peekMbmdHeader(imm.bundle!)!.mbType).to.equal(MB_TYPE.IMMUTABLE_TD_STATE);
    expectStatus(m.dst.seamcall(LEAF["TDH.IMPORT.STATE.IMMUTABLE"], { td: m.dtd, stream: m.d[0]!, bundle: imm.bundle! }).status, TDX_STATUS.TDX_SUCCESS);
    expectStatus(m.src.seamcall(LEAF["TDH.EXPORT.BLOCKW"], { td: m.td, gpas: [0] }).status, TDX_STATUS.TDX_SUCCESS);
    const mem = m.src.seamcall(LEAF["TDH.EXPORT.MEM"], { td: m.td, stream: m.s[0]!, gpas: [0] }) as { status: bigint; bundle?: Buffer };
    expectStatus(mem.status, TDX_STATUS.TDX_SUCCESS);
    expectStatus(m.dst.seamcall(LEAF["TDH.IMPORT.MEM"], { td: m.dtd, stream: m.d[0]!, bundle: mem.bundle! }).status, TDX_STATUS.TDX_SUCCESS);
    expectStatus(m.src.seamcall(LEAF["TDH.EXPORT.PAUSE"], { td: m.td }).status, TDX_STATUS.TDX_SUCCESS);
    expectStatus(m.src.seamcall(999, { td: m.td }).status, TDX_STATUS.TDX_OPERAND_INVALID);
    expect(() => m.src.seamcall(LEAF["TDH.EXPORT.STATE.TD"], { td: m.td })).to.throw(/needs a stream/);
  });

  describe("TDH.MIG.STREAM.CREATE", () => {
    it("creates each stream once, up to MAX_MIGS", () => {
      const m = new MigrationSession({ memoryPages: 16, vcpus: 1 });
      expectStatus(m.src.streamCreate(m.td, 0).status, TDX_STATUS.TDX_SUCCESS);
      expectStatus(m.src.streamCreate(m.td, 0).status, TDX_STATUS.TDX_MIGRATION_STREAM_STATE_INCORRECT);
      expectStatus(m.src.streamCreate(m.td, MAX_MIGS).status, TDX_STATUS.TDX_MAX_MIGS_NUM_EXCEEDED);
      expectStatus(m.src.streamCreate(m.td, -1).status, TDX_STATUS.TDX_MIGS_INDEX_INVALID);
    });

    it("a stream of another TD, or one never created, is refused", () => {
      const m = new MigrationSession({ memoryPages: 16, vcpus: 1, streams: 1 });
      m.setup();
      expectStatus(m.src.exportStateImmutable(m.td, m.d[0]!).status, TDX_STATUS.TDX_MIGS_INDEX_INVALID);
      expectStatus(m.src.exportStateImmutable(m.td, { tdId: m.td.id, migsIndex: 5 }).status, TDX_STATUS.TDX_MIGRATION_STREAM_STATE_INCORRECT);
    });
  });

  describe("export leaves in the wrong state", () => {
    it("need an export session", () => {
      const m = new MigrationSession({ memoryPages: 16, vcpus: 1, streams: 1 });
      m.setup();
      const s = m.s[0]!;
      for (const status of [
        m.src.exportBlockw(m.td, [0]).status,
        m.src.exportMem(m.td, s, [0]).status,
        m.src.exportPause(m.td).status,
        m.src.exportStateTd(m.td, s).status,
        m.src.exportStateVp(m.td, s, 0).status,
        m.src.exportTrack(m.td, s).status,
        m.src.exportUnblockw(m.td, 0).status,
        m.src.exportAbort(m.td, s).status,
      ]) {
        expectStatus(status, TDX_STATUS.TDX_OP_STATE_INCORRECT);
      }
    });

    it("order the blackout: PAUSE, then STATE.TD, then STATE.VP per vCPU, then the start token", () => {
      const m = new MigrationSession({ memoryPages: 16, vcpus: 2, streams: 1 });
      m.setup();
      const s = m.s[0]!;
      m.exportImmutable();
      m.firstEpoch();
      expectStatus(m.src.exportTrack(m.td, s, { start: true }).status, TDX_STATUS.TDX_OP_STATE_INCORRECT);
      expectStatus(m.src.exportStateTd(m.td, s).status, TDX_STATUS.TDX_OP_STATE_INCORRECT);
      expectStatus(m.src.exportPause(m.td).status, TDX_STATUS.TDX_SUCCESS);
      expectStatus(m.src.exportPause(m.td).status, TDX_STATUS.TDX_OP_STATE_INCORRECT);
      expectStatus(m.src.exportStateVp(m.td, s, 0).status, TDX_STATUS.TDX_OP_STATE_INCORRECT);
      expectStatus(m.src.exportTrack(m.td, s, { start: true }).status, TDX_STATUS.TDX_OP_STATE_INCORRECT);
      expectStatus(m.src.exportStateTd(m.td, s).status, TDX_STATUS.TDX_SUCCESS);
      expectStatus(m.src.exportStateTd(m.td, s).status, TDX_STATUS.TDX_OP_STATE_INCORRECT);
      expectStatus(m.src.exportStateVp(m.td, s, 2).status, TDX_STATUS.TDX_VP_INDEX_INVALID);
      expectStatus(m.src.exportStateVp(m.td, s, 1).status, TDX_STATUS.TDX_SUCCESS);
      expectStatus(m.src.exportStateVp(m.td, s, 1).status, TDX_STATUS.TDX_VCPU_ALREADY_EXPORTED);
      expectStatus(m.src.exportTrack(m.td, s, { start: true }).status, TDX_STATUS.TDX_SOME_VCPUS_NOT_MIGRATED);
      expectStatus(m.src.exportStateVp(m.td, s, 0).status, TDX_STATUS.TDX_SUCCESS);
      expectStatus(m.src.exportTrack(m.td, s, { start: true }).status, TDX_STATUS.TDX_SUCCESS);
      expect(m.td.lifecycle.kind).to.equal("exported");
      expectStatus(m.src.exportMem(m.td, s, [0]).status, TDX_STATUS.TDX_OP_STATE_INCORRECT);
      expectStatus(m.src.exportTrack(m.td, s).status, TDX_STATUS.TDX_OP_STATE_INCORRECT);
    });

    it("the key cannot change during a session", () => {
      const m = new MigrationSession({ memoryPages: 16, vcpus: 1, streams: 1 });
      m.setup();
      m.exportImmutable();
      expectStatus(m.src.setMigrationKey(m.td, m.key, 1).status, TDX_STATUS.TDX_OP_STATE_INCORRECT);
    });
  });

  describe("import leaves in the wrong state", () => {
    it("need the immutable state first, and a running TD cannot be imported into", () => {
      const m = new MigrationSession({ memoryPages: 16, vcpus: 1, streams: 1 });
      m.setup();
      const imm = m.exportImmutable();
      const d = m.d[0]!;
      expectStatus(m.dst.importStateTd(m.dtd, d, imm.bundle).status, TDX_STATUS.TDX_OP_STATE_INCORRECT);
      expectStatus(m.dst.importTrack(m.dtd, d, imm.bundle).status, TDX_STATUS.TDX_OP_STATE_INCORRECT);
      expectStatus(m.dst.importCommit(m.dtd).status, TDX_STATUS.TDX_OP_STATE_INCORRECT);
      expectStatus(m.dst.importEnd(m.dtd).status, TDX_STATUS.TDX_OP_STATE_INCORRECT);
      expectStatus(m.src.importStateImmutable(m.td, m.s[0]!, imm.bundle).status, TDX_STATUS.TDX_OP_STATE_INCORRECT);
    });

    it("catch a replayed vCPU state by its counter", () => {
      const m = new MigrationSession({ memoryPages: 16, vcpus: 2, streams: 1 });
      m.setup();
      m.importAll([m.exportImmutable(), ...m.firstEpoch()]);
      const blackout = m.blackout();
      const vps = blackout.filter((x) => peekMbmdHeader(x.bundle)!.mbType === MB_TYPE.MUTABLE_VCPU_STATE);
      m.importAll(blackout.slice(0, blackout.indexOf(vps[0]!) + 1));
      expectStatus(m.importOne(vps[0]!), TDX_STATUS.TDX_INVALID_MBMD_MB_COUNTER_REPLAYED);
    });
  });

  describe("teardown", () => {
    it("is refused during an export session, and final afterwards", () => {
      const m = new MigrationSession({ memoryPages: 16, vcpus: 1, streams: 1 });
      m.setup();
      m.exportImmutable();
      expectStatus(m.src.teardown(m.td).status, TDX_STATUS.TDX_OP_STATE_INCORRECT);
      m.src.exportAbort(m.td, m.s[0]!);
      expectStatus(m.src.teardown(m.td).status, TDX_STATUS.TDX_SUCCESS);
      expectStatus(m.src.teardown(m.td).status, TDX_STATUS.TDX_LIFECYCLE_STATE_INCORRECT);
      expectStatus(m.td.guestWrite(0, Buffer.alloc(PAGE_SIZE / 2)), TDX_STATUS.TDX_LIFECYCLE_STATE_INCORRECT);
      expect(m.td.lifecycle.kind).to.equal("torn-down");
    });
  });
});
