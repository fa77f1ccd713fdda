/**
 * Hostile channel clients, shared by the listener's unit tests (limits.test.ts) and the e2e test against real
 * host processes (test/e2e/hostile-channel-clients.test.ts). Each client binds to a loopback address of its
 * own (`localAddress`: Linux routes all of 127/8 to lo), so a test can play "one identity, many addresses" and
 * "one address" apart from the honest hosts, which connect from 127.0.0.1.
 */
import { randomBytes } from "node:crypto";
import { createServer as createNetServer, connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from "node:tls";
import type { ChannelIdentity } from "../../orchestrator/channel/index.js";

/** Opens TLS with `identity`'s certificate from `localAddress`, then says nothing; resolves once TLS is done (or the connection closed). */
export function stallAfterTls(port: number, identity: ChannelIdentity, localAddress: string): Promise<TLSSocket> {
  return new Promise((resolve) => {
    // node:tls passes `localAddress` on to net.connect; its types do not list it.
    const options: ConnectionOptions & { localAddress: string } = {
      host: "127.0.0.1",
      port,
      localAddress,
      key: identity.privateKeyPem,
      cert: identity.certificatePem,
      rejectUnauthorized: false,
      minVersion: "TLSv1.3",
    };
    const s = tlsConnect(options);
    s.on("error", () => undefined);
    s.resume();
    s.once("secureConnect", () => resolve(s));
    s.once("close", () => resolve(s));
  });
}

/** Opens a TCP connection from `localAddress` and sends `first` (default: nothing); resolves once connected (or closed). */
export function stallTcp(port: number, localAddress: string, first?: Buffer): Promise<Socket> {
  return new Promise((resolve) => {
    const s = netConnect({ host: "127.0.0.1", port, localAddress });
    s.on("error", () => undefined);
    // Reading is what lets a client see the server's close.
    s.resume();
    s.once("connect", () => {
      if (first) s.write(first);
      resolve(s);
    });
    s.once("close", () => resolve(s));
  });
}

/** A TCP connection from `localAddress` that sends `bytes` of garbage where a ClientHello belongs. */
export function garbageTcp(port: number, localAddress: string, bytes = 64): Promise<Socket> {
  return stallTcp(port, localAddress, randomBytes(bytes));
}

/** The first bytes a TLS client sends: a real ClientHello, captured from node:tls. */
export async function captureClientHello(): Promise<Buffer> {
  const sink = createNetServer();
  const captured = new Promise<Buffer>((resolve) =>
    sink.once("connection", (s) =>
      s.once("data", (d: Buffer) => {
        resolve(d);
        s.destroy();
      }),
    ),
  );
  await new Promise<void>((r) => sink.listen(0, "127.0.0.1", r));
  const port = (sink.address() as { port: number }).port;
  const client = tlsConnect({ host: "127.0.0.1", port, rejectUnauthorized: false, minVersion: "TLSv1.3" });
  client.on("error", () => undefined);
  const hello = await captured;
  client.destroy();
  sink.close();
  return hello;
}

export interface KeptOpen {
  /** Stops reopening and destroys the connections still open. */
  stop(): void;
  readonly sockets: ReadonlySet<Socket>;
  /** Connections opened so far (the renewals included). */
  readonly opened: number;
  /** When each connection that has closed was opened and closed (ms since the epoch). */
  readonly lifetimes: readonly { readonly openedAt: number; readonly closedAt: number }[];
}

/** Keeps `count` connections of `open()` alive: reopens each one `reopenMs` after the server closes it, until stopped. */
export function keepOpen(open: () => Promise<Socket>, count: number, reopenMs = 20): KeptOpen {
  let stopped = false;
  let opened = 0;
  const sockets = new Set<Socket>();
  const lifetimes: { openedAt: number; closedAt: number }[] = [];
  const again = (): void => void setTimeout(() => void one(), reopenMs);
  const one = async (): Promise<void> => {
    if (stopped) return;
    opened++;
    const openedAt = Date.now();
    const s = await open();
    if (stopped) {
      s.destroy();
      return;
    }
    sockets.add(s);
    let renewed = false;
    const renew = (): void => {
      if (renewed) return;
      renewed = true;
      lifetimes.push({ openedAt, closedAt: Date.now() });
      sockets.delete(s);
      again();
    };
    s.once("close", renew);
    // Closed before `open()` resolved: its "close" may already be past.
    if (s.destroyed) renew();
  };
  for (let i = 0; i < count; i++) void one();
  return {
    stop: () => {
      stopped = true;
      for (const s of sockets) s.destroy();
    },
    sockets,
    get opened() {
      return opened;
    },
    lifetimes,
  };
}
