import { expect } from "chai";
import { openTdShared, PAGE_SIZE, Platform, TDX_STATUS, type TdSharedHandle } from "../../orchestrator/tdx/index.js";
import { expectStatus } from "./harness.js";

describe("TrustDomain shared handle", () => {
  it("survives structured cloning and reopens over the same memory and state", () => {
    const p = new Platform();
    const td = p.createTd({ memoryBytes: 8 * PAGE_SIZE, numVcpus: 2 });
    const clone = structuredClone(td.handle) as TdSharedHandle;
    const again = openTdShared(clone);
    expect(again.id).to.equal(td.id);
    expect(again.platform.teeTcbSvn.equals(p.info.teeTcbSvn)).to.equal(true); // Buffers restored after cloning
    expectStatus(again.guestWrite(PAGE_SIZE, Buffer.from("shared")), TDX_STATUS.TDX_SUCCESS);
    expect(td.readMemory(PAGE_SIZE, 6).toString()).to.equal("shared");
    again.setReg(1, "rsp", 0x7000n);
    expect(td.getReg(1, "rsp")).to.equal(0x7000n);
    expect(again.config.mrTd.equals(td.config.mrTd)).to.equal(true);
    p.module.teardown(td);
    expect(again.lifecycle.kind).to.equal("torn-down");
  });

  it("reuses a supplied memory buffer (zeroed) and refuses one of the wrong size", () => {
    const p = new Platform();
    const memory = new SharedArrayBuffer(4 * PAGE_SIZE);
    new Uint8Array(memory).fill(0xff);
    const td = p.createImportTd({ memoryBytes: 4 * PAGE_SIZE, numVcpus: 1, memory });
    expect(td.memory.buffer).to.equal(memory);
    expect(td.memory.every((b) => b === 0)).to.equal(true);
    expect(() => p.createImportTd({ memoryBytes: 8 * PAGE_SIZE, numVcpus: 1, memory })).to.throw(/does not match/);
    expect(() => td.config).to.throw(/no configuration yet/);
    expect(td.lifecycle).to.deep.equal({ kind: "importing", phase: "awaiting-immutable", epoch: 0 });
  });
});
