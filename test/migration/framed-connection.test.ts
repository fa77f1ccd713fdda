import { expect } from "chai";
import { once } from "node:events";
import { createServer } from "node:net";
import type { AddressInfo, Server, Socket } from "node:net";
import { connect } from "node:net";
import { ConnectionClosedError, FrameTooLargeError } from "../../orchestrator/migration/errors.js";
import { FRAME_TYPE } from "../../orchestrator/migration/frame.js";
import { FramedConnection } from "../../orchestrator/migration/framed-connection.js";

async function socketPair(): Promise<{ client: Socket; server: Socket; listener: Server }> {
  const listener = createServer();
  listener.listen(0, "127.0.0.1");
  await once(listener, "listening");
  const accepted = once(listener, "connection");
  const client = connect((listener.address() as AddressInfo).port, "127.0.0.1");
  await once(client, "connect");
  const [server] = (await accepted) as [Socket];
  return { client, server, listener };
}

describe("framed TCP connection", () => {
  let listener: Server | undefined;
  afterEach(() => listener?.close());

  it("delivers frames in order over loopback", async () => {
    const pair = await socketPair();
    listener = pair.listener;
    const a = new FramedConnection(pair.client);
    const b = new FramedConnection(pair.server);
    for (let i = 0; i < 50; i++) await a.send(FRAME_TYPE.BUNDLE, Buffer.alloc(1000 + i, i));
    for (let i = 0; i < 50; i++) {
      const frame = await b.receive();
      expect(frame.payload.length).to.equal(1000 + i);
      expect(frame.payload[0]).to.equal(i);
    }
    a.destroy();
    b.destroy();
  });

  it("applies backpressure: a sender waits while the receiver does not read, and resumes when it does", async () => {
    const pair = await socketPair();
    listener = pair.listener;
    const highWaterBytes = 256 * 1024;
    const sender = new FramedConnection(pair.client);
    const receiver = new FramedConnection(pair.server, { highWaterBytes });
    const pending: Promise<void>[] = [];
    let completed = 0;
    // Send without reading until the receiver has paused its socket and the sender's socket needs a drain.
    for (let i = 0; i < 4000 && !(receiver.isReadingPaused && pair.client.writableNeedDrain); i++) {
      pending.push(sender.send(FRAME_TYPE.BUNDLE, Buffer.alloc(64 * 1024, i & 0xff)).then(() => void completed++));
      await new Promise((r) => setImmediate(r));
    }
    expect(receiver.isReadingPaused, "the receiver stopped reading").to.equal(true);
    expect(pair.client.writableNeedDrain, "the sender's socket is full").to.equal(true);
    expect(completed, "the last send waits for 'drain'").to.be.lessThan(pending.length);
    // The receiver queued no more than its high-water mark plus what one read can bring.
    expect(receiver.queuedBytes).to.be.at.most(highWaterBytes + 2 * 1024 * 1024);
    // Reading everything releases every send, in order.
    for (let i = 0; i < pending.length; i++) {
      const frame = await receiver.receive();
      expect(frame.payload[0]).to.equal(i & 0xff);
    }
    await Promise.all(pending);
    expect(completed).to.equal(pending.length);
    expect(receiver.isReadingPaused).to.equal(false);
    sender.destroy();
    receiver.destroy();
  });

  it("rejects a pending receive when the peer resets the connection", async () => {
    const pair = await socketPair();
    listener = pair.listener;
    const a = new FramedConnection(pair.client);
    const b = new FramedConnection(pair.server);
    const pending = b.receive();
    a.destroy();
    let error: unknown;
    try {
      await pending;
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(ConnectionClosedError);
    let sendError: unknown;
    await b.closed;
    try {
      await b.send(FRAME_TYPE.READY);
    } catch (err) {
      sendError = err;
    }
    expect(sendError).to.be.instanceOf(ConnectionClosedError);
  });

  it("drops the connection on an oversized frame and reports why", async () => {
    const pair = await socketPair();
    listener = pair.listener;
    const receiver = new FramedConnection(pair.server, { maxFrameBytes: 1024 });
    const header = Buffer.alloc(5);
    header.writeUInt32LE(10 * 1024 * 1024, 0);
    header.writeUInt8(FRAME_TYPE.BUNDLE, 4);
    pair.client.write(header);
    let error: unknown;
    try {
      await receiver.receive();
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(FrameTooLargeError);
    await once(pair.client, "close");
  });

  it("still delivers the frames that arrived before the peer closed", async () => {
    const pair = await socketPair();
    listener = pair.listener;
    const a = new FramedConnection(pair.client);
    const b = new FramedConnection(pair.server);
    await a.send(FRAME_TYPE.COMMITTED, Buffer.from("x"));
    a.end();
    await b.closed;
    const frame = await b.receive();
    expect(frame.type).to.equal(FRAME_TYPE.COMMITTED);
    let error: unknown;
    try {
      await b.receive();
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(ConnectionClosedError);
  });
});
