/**
 * The channel's listening side: TLS 1.3 only, a client certificate requested (OpenSSL does not judge it:
 * `rejectUnauthorized: false`), then our own verification of every peer in `ChannelConnection.establish`.
 * A rejected peer is logged, told why, disconnected and reported through "rejected"; the server goes on
 * serving everyone else.
 */
import { EventEmitter } from "node:events";
import type { AddressInfo } from "node:net";
import { createServer, type Server, type TLSSocket } from "node:tls";
import { nullLogger, type Logger } from "../log/index.js";
import { ChannelConnection, ALPN_PROTOCOL } from "./connection.js";
import { ChannelError } from "./errors.js";
import type { ChannelIdentity, ChannelTrust } from "./evidence.js";

export interface ChannelServerOptions {
  readonly identity: ChannelIdentity;
  readonly trust: ChannelTrust;
  readonly logger?: Logger;
  readonly maxPayload?: number;
  readonly handshakeTimeoutMs?: number;
  /** Connections still being verified at once; more are refused at once (default 64). */
  readonly maxPendingHandshakes?: number;
}

export interface RejectedPeer {
  readonly error: Error;
  readonly remote: string;
}

/**
 * Events: "connection" (ChannelConnection, established and verified), "rejected" (RejectedPeer).
 */
export class ChannelServer extends EventEmitter {
  readonly #server: Server;
  readonly #connections = new Set<ChannelConnection>();
  /** TLS sockets whose peer is still being verified. */
  readonly #pending = new Set<TLSSocket>();
  readonly #log: Logger;

  private constructor(private readonly options: ChannelServerOptions) {
    super();
    this.#log = (options.logger ?? nullLogger).child({ component: "channel-server", host: options.identity.address });
    this.#server = createServer({
      key: options.identity.privateKeyPem,
      cert: options.identity.certificatePem,
      minVersion: "TLSv1.3",
      maxVersion: "TLSv1.3",
      requestCert: true,
      rejectUnauthorized: false,
      ALPNProtocols: [ALPN_PROTOCOL],
    });
    this.#server.on("secureConnection", (socket: TLSSocket) => void this.#accept(socket));
    this.#server.on("tlsClientError", (err, socket) => this.#reject(new ChannelError("CHANNEL_HANDSHAKE", `TLS handshake failed: ${err.message}`, { cause: err }), socket));
  }

  /** Starts listening (port 0 picks a free port; read it from `port`). */
  static async listen(options: ChannelServerOptions & { port?: number; host?: string }): Promise<ChannelServer> {
    const server = new ChannelServer(options);
    await new Promise<void>((resolve, reject) => {
      server.#server.once("error", reject);
      server.#server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
        server.#server.off("error", reject);
        resolve();
      });
    });
    server.#log.info("listening", { port: server.port });
    return server;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  get connections(): ReadonlySet<ChannelConnection> {
    return this.#connections;
  }

  async #accept(socket: TLSSocket): Promise<void> {
    const limit = this.options.maxPendingHandshakes ?? 64;
    if (this.#pending.size >= limit) {
      this.#reject(new ChannelError("CHANNEL_HANDSHAKE", `more than ${limit} connections are being verified`, { details: { limit } }), socket);
      return;
    }
    this.#pending.add(socket);
    try {
      const conn = await ChannelConnection.establish(socket, "server", {
        identity: this.options.identity,
        trust: this.options.trust,
        logger: this.options.logger,
        maxPayload: this.options.maxPayload,
        handshakeTimeoutMs: this.options.handshakeTimeoutMs,
      });
      this.#connections.add(conn);
      conn.on("close", () => this.#connections.delete(conn));
      this.emit("connection", conn);
    } catch (err) {
      this.#reject(err as Error, socket);
    } finally {
      this.#pending.delete(socket);
    }
  }

  #reject(error: Error, socket: { remoteAddress?: string; remotePort?: number; destroy(): void }): void {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.#log.warn("peer refused", { remote, error });
    socket.destroy();
    this.emit("rejected", { error, remote } satisfies RejectedPeer);
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    const closing = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#pending) socket.destroy();
    await Promise.all([...this.#connections].map((c) => c.close()));
    await closing;
  }
}
