import { expect } from "chai";
import { AttestationError, decodePckExtension, encodePckExtension, type PckExtension } from "../../orchestrator/attestation/index.js";

describe("PCK certificate SGX extension", () => {
  const ext: PckExtension = {
    ppid: Buffer.alloc(16, 7),
    sgxTcbComponents: [3, 3, 2, 2, 3, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 255],
    pceSvn: 13,
    cpuSvn: Buffer.from([3, 3, 2, 2, 3, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 255]),
    pceId: Buffer.from("0000", "hex"),
    fmspc: Buffer.from("90c06f000000", "hex"),
    sgxType: 0,
  };

  it("round-trips FMSPC, PCE-ID, PPID and the TCB through DER", () => {
    expect(decodePckExtension(encodePckExtension(ext))).to.deep.equal(ext);
  });

  it("encodes the OIDs of Intel's PCK certificate profile", () => {
    const der = encodePckExtension(ext).toString("hex");
    // 1.2.840.113741.1.13.1.4 (FMSPC) = 06 0a 2a 86 48 86 f8 4d 01 0d 01 04
    expect(der).to.contain("060a2a864886f84d010d0104");
    // 1.2.840.113741.1.13.1.2.17 (PCESVN) = 06 0b 2a 86 48 86 f8 4d 01 0d 01 02 11
    expect(der).to.contain("060b2a864886f84d010d010211");
  });

  it("refuses bytes that are not the extension", () => {
    expect(() => decodePckExtension(Buffer.from("deadbeef", "hex"))).to.throw(AttestationError).with.property("code", "ATTESTATION_PCK_EXTENSION_INVALID");
    const noFmspc = encodePckExtension({ ...ext, fmspc: Buffer.alloc(5) });
    expect(() => decodePckExtension(noFmspc)).to.throw(/FMSPC must be 6 bytes/);
  });
});
