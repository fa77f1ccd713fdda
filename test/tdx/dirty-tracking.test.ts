import { expect } from "chai";
import { PAGE_FLAG, PAGE_SIZE, TDX_STATUS } from "../../orchestrator/tdx/index.js";
import { expectStatus, MigrationSession } from "./harness.js";

function started(pages = 16): MigrationSession {
  const m = new MigrationSession({ memoryPages: pages, vcpus: 1, streams: 1 });
  m.setup();
  m.exportImmutable();
  return m;
}

describe("dirty-page tracking", () => {
  it("write-blocks pages, and a guest write to a blocked page unblocks it, marks it dirty and logs it once", () => {
    const m = started();
    const r = m.src.exportBlockw(m.td, [0, PAGE_SIZE, 2 * PAGE_SIZE]);
    expectStatus(r.status, TDX_STATUS.TDX_SUCCESS);
    expect(r.blocked).to.equal(3);
    expect(m.td.pageFlags[1]! & PAGE_FLAG.BLOCKED).to.equal(PAGE_FLAG.BLOCKED);
    expectStatus(m.td.guestWrite(PAGE_SIZE + 10, Buffer.from([1, 2, 3])), TDX_STATUS.TDX_SUCCESS);
    expectStatus(m.td.guestWrite(PAGE_SIZE + 20, Buffer.from([4])), TDX_STATUS.TDX_SUCCESS);
    expect(m.td.pageFlags[1]! & (PAGE_FLAG.BLOCKED | PAGE_FLAG.DIRTY)).to.equal(PAGE_FLAG.DIRTY);
    expect(m.td.dirtyLogLength).to.equal(1);
    expect(Array.from(m.td.drainDirtyLog())).to.deep.equal([PAGE_SIZE]);
    expect(m.td.dirtyLogLength).to.equal(0);
    expect(m.td.readMemory(PAGE_SIZE + 10, 3).toString("hex")).to.equal("010203");
  });

  it("a write spanning two blocked pages dirties both", () => {
    const m = started();
    m.src.exportBlockwAll(m.td);
    expectStatus(m.td.guestWrite(3 * PAGE_SIZE - 2, Buffer.alloc(4, 7)), TDX_STATUS.TDX_SUCCESS);
    expect(Array.from(m.td.drainDirtyLog())).to.deep.equal([2 * PAGE_SIZE, 3 * PAGE_SIZE]);
  });

  it("blocking an already blocked page is a warning, not an error", () => {
    const m = started();
    m.src.exportBlockw(m.td, [0]);
    const again = m.src.exportBlockw(m.td, [0]);
    expectStatus(again.status, TDX_STATUS.TDX_ALREADY_WRITE_BLOCKED);
    expect(again.blocked).to.equal(0);
  });

  it("exports a page once per epoch; a dirty page is exportable again in the next epoch", () => {
    const m = started();
    m.src.exportBlockw(m.td, [0]);
    expectStatus(m.src.exportMem(m.td, m.s[0]!, [0]).status, TDX_STATUS.TDX_SUCCESS);
    expectStatus(m.src.exportMem(m.td, m.s[0]!, [0]).status, TDX_STATUS.TDX_MIGRATED_IN_CURRENT_EPOCH);
    m.td.guestWrite(0, Buffer.from([9]));
    expect(m.td.pendingExportPages.dirty).to.equal(1);
    expect(Array.from(m.td.drainDirtyLog())).to.deep.equal([0]);
    m.src.exportBlockw(m.td, [0]);
    expectStatus(m.src.exportMem(m.td, m.s[0]!, [0]).status, TDX_STATUS.TDX_MIGRATED_IN_CURRENT_EPOCH);
    m.track();
    const r = m.src.exportMem(m.td, m.s[0]!, [0]);
    expectStatus(r.status, TDX_STATUS.TDX_SUCCESS);
    expect(r.pages).to.equal(1);
    expect(m.td.pendingExportPages.dirty).to.equal(0);
  });

  it("refuses a page that was never write-blocked: TDX_NOT_WRITE_BLOCKED", () => {
    const m = started();
    expectStatus(m.src.exportMem(m.td, m.s[0]!, [PAGE_SIZE]).status, TDX_STATUS.TDX_NOT_WRITE_BLOCKED);
  });

  it("leaves out a page the guest wrote after BLOCKW (it is on the dirty log for the next epoch)", () => {
    const m = started();
    m.src.exportBlockw(m.td, [0, PAGE_SIZE]);
    m.td.guestWrite(PAGE_SIZE, Buffer.from([1]));
    const r = m.src.exportMem(m.td, m.s[0]!, [0, PAGE_SIZE]);
    expectStatus(r.status, TDX_STATUS.TDX_SUCCESS);
    expect(r.pages).to.equal(1);
    expect(r.skipped).to.equal(1);
    expect(Array.from(m.td.drainDirtyLog())).to.deep.equal([PAGE_SIZE]);
  });

  it("refuses a malformed GPA list without changing anything", () => {
    const m = started();
    expectStatus(m.src.exportBlockw(m.td, [0, 100]).status, TDX_STATUS.TDX_GPA_LIST_ENTRY_INVALID);
    expectStatus(m.src.exportBlockw(m.td, [16 * PAGE_SIZE]).status, TDX_STATUS.TDX_GPA_LIST_ENTRY_INVALID);
    expect(m.td.pageFlags[0]).to.equal(0);
    m.src.exportBlockw(m.td, [0]);
    expectStatus(m.src.exportMem(m.td, m.s[0]!, [0, 1]).status, TDX_STATUS.TDX_GPA_LIST_ENTRY_INVALID);
    expectStatus(m.src.exportMem(m.td, m.s[0]!, []).status, TDX_STATUS.TDX_GPA_LIST_TOO_LONG);
    expectStatus(m.src.exportMem(m.td, m.s[0]!, new Array(513).fill(0)).status, TDX_STATUS.TDX_GPA_LIST_TOO_LONG);
    expect(m.td.pageFlags[0]! & PAGE_FLAG.EXPORTED).to.equal(0);
  });

  it("TDH.EXPORT.UNBLOCKW unblocks and dirties a page, and fails on an unblocked one", () => {
    const m = started();
    m.src.exportBlockw(m.td, [0]);
    expectStatus(m.src.exportUnblockw(m.td, 0).status, TDX_STATUS.TDX_SUCCESS);
    expect(m.td.pageFlags[0]! & (PAGE_FLAG.BLOCKED | PAGE_FLAG.DIRTY)).to.equal(PAGE_FLAG.DIRTY);
    expectStatus(m.src.exportUnblockw(m.td, 0).status, TDX_STATUS.TDX_NOT_WRITE_BLOCKED);
  });

  it("refuses the start token while dirty or never-exported pages remain, counting without a scan", () => {
    const m = started(8);
    m.src.exportBlockwAll(m.td);
    m.exportPages([0, PAGE_SIZE, 2 * PAGE_SIZE, 3 * PAGE_SIZE]);
    expect(m.td.pendingExportPages).to.deep.equal({ dirty: 0, notExported: 4 });
    m.exportPages([4, 5, 6, 7].map((p) => p * PAGE_SIZE));
    m.td.guestWrite(0, Buffer.from([1]));
    expect(m.td.pendingExportPages).to.deep.equal({ dirty: 1, notExported: 0 });
    m.src.exportPause(m.td);
    m.src.exportStateTd(m.td, m.s[0]!);
    m.src.exportStateVp(m.td, m.s[0]!, 0);
    expectStatus(m.src.exportTrack(m.td, m.s[0]!, { start: true }).status, TDX_STATUS.TDX_EXPORTED_DIRTY_PAGES_REMAIN);
    m.track();
    m.dirtyEpoch();
    expectStatus(m.src.exportTrack(m.td, m.s[0]!, { start: true }).status, TDX_STATUS.TDX_SUCCESS);
  });

  it("the guest cannot write while paused, and the write path checks bounds", () => {
    const m = started();
    expectStatus(m.td.guestWrite(16 * PAGE_SIZE - 1, Buffer.alloc(2)), TDX_STATUS.TDX_OPERAND_ADDR_RANGE_ERROR);
    m.src.exportPause(m.td);
    expectStatus(m.td.guestWrite(0, Buffer.alloc(2)), TDX_STATUS.TDX_OP_STATE_INCORRECT);
    expectStatus(m.td.guestFill32(0, 8, 1), TDX_STATUS.TDX_OP_STATE_INCORRECT);
  });

  it("TDH.EXPORT.RESTORE after an abort clears every page's migration state", () => {
    const m = started();
    m.src.exportBlockwAll(m.td);
    m.exportPages([0, PAGE_SIZE]);
    m.td.guestWrite(0, Buffer.from([1]));
    expectStatus(m.src.exportRestore(m.td).status, TDX_STATUS.TDX_OP_STATE_INCORRECT);
    expectStatus(m.src.exportAbort(m.td, m.s[0]!).status, TDX_STATUS.TDX_SUCCESS);
    // Export needs cleanup first.
    expectStatus(m.src.exportStateImmutable(m.td, m.s[0]!).status, TDX_STATUS.TDX_PREVIOUS_EXPORT_CLEANUP_INCOMPLETE);
    expectStatus(m.src.exportRestore(m.td).status, TDX_STATUS.TDX_SUCCESS);
    expect(m.td.pageFlags.every((f) => f === 0)).to.equal(true);
    expect(m.td.dirtyLogLength).to.equal(0);
    expectStatus(m.src.exportStateImmutable(m.td, m.s[0]!).status, TDX_STATUS.TDX_SUCCESS);
  });
});
