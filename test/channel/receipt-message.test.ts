import { expect } from "chai";
import {
  ChannelError,
  encodeMessage,
  ENVELOPE_HEADER_SIZE,
  EnvelopeDecoder,
  MESSAGE_TYPE,
  MIGRATION_RECEIPT_VERSION,
  validateMessage,
  type ChannelMessage,
} from "../../orchestrator/channel/index.js";
import { SAMPLES } from "./samples.js";

const RECEIPT = SAMPLES.MIGRATION_RECEIPT;

function envelope(type: number, payload: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(payload));
  const header = Buffer.alloc(6);
  header.writeUInt8(1, 0);
  header.writeUInt8(type, 1);
  header.writeUInt32BE(body.length, 2);
  return Buffer.concat([header, body]);
}

function decodeOne(bytes: Buffer): { message: ChannelMessage } | { error: ChannelError } {
  const results = new EnvelopeDecoder().push(bytes);
  expect(results).to.have.length(1);
  return results[0]!;
}

describe("channel MIGRATION_RECEIPT message", () => {
  it("has its own wire type and format version", () => {
    expect(MESSAGE_TYPE.MIGRATION_RECEIPT).to.equal(52);
    expect(MIGRATION_RECEIPT_VERSION).to.equal(1);
    const bytes = encodeMessage(RECEIPT);
    expect(bytes.readUInt8(1)).to.equal(52);
    expect(decodeOne(bytes)).to.deep.equal({ message: RECEIPT });
  });

  it("accepts the largest allocation id a uint64 holds, an upper-case hex signature and a checksummed signer", () => {
    const ok = { ...RECEIPT, allocationId: ((1n << 64n) - 1n).toString(), signature: `0x${"AB".repeat(64)}1C`, signer: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed" };
    expect(validateMessage("MIGRATION_RECEIPT", ok)).to.deep.equal(ok);
    // Every field is bounded: this is the largest receipt there is (docs/attestation.md gives the figure).
    expect(encodeMessage(ok).length - ENVELOPE_HEADER_SIZE).to.equal(522);
  });

  const malformed: [field: string, value: unknown, rule: RegExp][] = [
    ["version", 2, /version must be 1/],
    ["version", "1", /version must be 1/],
    ["migrationId", `0x${"ab".repeat(31)}`, /migrationId must be 32 bytes/],
    ["migrationId", "ab".repeat(32), /migrationId must be 0x-prefixed hex/],
    ["allocationId", 3, /allocationId must be a decimal string/],
    ["allocationId", "-3", /allocationId must be a decimal string/],
    ["allocationId", "0x03", /allocationId must be a decimal string/],
    ["allocationId", "", /allocationId must be a decimal string/],
    ["allocationId", (1n << 64n).toString(), /allocationId must fit in uint64/],
    ["allocationId", "9".repeat(79), /allocationId must be a decimal string/],
    ["tvmId", `0x${"12".repeat(33)}`, /tvmId must be 32 bytes/],
    ["tvmId", `0x${"zz".repeat(32)}`, /tvmId must be 0x-prefixed hex/],
    ["stateDigest", `0x${"13".repeat(48)}`, /stateDigest must be 32 bytes/],
    ["stateDigest", null, /stateDigest must be 0x-prefixed hex/],
    ["signature", `0x${"14".repeat(64)}`, /signature must be 65 bytes/],
    ["signature", `0x${"14".repeat(66)}`, /signature must be 65 bytes/],
    ["signature", `0x${"14".repeat(64)}01`, /signature must end in v = 27 or 28/],
    ["signature", `0x${"14".repeat(64)}1b0`, /signature must be 0x-prefixed hex/],
    ["signer", `0x${"15".repeat(19)}`, /signer must be an address/],
    ["signer", `0x${"15".repeat(32)}`, /signer must be an address/],
    ["signer", undefined, /signer must be an address/],
  ];
  for (const [field, value, rule] of malformed) {
    it(`refuses ${field} = ${JSON.stringify(value) ?? "(missing)"}, on its own and on the wire`, () => {
      const bad: Record<string, unknown> = { ...RECEIPT, [field]: value };
      if (value === undefined) delete bad[field];
      expect(() => validateMessage("MIGRATION_RECEIPT", bad)).to.throw(ChannelError, rule).with.property("code", "CHANNEL_MALFORMED_MESSAGE");
      const out = decodeOne(envelope(MESSAGE_TYPE.MIGRATION_RECEIPT, bad));
      if (!("error" in out)) expect.fail("a malformed receipt decoded");
      expect(out.error.code).to.equal("CHANNEL_MALFORMED_MESSAGE");
      expect(out.error.fatal).to.equal(false);
      expect(out.error.details).to.have.property("field", `MIGRATION_RECEIPT.${field}`);
    });
  }

  it("refuses an extra field (the ADMISSION_TICKET form of a receipt does not pass as one)", () => {
    expect(() => validateMessage("MIGRATION_RECEIPT", { ...RECEIPT, auctionId: "7" })).to.throw(ChannelError, /MIGRATION_RECEIPT\.auctionId is not a field/);
    const ticketShaped = { type: "MIGRATION_RECEIPT", migrationId: RECEIPT.migrationId, auctionId: "7", ticket: { bytes: "0x", signature: RECEIPT.signature } };
    expect(() => validateMessage("MIGRATION_RECEIPT", ticketShaped)).to.throw(ChannelError, /is not a field/);
  });

  it("refuses a receipt sent under another wire type, and a receipt-typed payload of another message", () => {
    const asTicket = decodeOne(envelope(MESSAGE_TYPE.ADMISSION_TICKET, RECEIPT));
    expect("error" in asTicket && asTicket.error.message).to.match(/type must be ADMISSION_TICKET/);
    const doneAsReceipt = decodeOne(envelope(MESSAGE_TYPE.MIGRATION_RECEIPT, SAMPLES.MIGRATION_DONE));
    expect("error" in doneAsReceipt && doneAsReceipt.error.message).to.match(/type must be MIGRATION_RECEIPT/);
  });

  it("still refuses unknown wire types next to it, and decodes what follows", () => {
    const decoder = new EnvelopeDecoder();
    const results = decoder.push(Buffer.concat([envelope(53, RECEIPT), envelope(MESSAGE_TYPE.INVALID, RECEIPT), encodeMessage(RECEIPT)]));
    expect(results).to.have.length(3);
    for (const r of results.slice(0, 2)) {
      if (!("error" in r)) expect.fail("an unknown type decoded");
      expect(r.error.code).to.equal("CHANNEL_UNKNOWN_MESSAGE");
      expect(r.error.fatal).to.equal(false);
    }
    expect(results[2]).to.deep.equal({ message: RECEIPT });
  });
});
