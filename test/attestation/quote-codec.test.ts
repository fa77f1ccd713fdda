import { expect } from "chai";
import { createHash } from "node:crypto";
import {
  decodeQuote,
  encodeTdQuoteBody,
  decodeTdQuoteBody,
  QuoteParseError,
  parseCertificateChain,
} from "../../orchestrator/attestation/index.js";
import { staticTdReport, defaultPlatformConfig } from "../../orchestrator/attestation-issuer/index.js";
import { createBench, type AttestationBench } from "./platforms.js";

/**
 * An independent reader written from Intel's "TDX DCAP Quoting Library API" appendix A.3 (quote v4),
 * with literal offsets: it must read our quotes the way any standard TDX quote parser does.
 */
function readLikeIntel(q: Buffer) {
  const sigLen = q.readUInt32LE(632);
  const sig = q.subarray(636, 636 + sigLen);
  const certType = sig.readUInt16LE(128);
  const certSize = sig.readUInt32LE(130);
  const qeCert = sig.subarray(134, 134 + certSize);
  const authLen = qeCert.readUInt16LE(448);
  const inner = qeCert.subarray(450 + authLen);
  return {
    version: q.readUInt16LE(0),
    attKeyType: q.readUInt16LE(2),
    teeType: q.readUInt32LE(4),
    qeVendorId: q.subarray(12, 28).toString("hex"),
    teeTcbSvn: q.subarray(48, 64).toString("hex"),
    mrSeam: q.subarray(64, 112).toString("hex"),
    tdAttributes: q.subarray(168, 176).toString("hex"),
    xfam: q.subarray(176, 184).toString("hex"),
    mrTd: q.subarray(184, 232).toString("hex"),
    rtmr0: q.subarray(376, 424).toString("hex"),
    rtmr3: q.subarray(520, 568).toString("hex"),
    reportData: q.subarray(568, 632).toString("hex"),
    totalLength: 636 + sigLen,
    certType,
    qeReportData: qeCert.subarray(320, 384),
    attestationKey: sig.subarray(64, 128),
    authData: qeCert.subarray(450, 450 + authLen),
    innerType: inner.readUInt16LE(0),
    innerSize: inner.readUInt32LE(2),
    pem: inner.subarray(6).toString("utf8"),
  };
}

describe("TDX quote v4 codec", () => {
  let bench: AttestationBench;
  let quote: Buffer;
  before(async () => {
    bench = await createBench();
    quote = await bench.quote({}, Buffer.alloc(64, 0x5a));
  });

  it("lays the quote out byte for byte as Intel's v4 format", () => {
    const cfg = defaultPlatformConfig();
    const r = readLikeIntel(quote);
    expect(r.version).to.equal(4);
    expect(r.attKeyType).to.equal(2);
    expect(r.teeType).to.equal(0x81);
    expect(r.qeVendorId).to.equal("939a7233f79c4ca9940a0db3957f0607");
    expect(r.teeTcbSvn).to.equal(cfg.td.teeTcbSvn);
    expect(r.mrSeam).to.equal(cfg.td.mrSeam);
    expect(r.tdAttributes).to.equal(cfg.td.tdAttributes);
    expect(r.xfam).to.equal(cfg.td.xfam);
    expect(r.mrTd).to.equal(cfg.td.mrTd);
    expect(r.rtmr0).to.equal(cfg.td.rtmr[0]);
    expect(r.rtmr3).to.equal(cfg.td.rtmr[3]);
    expect(r.reportData).to.equal("5a".repeat(64));
    expect(r.totalLength).to.equal(quote.length);
    expect(r.certType).to.equal(6);
    expect(r.innerType).to.equal(5);
    expect(r.innerSize).to.equal(r.pem.length);
    expect(parseCertificateChain(r.pem)).to.have.length(3);
    // The QE report binds the attestation key: SHA-256(key || auth data) || 32 zero bytes.
    const bound = createHash("sha256").update(r.attestationKey).update(r.authData).digest();
    expect(r.qeReportData.subarray(0, 32)).to.deep.equal(bound);
    expect(r.qeReportData.subarray(32)).to.deep.equal(Buffer.alloc(32));
  });

  it("decodes every field it encoded", () => {
    const q = decodeQuote(quote);
    const expected = staticTdReport(defaultPlatformConfig(), Buffer.alloc(64, 0x5a));
    expect(q.body).to.deep.equal(expected);
    expect(q.header.version).to.equal(4);
    expect(q.signedBytes).to.deep.equal(quote.subarray(0, 632));
    expect(q.signatureData.qeReport.isvProdId).to.equal(2);
  });

  it("round-trips a TD quote body of 584 bytes", () => {
    const body = staticTdReport(defaultPlatformConfig(), Buffer.alloc(64, 1));
    const bytes = encodeTdQuoteBody(body);
    expect(bytes).to.have.length(584);
    expect(decodeTdQuoteBody(bytes)).to.deep.equal(body);
  });

  const mutate = (at: number, write: (b: Buffer) => void) => () => {
    const b = Buffer.from(quote);
    write(b);
    return b;
  };
  const cases: [string, () => Buffer, string][] = [
    ["a wrong version", mutate(0, (b) => b.writeUInt16LE(5, 0)), "header.version"],
    ["an attestation key type other than ECDSA P-256", mutate(2, (b) => b.writeUInt16LE(3, 2)), "header.attestationKeyType"],
    ["an SGX TEE type", mutate(4, (b) => b.writeUInt32LE(0, 4)), "header.teeType"],
    ["a signature data length that disagrees with the size", mutate(632, (b) => b.writeUInt32LE(b.readUInt32LE(632) + 1, 632)), "signatureDataLength"],
    ["a certification data type other than 6", mutate(764, (b) => b.writeUInt16LE(5, 764)), "certificationData.type"],
  ];
  for (const [what, make, field] of cases) {
    it(`rejects ${what} with a parse error naming ${field}`, () => {
      expect(() => decodeQuote(make())).to.throw(QuoteParseError).with.property("details").that.has.property("field", field);
    });
  }

  it("rejects a truncated quote", () => {
    for (const n of [0, 47, 48, 631, 636, 700, quote.length - 1]) {
      expect(() => decodeQuote(quote.subarray(0, n)), `length ${n}`).to.throw(QuoteParseError);
    }
  });

  it("rejects a quote larger than the accepted bound", () => {
    expect(() => decodeQuote(Buffer.alloc(65 * 1024))).to.throw(QuoteParseError, /more than/);
  });
});
