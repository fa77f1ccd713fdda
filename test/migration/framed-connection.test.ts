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
    const frameBytes = 64 * 1024;
    let sent = 0;
    let blocked = false;
    // Send until a send() does not complete within a few event-loop turns: the kernel buffers and the receiver's
    // queue are full and the receiver paused its socket.
    for (let i = 0; i < 2000 && !blocked; i++) {
      const pending = sender.send(FRAME_TYPE.BUNDLE, Buffer.alloc(frameBytes, i & 0xff));
      const settled = await Promise.race([pending.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 50))]);
      if (settled) sent++;
      else {
        blocked = true;
        expect(receiver.isReadingPaused).to.equal(true);
        // The receiver queued no more than its high-water mark plus what one read can bring.
        expect(receiver.queuedBytes).to.be.at.most(highWaterBytes + 2 * 1024 * 1024);
        // Reading everything releases the sender.
        let received = 0;
        const drainAll = (async () => {
          for (;;) {
            await receiver.receive();
            received++;
            if (received === sent + 1) return;
          }
        })();
        await pending;
        await drainAll;
        expect(received).to.equal(sent + 1);
        expect(receiver.isReadingPaused).to.equal(false);
      }
    }
    expect(blocked, "the sender was never held back").to.equal(true);
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
