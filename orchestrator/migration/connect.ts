/** Opening the TCP connections of a session, and the CHALLENGE / HELLO / HELLO_ACK exchange on each. */
import { connect as netConnect } from "node:net";
import type { Socket } from "node:net";
import { ConnectionClosedError, ProtocolError } from "./errors.js";
import { FRAME_TYPE, frameTypeName } from "./frame.js";
import type { Frame } from "./frame.js";
import { FramedConnection, frameJson } from "./framed-connection.js";
import { decodeChallenge } from "./control-messages.js";
import type { UnsignedStreamHello } from "./control-messages.js";
import { signHello } from "./hello-auth.js";

export interface PeerAddress {
  host: string;
  port: number;
}

/** Opens one TCP connection; rejects with ConnectionClosedError when refused, timed out or aborted. */
export function openSocket(peer: PeerAddress, timeoutMs: number, signal?: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: peer.host, port: peer.port });
    const timer = setTimeout(() => finish(new ConnectionClosedError({ peer, reason: "connect timed out", timeoutMs })), timeoutMs);
    const onAbort = (): void => finish(new ConnectionClosedError({ peer, reason: "aborted" }, signal?.reason));
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("connect", () => finish());
    socket.once("error", (err) => finish(new ConnectionClosedError({ peer, reason: err.message }, err)));
    function finish(err?: Error): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      socket.removeAllListeners("connect");
      socket.removeAllListeners("error");
      if (err) {
        socket.destroy();
        reject(err);
      } else resolve(socket);
    }
  });
}

/**
 * Waits for the destination's CHALLENGE, answers with HELLO signed under the session key, and returns the first frame
 * of the answer (HELLO_ACK, REJECT, ABORT_TOKEN or COMMITTED: the caller decides). A REJECT in place of the challenge
 * (e.g. the listener is closing) is returned as the answer.
 */
export async function sendHello(conn: FramedConnection, hello: UnsignedStreamHello, key: Uint8Array): Promise<Frame> {
  const first = await conn.receive();
  if (first.type === FRAME_TYPE.REJECT) return first;
  if (first.type !== FRAME_TYPE.CHALLENGE) throw new ProtocolError("the destination's first frame must be CHALLENGE", { got: frameTypeName(first.type) });
  const { nonce } = decodeChallenge(frameJson(first));
  await conn.sendJson(FRAME_TYPE.HELLO, signHello(key, Buffer.from(nonce, "hex"), hello));
  return conn.receive();
}

/** Reads the first frame of a fresh incoming connection, which must be HELLO. */
export async function expectHello(conn: FramedConnection): Promise<unknown> {
  const frame = await conn.receive();
  if (frame.type !== FRAME_TYPE.HELLO) throw new ProtocolError("the first frame must be HELLO", { got: frameTypeName(frame.type) });
  return frameJson(frame);
}
