import { expect } from "chai";
import { ProtocolError } from "../../orchestrator/migration/errors.js";
import { decodeAbortToken, decodeEpochMark, decodeHello, ENGINE_PROTOCOL, negotiateVersion } from "../../orchestrator/migration/control-messages.js";

describe("engine protocol", () => {
  describe("version negotiation", () => {
    const rows: Array<[string, { min: number; max: number }, { min: number; max: number }, number | undefined]> = [
      ["picks the highest common version", { min: 1, max: 3 }, { min: 2, max: 5 }, 3],
      ["accepts a single shared version", { min: 1, max: 1 }, { min: 1, max: 1 }, 1],
      ["finds none when the peer is newer only", { min: 1, max: 1 }, { min: 2, max: 2 }, undefined],
      ["finds none when the peer is older only", { min: 3, max: 4 }, { min: 1, max: 2 }, undefined],
    ];
    for (const [name, local, peer, expected] of rows) {
      it(name, () => expect(negotiateVersion(local, peer)).to.equal(expected));
    }
  });

  const hello = { protocol: ENGINE_PROTOCOL, migrationId: "0123456789abcdef0123456789abcdef", streamIndex: 1, streamCount: 2, recover: false, migVersion: 1, memoryBytes: 1 << 20, numVcpus: 2, mac: "ab".repeat(32) };

  it("decodes a valid HELLO", () => {
    expect(decodeHello(JSON.parse(JSON.stringify(hello)))).to.deep.equal(hello);
  });

  const bad: Array<[string, unknown]> = [
    ["a HELLO that is not an object", [1]],
    ["a HELLO with a malformed migration id", { ...hello, migrationId: "xyz" }],
    ["a HELLO whose stream index is out of range", { ...hello, streamIndex: 2 }],
    ["a HELLO without a protocol range", { ...hello, protocol: undefined }],
    ["a HELLO with a fractional stream count", { ...hello, streamCount: 1.5 }],
    ["a HELLO without the recover flag", { ...hello, recover: "no" }],
    ["a HELLO with a memory size below one page", { ...hello, memoryBytes: 100 }],
    ["a HELLO without a vCPU", { ...hello, numVcpus: 0 }],
    ["a HELLO without a MAC", { ...hello, mac: undefined }],
    ["a HELLO with a short MAC", { ...hello, mac: "ab".repeat(31) }],
  ];
  for (const [name, value] of bad) {
    it(`rejects ${name}`, () => expect(() => decodeHello(value)).to.throw(ProtocolError));
  }

  it("rejects an EPOCH_MARK with a negative epoch and an ABORT_TOKEN without a status", () => {
    expect(() => decodeEpochMark({ epoch: -1 })).to.throw(ProtocolError);
    expect(() => decodeAbortToken({ statusName: "x", leaf: "y", message: "z", token: "" })).to.throw(ProtocolError);
  });
});
