import { expect } from "chai";
import { AttestationError, evaluateTcb, type TcbEvaluationInput, type TcbInfo } from "../../orchestrator/attestation/index.js";
import { defaultTcbInfo } from "../../orchestrator/attestation-issuer/index.js";
import { teeTcbSvn } from "./platforms.js";

const platform = (tee: string, over: Partial<TcbEvaluationInput> = {}): TcbEvaluationInput => ({
  sgxTcbComponents: [3, 3, 2, 2, 3, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0],
  pceSvn: 13,
  teeTcbSvn: Buffer.from(tee, "hex"),
  mrSignerSeam: Buffer.alloc(48),
  seamAttributes: Buffer.alloc(8),
  ...over,
});

describe("TCB evaluation (Intel TCB levels)", () => {
  const info = defaultTcbInfo();

  it("takes the status of the first level whose components are all met", () => {
    expect(evaluateTcb(info, platform(teeTcbSvn(3, 3))).status).to.equal("UpToDate");
    expect(evaluateTcb(info, platform(teeTcbSvn(3, 9))).status).to.equal("UpToDate");
    const sw = evaluateTcb(info, platform(teeTcbSvn(3, 2)));
    expect(sw).to.deep.include({ status: "SWHardeningNeeded", levelIndex: 1 });
    expect(sw.advisoryIds).to.deep.equal(["INTEL-SA-00960"]);
    expect(evaluateTcb(info, platform(teeTcbSvn(3, 1))).status).to.equal("OutOfDate");
    expect(evaluateTcb(info, platform(teeTcbSvn(3, 0))).status).to.equal("Revoked");
  });

  it("judges the TDX module by its identity: an out-of-date module makes the TCB OutOfDate", () => {
    const e = evaluateTcb(info, platform(teeTcbSvn(2, 3)));
    expect(e).to.deep.include({ status: "OutOfDate", platformStatus: "UpToDate", moduleStatus: "OutOfDate" });
    expect(evaluateTcb(info, platform(teeTcbSvn(1, 3))).status).to.equal("Revoked");
  });

  it("converges a Configuration* platform with an out-of-date module into OutOfDateConfigurationNeeded", () => {
    const cfg: TcbInfo = structuredClone(info);
    cfg.tcbLevels[0]!.tcbStatus = "ConfigurationNeeded";
    expect(evaluateTcb(cfg, platform(teeTcbSvn(2, 3))).status).to.equal("OutOfDateConfigurationNeeded");
    cfg.tcbLevels[0]!.tcbStatus = "ConfigurationAndSWHardeningNeeded";
    expect(evaluateTcb(cfg, platform(teeTcbSvn(3, 3))).status).to.equal("ConfigurationAndSWHardeningNeeded");
  });

  it("compares SGX components and the PCE SVN from the PCK certificate", () => {
    expect(() => evaluateTcb(info, platform(teeTcbSvn(3, 3), { pceSvn: 10 }))).to.throw(AttestationError).with.property("code", "ATTESTATION_TCB_NOT_SUPPORTED");
    const low = [1, 3, 2, 2, 3, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0];
    expect(() => evaluateTcb(info, platform(teeTcbSvn(3, 3), { sgxTcbComponents: low }))).to.throw(AttestationError, /no TCB level/);
  });

  it("refuses a module major version the TCB info does not know", () => {
    expect(() => evaluateTcb(info, platform(teeTcbSvn(3, 3, 2)))).to.throw(AttestationError, /TDX_02/);
  });

  it("refuses a module signed by another signer than the identity names", () => {
    expect(() => evaluateTcb(info, platform(teeTcbSvn(3, 3), { mrSignerSeam: Buffer.alloc(48, 1) })))
      .to.throw(AttestationError)
      .with.property("code", "ATTESTATION_TCB_INFO_MISMATCH");
  });

  it("with module major version 0 compares all 16 TDX components and the tdxModule signer", () => {
    const v0: TcbInfo = structuredClone(info);
    for (const level of v0.tcbLevels) level.tcb.tdxtcbcomponents[0]!.svn = 2;
    expect(evaluateTcb(v0, platform(teeTcbSvn(2, 3, 0))).status).to.equal("UpToDate");
    expect(() => evaluateTcb(v0, platform(teeTcbSvn(1, 3, 0)))).to.throw(AttestationError, /no TCB level/);
  });
});
