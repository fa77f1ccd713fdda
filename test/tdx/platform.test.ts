import { createHash } from "node:crypto";
import { expect } from "chai";
import {
  ATTRIBUTES,
  MrtdBuilder,
  PAGE_SIZE,
  Platform,
  TD_REPORT_FIELD_SIZES,
  TdxLeafFailedError,
  TDX_STATUS,
  XFAM,
  xsaveSize,
} from "../../orchestrator/tdx/index.js";
import { expectStatus } from "./harness.js";

describe("Platform", () => {
  it("has a TCB (16-byte TEE_TCB_SVN with the module SVN in bytes 0..1, PCE SVN, 6-byte FMSPC) and an MRSEAM", () => {
    const p = new Platform({ moduleVersion: { major: 1, minor: 5 }, pceSvn: 11, fmspc: Buffer.from("00906ed50000", "hex") });
    expect(p.info.teeTcbSvn.length).to.equal(16);
    expect(p.info.teeTcbSvn[0]).to.equal(5);
    expect(p.info.teeTcbSvn[1]).to.equal(1);
    expect(p.info.pceSvn).to.equal(11);
    expect(p.info.fmspc.toString("hex")).to.equal("00906ed50000");
    expect(p.info.mrSeam.length).to.equal(48);
    expect(p.info.migrationVersions).to.deep.equal({ exportMin: 0, exportMax: 1, importMin: 0, importMax: 1 });
    expect(() => new Platform({ fmspc: Buffer.alloc(5) })).to.throw(/FMSPC/);
    expect(() => new Platform({ migrationVersions: { exportMin: 2, exportMax: 1 } })).to.throw(/min <= max/);
  });

  it("has an ECDSA P-256 attestation key pair", () => {
    const p = new Platform();
    expect(p.attestationKey.privateKey.asymmetricKeyType).to.equal("ec");
    expect(p.attestationKey.publicKey.asymmetricKeyDetails?.namedCurve).to.equal("prime256v1");
  });

  it("creates TDs only with ATTRIBUTES and XFAM it supports", () => {
    const p = new Platform({ supportedAttributes: ATTRIBUTES.MIGRATABLE, supportedXfam: XFAM.X87 | XFAM.SSE | XFAM.AVX });
    const attr = (): unknown => p.createTd({ memoryBytes: 4 * PAGE_SIZE, attributes: ATTRIBUTES.MIGRATABLE | ATTRIBUTES.DEBUG });
    expect(attr).to.throw(TdxLeafFailedError);
    try {
      attr();
    } catch (err) {
      expectStatus((err as TdxLeafFailedError).status, TDX_STATUS.TDX_TD_ATTRIBUTES_UNSUPPORTED);
    }
    expect(() => p.createTd({ memoryBytes: 4 * PAGE_SIZE, xfam: XFAM.X87 | XFAM.SSE | XFAM.OPMASK })).to.throw(/TDX_TD_XFAM_UNSUPPORTED/);
    expect(() => p.createTd({ memoryBytes: 4 * PAGE_SIZE, xfam: XFAM.X87 })).to.throw(/TDX_TD_XFAM_UNSUPPORTED/);
    expect(() => p.createTd({ memoryBytes: 4000 })).to.throw(/multiple of 4 KiB/);
    expect(() => p.createTd({ memoryBytes: 4 * PAGE_SIZE, numVcpus: 0 })).to.throw(/vCPUs/);
  });

  it("measures the initial image into MRTD as PAGE.ADD + MR.EXTEND records, and only the image", () => {
    const p = new Platform();
    const image = Buffer.alloc(PAGE_SIZE, 0x42);
    const a = p.createTd({ memoryBytes: 8 * PAGE_SIZE, image: [{ gpa: PAGE_SIZE, data: image }] });
    const b = p.createTd({ memoryBytes: 16 * PAGE_SIZE, image: [{ gpa: PAGE_SIZE, data: image }] });
    const c = p.createTd({ memoryBytes: 8 * PAGE_SIZE, image: [{ gpa: PAGE_SIZE, data: Buffer.alloc(PAGE_SIZE, 0x43) }] });
    expect(a.config.mrTd.equals(b.config.mrTd)).to.equal(true);
    expect(a.config.mrTd.equals(c.config.mrTd)).to.equal(false);
    // The same measurement computed independently from the record format.
    const h = createHash("sha384");
    const rec = (tag: string, gpa: number): Buffer => {
      const r = Buffer.alloc(128);
      r.write(tag, 0, "ascii");
      r.writeBigUInt64LE(BigInt(gpa), 16);
      return r;
    };
    h.update(rec("MEM.PAGE.ADD", PAGE_SIZE));
    for (let off = 0; off < PAGE_SIZE; off += 256) h.update(rec("MR.EXTEND", PAGE_SIZE + off)).update(image.subarray(off, off + 256));
    expect(a.config.mrTd.equals(h.digest())).to.equal(true);
    expect(a.readMemory(PAGE_SIZE, 4).toString("hex")).to.equal("42424242");
    const m = new MrtdBuilder();
    expect(m.finalize().equals(createHash("sha384").digest())).to.equal(true);
  });

  it("initialises vCPUs and sizes their XSAVE area from XFAM", () => {
    const p = new Platform();
    const td = p.createTd({ memoryBytes: 4 * PAGE_SIZE, numVcpus: 2, xfam: XFAM.X87 | XFAM.SSE | XFAM.AVX | XFAM.AMX_TILECFG | XFAM.AMX_TILEDATA });
    expect(td.getReg(1, "rip")).to.equal(0xfffffff0n);
    expect(td.getReg(1, "r8")).to.equal(1n);
    expect(td.xsave(0).length).to.equal(11008);
    expect(xsaveSize(XFAM.X87 | XFAM.SSE)).to.equal(576);
    expect(xsaveSize(XFAM.X87 | XFAM.SSE | XFAM.AVX)).to.equal(832);
    expect(xsaveSize(XFAM.X87 | XFAM.SSE | XFAM.AVX | XFAM.OPMASK | XFAM.ZMM_HI256 | XFAM.HI16_ZMM)).to.equal(2688);
    expect(td.xsave(0).readUInt32LE(24)).to.equal(0x1f80);
    expect(() => td.getReg(2, "rip")).to.throw(/no such vCPU/);
  });

  it("extends RTMRs as SHA-384(RTMR || data)", () => {
    const p = new Platform();
    const td = p.createTd({ memoryBytes: 4 * PAGE_SIZE });
    const data = Buffer.alloc(48, 7);
    expectStatus(td.extendRtmr(1, data), TDX_STATUS.TDX_SUCCESS);
    expect(td.rtmr(1).equals(createHash("sha384").update(Buffer.alloc(48)).update(data).digest())).to.equal(true);
    expectStatus(td.extendRtmr(1, Buffer.alloc(47)), TDX_STATUS.TDX_OPERAND_INVALID);
  });

  it("produces a TD report body for a running TD", () => {
    const p = new Platform();
    const td = p.createTd({ memoryBytes: 4 * PAGE_SIZE, attributes: ATTRIBUTES.MIGRATABLE | ATTRIBUTES.DEBUG, mrOwner: Buffer.alloc(48, 9) });
    td.extendRtmr(3, Buffer.alloc(48, 1));
    const report = p.tdReport(td, Buffer.alloc(64, 0xee));
    for (const [field, size] of Object.entries(TD_REPORT_FIELD_SIZES)) {
      if (field === "rtmr") for (const r of report.rtmr) expect(r.length).to.equal(size);
      else expect((report as unknown as Record<string, Buffer>)[field]!.length, field).to.equal(size);
    }
    expect(report.tdAttributes.readBigUInt64LE()).to.equal(ATTRIBUTES.MIGRATABLE | ATTRIBUTES.DEBUG);
    expect(report.mrTd.equals(td.config.mrTd)).to.equal(true);
    expect(report.mrOwner.equals(Buffer.alloc(48, 9))).to.equal(true);
    expect(report.rtmr[3].equals(td.rtmr(3))).to.equal(true);
    expect(report.teeTcbSvn.equals(p.info.teeTcbSvn)).to.equal(true);
    expect(() => p.tdReport(td, Buffer.alloc(32))).to.throw(/64 bytes/);
    p.module.teardown(td);
    expect(() => p.tdReport(td, Buffer.alloc(64))).to.throw(/TDG.MR.REPORT/);
  });
});
