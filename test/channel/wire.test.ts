import { expect } from "chai";
import {
  ChannelError,
  encodeMessage,
  EnvelopeDecoder,
  MESSAGE_TYPE,
  validateMessage,
  type ChannelMessage,
  type MessageTypeName,
} from "../../orchestrator/channel/index.js";
import { MIGRATION_ID, SAMPLES } from "./samples.js";

function envelope(type: number, payload: string | Buffer, version = 1, length?: number): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload;
  const header = Buffer.alloc(6);
  header.writeUInt8(version, 0);
  header.writeUInt8(type, 1);
  header.writeUInt32BE(length ?? body.length, 2);
  return Buffer.concat([header, body]);
}

function errorOf(results: ReturnType<EnvelopeDecoder["push"]>): ChannelError {
  expect(results).to.have.length(1);
  const r = results[0]!;
  if (!("error" in r)) expect.fail("expected an error");
  return r.error;
}

describe("channel wire envelope", () => {
  it("round-trips every message type", () => {
    const decoder = new EnvelopeDecoder();
    for (const sample of Object.values(SAMPLES) as ChannelMessage[]) {
      const results = decoder.push(encodeMessage(sample));
      expect(results).to.deep.equal([{ message: sample }]);
    }
  });

  it("reassembles envelopes split across chunks and several in one chunk", () => {
    const a = encodeMessage(SAMPLES.SESSION_OFFER);
    const b = encodeMessage(SAMPLES.SESSION_CONFIRM);
    const all = Buffer.concat([a, b]);
    const decoder = new EnvelopeDecoder();
    const out: unknown[] = [];
    for (let i = 0; i < all.length; i += 5) out.push(...decoder.push(all.subarray(i, i + 5)));
    expect(out).to.deep.equal([{ message: SAMPLES.SESSION_OFFER }, { message: SAMPLES.SESSION_CONFIRM }]);
    expect(new EnvelopeDecoder().push(all)).to.have.length(2);
  });

  it("skips an unknown message type with a non-fatal error and decodes what follows", () => {
    const decoder = new EnvelopeDecoder();
    const results = decoder.push(Buffer.concat([envelope(99, "{}"), encodeMessage(SAMPLES.SESSION_CONFIRM)]));
    const err = (results[0] as { error: ChannelError }).error;
    expect(err.code).to.equal("CHANNEL_UNKNOWN_MESSAGE");
    expect(err.fatal).to.equal(false);
    expect(results[1]).to.deep.equal({ message: SAMPLES.SESSION_CONFIRM });
  });

  it("refuses the retired type 52 (MIGRATION_RECEIPT before engine protocol v3) as unknown, without ending the stream", () => {
    const decoder = new EnvelopeDecoder();
    const results = decoder.push(Buffer.concat([envelope(52, JSON.stringify({ type: "MIGRATION_RECEIPT", version: 1 })), encodeMessage(SAMPLES.SESSION_CONFIRM)]));
    const err = (results[0] as { error: ChannelError }).error;
    expect([err.code, err.fatal, err.details]).to.deep.equal(["CHANNEL_UNKNOWN_MESSAGE", false, { typeCode: 52 }]);
    expect(results[1]).to.deep.equal({ message: SAMPLES.SESSION_CONFIRM });
  });

  it("refuses the retired types 48, 49 and 51 (MIGRATION_START, _PROGRESS, _DONE, never sent) as unknown, without ending the stream", () => {
    const retired: [number, string][] = [[48, "MIGRATION_START"], [49, "MIGRATION_PROGRESS"], [51, "MIGRATION_DONE"]];
    for (const [code, name] of retired) {
      const results = new EnvelopeDecoder().push(Buffer.concat([envelope(code, JSON.stringify({ type: name, migrationId: SAMPLES.SESSION_CONFIRM.migrationId })), encodeMessage(SAMPLES.SESSION_CONFIRM)]));
      const err = (results[0] as { error: ChannelError }).error;
      expect([err.code, err.fatal, err.details], name).to.deep.equal(["CHANNEL_UNKNOWN_MESSAGE", false, { typeCode: code }]);
      expect(results[1]).to.deep.equal({ message: SAMPLES.SESSION_CONFIRM });
    }
  });

  it("treats type 0 as invalid", () => {
    expect(errorOf(new EnvelopeDecoder().push(envelope(MESSAGE_TYPE.INVALID, "{}"))).code).to.equal("CHANNEL_UNKNOWN_MESSAGE");
  });

  it("rejects a payload that is not JSON, or not UTF-8, without ending the stream", () => {
    const decoder = new EnvelopeDecoder();
    expect(errorOf(decoder.push(envelope(MESSAGE_TYPE.BID_NOTICE, "{not json"))).code).to.equal("CHANNEL_MALFORMED_MESSAGE");
    expect(errorOf(decoder.push(envelope(MESSAGE_TYPE.BID_NOTICE, Buffer.from([0xff, 0xfe])))).code).to.equal("CHANNEL_MALFORMED_MESSAGE");
    expect(decoder.push(encodeMessage(SAMPLES.BID_NOTICE))).to.deep.equal([{ message: SAMPLES.BID_NOTICE }]);
  });

  it("rejects a payload whose type field disagrees with the wire type", () => {
    const err = errorOf(new EnvelopeDecoder().push(envelope(MESSAGE_TYPE.SESSION_CONFIRM, JSON.stringify(SAMPLES.SESSION_OFFER))));
    expect(err.message).to.match(/type/);
  });

  it("ends the stream on a bad envelope version", () => {
    const decoder = new EnvelopeDecoder();
    expect(() => decoder.push(envelope(MESSAGE_TYPE.HELLO, "{}", 2))).to.throw(ChannelError).with.property("code", "CHANNEL_BAD_VERSION");
    expect(() => decoder.push(encodeMessage(SAMPLES.HELLO))).to.throw(ChannelError, /already failed/);
  });

  it("ends the stream on an oversized length before buffering the payload", () => {
    const decoder = new EnvelopeDecoder(1024);
    const err = (() => {
      try {
        decoder.push(envelope(MESSAGE_TYPE.ACK, "", 1, 1025));
      } catch (e) {
        return e as ChannelError;
      }
      return expect.fail("expected a throw");
    })();
    expect(err.code).to.equal("CHANNEL_MESSAGE_TOO_LARGE");
    expect(err.fatal).to.equal(true);
    expect(err.details).to.include({ length: 1025, maxPayload: 1024 });
  });

  it("survives random byte streams: only decoded messages, non-fatal errors, or a fatal ChannelError", () => {
    let x = 0x1234567;
    const rnd = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 0x100000000);
    for (let i = 0; i < 500; i++) {
      const decoder = new EnvelopeDecoder(4096);
      const chunks = Array.from({ length: 1 + Math.floor(rnd() * 5) }, () => {
        const b = Buffer.alloc(Math.floor(rnd() * 300));
        for (let j = 0; j < b.length; j++) b[j] = Math.floor(rnd() * 256);
        if (b.length > 6 && rnd() < 0.7) {
          b[0] = 1; // a valid version, so the decoder goes deeper
          b.writeUInt32BE(Math.floor(rnd() * (b.length - 6)), 2);
        }
        return b;
      });
      try {
        for (const c of chunks) for (const r of decoder.push(c)) if ("error" in r) expect(r.error).to.be.instanceOf(ChannelError);
      } catch (err) {
        expect(err, `stream #${i}`).to.be.instanceOf(ChannelError);
        expect((err as ChannelError).fatal).to.equal(true);
      }
    }
  });

  it("refuses to send a message over the limit", () => {
    expect(() => encodeMessage(SAMPLES.ACK, 1000)).to.throw(ChannelError).with.property("code", "CHANNEL_MESSAGE_TOO_LARGE");
  });
});

describe("channel message validation", () => {
  for (const [type, sample] of Object.entries(SAMPLES) as [MessageTypeName, ChannelMessage][]) {
    it(`${type}: accepts the sample, refuses a missing field and an extra field`, () => {
      expect(validateMessage(type, sample)).to.deep.equal(sample);
      const [firstField] = Object.keys(sample).filter((k) => k !== "type");
      const missing: Record<string, unknown> = { ...sample };
      delete missing[firstField!];
      expect(() => validateMessage(type, missing)).to.throw(ChannelError, new RegExp(firstField!));
      expect(() => validateMessage(type, { ...sample, smuggled: 1 })).to.throw(ChannelError, /smuggled/);
    });
  }

  it("names the field and the rule that a bad value breaks", () => {
    const bad = { ...SAMPLES.BID_NOTICE, commitment: "0x1234" };
    expect(() => validateMessage("BID_NOTICE", bad)).to.throw(/BID_NOTICE\.commitment must be 32 bytes/);
    expect(() => validateMessage("MIGRATION_ABORT", { ...SAMPLES.MIGRATION_ABORT, resultCode: -1 })).to.throw(/resultCode/);
    expect(() => validateMessage("MIGRATION_REQUEST", { ...SAMPLES.MIGRATION_REQUEST, migrationVersions: { min: 3, max: 1 } })).to.throw(/min > max/);
    expect(() => validateMessage("MIGRATION_REQUEST", { ...SAMPLES.MIGRATION_REQUEST, tcbCapability: { minTeeTcbSvn: "zz" } })).to.throw(/tcbCapability/);
    expect(() => validateMessage("ACK", { ...SAMPLES.ACK, migrationId: MIGRATION_ID.slice(0, 10) })).to.throw(/migrationId/);
    expect(() => validateMessage("HELLO", [])).to.throw(/object/);
  });
});
