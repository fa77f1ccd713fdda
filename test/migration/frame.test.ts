import { expect } from "chai";
import { FrameInvalidError, FrameTooLargeError } from "../../orchestrator/migration/errors.js";
import { encodeFrame, encodeFrameHeader, FRAME_HEADER_BYTES, FRAME_TYPE, FrameDecoder } from "../../orchestrator/migration/frame.js";

describe("migration framing", () => {
  const bundle = (n: number, fill: number): Buffer => Buffer.alloc(n, fill);

  it("decodes a frame delivered in one chunk", () => {
    const decoder = new FrameDecoder();
    const frames = decoder.push(encodeFrame(FRAME_TYPE.BUNDLE, bundle(100, 7)));
    expect(frames).to.have.length(1);
    expect(frames[0]!.type).to.equal(FRAME_TYPE.BUNDLE);
    expect(frames[0]!.payload.equals(bundle(100, 7))).to.equal(true);
    expect(decoder.bufferedBytes).to.equal(0);
  });

  it("reassembles a frame split into single bytes", () => {
    const wire = encodeFrame(FRAME_TYPE.BUNDLE, Buffer.from("split across many reads"));
    const decoder = new FrameDecoder();
    const frames = [];
    for (let i = 0; i < wire.length; i++) frames.push(...decoder.push(wire.subarray(i, i + 1)));
    expect(frames).to.have.length(1);
    expect(frames[0]!.payload.toString()).to.equal("split across many reads");
  });

  it("splits coalesced frames, including one cut in the middle of its header", () => {
    const a = encodeFrame(FRAME_TYPE.BUNDLE, bundle(10, 1));
    const b = encodeFrame(FRAME_TYPE.EPOCH_MARK, bundle(4, 2));
    const c = encodeFrame(FRAME_TYPE.READY, bundle(0, 0));
    const wire = Buffer.concat([a, b, c]);
    const cut = a.length + 2; // inside b's header
    const decoder = new FrameDecoder();
    const first = decoder.push(wire.subarray(0, cut));
    const rest = decoder.push(wire.subarray(cut));
    expect(first.map((f) => f.type)).to.deep.equal([FRAME_TYPE.BUNDLE]);
    expect(rest.map((f) => f.type)).to.deep.equal([FRAME_TYPE.EPOCH_MARK, FRAME_TYPE.READY]);
    expect(rest[0]!.payload.equals(bundle(4, 2))).to.equal(true);
    expect(rest[1]!.payload.length).to.equal(0);
  });

  it("gives every payload its own ArrayBuffer so it can be transferred to a worker", () => {
    const decoder = new FrameDecoder();
    const wire = Buffer.concat([encodeFrame(FRAME_TYPE.BUNDLE, bundle(5000, 3)), encodeFrame(FRAME_TYPE.BUNDLE, bundle(6000, 4))]);
    for (const frame of decoder.push(wire)) {
      expect(frame.payload.byteOffset).to.equal(0);
      expect(frame.payload.buffer.byteLength).to.equal(frame.payload.byteLength);
    }
  });

  it("rejects an oversized frame from its header, before buffering its body", () => {
    const decoder = new FrameDecoder(1024);
    const header = Buffer.alloc(FRAME_HEADER_BYTES);
    header.writeUInt32LE(1025, 0);
    header.writeUInt8(FRAME_TYPE.BUNDLE, 4);
    expect(() => decoder.push(header)).to.throw(FrameTooLargeError);
    // The decoder stays failed: the stream cannot be resynchronised.
    expect(() => decoder.push(encodeFrame(FRAME_TYPE.READY, Buffer.alloc(0)))).to.throw(FrameTooLargeError);
  });

  it("refuses to encode a frame above the maximum", () => {
    expect(() => encodeFrameHeader(FRAME_TYPE.BUNDLE, 2048, 1024)).to.throw(FrameTooLargeError);
  });

  it("rejects an unknown frame type and the reserved type 0", () => {
    const unknown = Buffer.from([1, 0, 0, 0, 200]);
    expect(() => new FrameDecoder().push(unknown)).to.throw(FrameInvalidError);
    const invalid = Buffer.from([1, 0, 0, 0, FRAME_TYPE.INVALID]);
    expect(() => new FrameDecoder().push(invalid)).to.throw(FrameInvalidError);
  });

  it("rejects a zero length", () => {
    expect(() => new FrameDecoder().push(Buffer.from([0, 0, 0, 0, FRAME_TYPE.BUNDLE]))).to.throw(FrameInvalidError);
  });
});
