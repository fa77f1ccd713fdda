/**
 * The channel's listening side: TLS 1.3 only, a client certificate requested (OpenSSL does not judge it:
 * `rejectUnauthorized: false`), then our own verification of every peer in `ChannelConnection.establish`.
 * A rejected peer is logged (rate-limited), counted, disconnected and reported through "rejected"; the server
 * goes on serving everyone else.
 *
 * Fairness under hostile clients. A connection is "pending" from TCP accept until its HELLO has been verified;
 * pending connections are limited
 *   - per remote address, checked at TCP accept, before any TLS work (`maxPendingPerAddress`, default 8);
 *   - per claimed host, checked as soon as TLS has finished and the peer certificate is known: the address its
 *     host binding is signed for (`claimedHostOf`; TLS proved the peer holds that certificate's key, so no one
 *     else can spend a host's slots) (`maxPendingPerIdentity`, default 4);
 *   - in total (`maxPendingHandshakes`, default 64).
 * Each pending connection has one deadline, `handshakeTimeoutMs` (default 10 s) counted from TCP accept, for
 * the whole of the TLS handshake, the evidence check and HELLO; a client trickling bytes does not move it.
 *
 * The TCP listener is our own `net.Server`; accepted sockets within the limits are handed to the TLS server
 * (`emit("connection")`), so a refused socket costs no TLS state.
 */
import { EventEmitter } from "node:events";
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from "node:net";
import { createServer, type Server, type TLSSocket } from "node:tls";
import { resultCodeOf } from "../errors/index.js";
import { nullLogger, RateLimitedWarning, type Logger } from "../log/index.js";
import type { Counter } from "../metrics/index.js";
import { addressGroupOf } from "../util/index.js";
import { ChannelConnection, ALPN_PROTOCOL } from "./connection.js";
import { ChannelError } from "./errors.js";
import { claimedHostOf, type ChannelIdentity, type ChannelTrust } from "./evidence.js";
import { encodeMessage } from "./wire.js";

export const CHANNEL_SERVER_DEFAULTS = {
  handshakeTimeoutMs: 10_000,
  maxPendingHandshakes: 64,
  maxPendingPerAddress: 8,
  maxPendingPerIdentity: 4,
  refusedLogLimit: 20,
  refusedLogWindowMs: 60_000,
} as const;

export interface ChannelServerOptions {
  readonly identity: ChannelIdentity;
  readonly trust: ChannelTrust;
  readonly logger?: Logger;
  readonly maxPayload?: number;
  /** Time from TCP accept to a verified HELLO, TLS handshake included (default 10 s). */
  readonly handshakeTimeoutMs?: number;
  /** Connections still being verified at once; more are refused at TCP accept (default 64). */
  readonly maxPendingHandshakes?: number;
  /** Connections from one remote address still being verified at once (default 8). */
  readonly maxPendingPerAddress?: number;
  /** Connections of one claimed host (its certificate's signed host address) still being verified at once (default 4). */
  readonly maxPendingPerIdentity?: number;
  /** At most this many "peer refused" warnings per window, then one "suppressed" summary (default 20 per 60 s). */
  readonly refusedLogLimit?: number;
  readonly refusedLogWindowMs?: number;
  /** Counts every refused connection by reason (the host passes `tvmx_channel_refused_total`). */
  readonly refusedTotal?: Counter;
}

/** Why a connection was refused: the `reason` label of the refused-connections metric. */
export type RefusalReason = "limit_total" | "limit_address" | "limit_identity" | "deadline" | "tls" | "peer";
export const REFUSAL_REASONS: readonly RefusalReason[] = ["limit_total", "limit_address", "limit_identity", "deadline", "tls", "peer"];

export interface RejectedPeer {
  readonly error: Error;
  readonly remote: string;
  readonly reason: RefusalReason;
}

/** How many connections are being verified, in all, by remote address and by claimed host. */
export interface PendingCounts {
  readonly total: number;
  readonly byAddress: ReadonlyMap<string, number>;
  readonly byIdentity: ReadonlyMap<string, number>;
}

/** One connection from TCP accept until its HELLO is verified or it is refused. */
interface Pending {
  readonly raw: Socket;
  readonly remote: string;
  readonly address: string;
  identity?: string;
  tls?: TLSSocket;
  readonly deadline: number;
  readonly timer: NodeJS.Timeout;
  /** A refusal was reported for it (so a later failure of the same connection is not reported again). */
  refused: boolean;
  released: boolean;
}

/**
 * Events: "connection" (ChannelConnection, established and verified), "rejected" (RejectedPeer).
 */
export class ChannelServer extends EventEmitter {
  readonly #tcp: NetServer;
  readonly #tls: Server;
  readonly #connections = new Set<ChannelConnection>();
  /** Connections still being verified, by "address:port" of the peer. */
  readonly #pending = new Map<string, Pending>();
  /** The same, by TCP socket (found again from its TLS socket even once the peer address is gone). */
  readonly #byRaw = new WeakMap<Socket, Pending>();
  readonly #byAddress = new Map<string, number>();
  readonly #byIdentity = new Map<string, number>();
  readonly #log: Logger;
  readonly #refusedLog: RateLimitedWarning;
  readonly #limits: { timeoutMs: number; total: number; perAddress: number; perIdentity: number };

  private constructor(private readonly options: ChannelServerOptions) {
    super();
    this.#log = (options.logger ?? nullLogger).child({ component: "channel-server", host: options.identity.address });
    const d = CHANNEL_SERVER_DEFAULTS;
    this.#limits = {
      timeoutMs: positive("handshakeTimeoutMs", options.handshakeTimeoutMs ?? d.handshakeTimeoutMs),
      total: positive("maxPendingHandshakes", options.maxPendingHandshakes ?? d.maxPendingHandshakes),
      perAddress: positive("maxPendingPerAddress", options.maxPendingPerAddress ?? d.maxPendingPerAddress),
      perIdentity: positive("maxPendingPerIdentity", options.maxPendingPerIdentity ?? d.maxPendingPerIdentity),
    };
    this.#refusedLog = new RateLimitedWarning(this.#log, "peer refused", {
      limit: atLeast("refusedLogLimit", options.refusedLogLimit ?? d.refusedLogLimit, 0),
      windowMs: atLeast("refusedLogWindowMs", options.refusedLogWindowMs ?? d.refusedLogWindowMs, 1),
    });
    this.#tls = createServer({
      key: options.identity.privateKeyPem,
      cert: options.identity.certificatePem,
      minVersion: "TLSv1.3",
      maxVersion: "TLSv1.3",
      requestCert: true,
      rejectUnauthorized: false,
      ALPNProtocols: [ALPN_PROTOCOL],
      // Our own deadline (from accept) closes a slow handshake first; this is a second line.
      handshakeTimeout: this.#limits.timeoutMs + 1000,
    });
    this.#tls.on("secureConnection", (socket: TLSSocket) => void this.#accept(socket));
    this.#tls.on("tlsClientError", (err, socket) => {
      const p = this.#pendingOf(socket);
      this.#refuse(p, "tls", new ChannelError("CHANNEL_HANDSHAKE", `TLS handshake failed: ${err.message}`, { cause: err }), socket);
    });
    this.#tcp = createNetServer((raw) => this.#admit(raw));
  }

  /** Starts listening (port 0 picks a free port; read it from `port`). */
  static async listen(options: ChannelServerOptions & { port?: number; host?: string }): Promise<ChannelServer> {
    const server = new ChannelServer(options);
    await new Promise<void>((resolve, reject) => {
      server.#tcp.once("error", reject);
      server.#tcp.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
        server.#tcp.off("error", reject);
        resolve();
      });
    });
    server.#log.info("listening", { port: server.port, limits: server.#limits });
    return server;
  }

  get port(): number {
    return (this.#tcp.address() as AddressInfo).port;
  }

  get connections(): ReadonlySet<ChannelConnection> {
    return this.#connections;
  }

  /** The connections being verified right now. */
  get pending(): PendingCounts {
    return { total: this.#pending.size, byAddress: new Map(this.#byAddress), byIdentity: new Map(this.#byIdentity) };
  }

  /** TCP accept: the total and per-address limits, then the deadline, then TLS. */
  #admit(raw: Socket): void {
    // Limits count an IPv6 client by its /64 (see addressGroupOf): one host holds a whole /64.
    const address = addressGroupOf(raw.remoteAddress ?? "unknown");
    const remote = remoteOf(raw);
    if (this.#pending.size >= this.#limits.total) {
      const limit = this.#limits.total;
      this.#refuse(undefined, "limit_total", limitError(`more than ${limit} connections are being verified`, { limit, scope: "total" }), raw);
      return;
    }
    const fromAddress = this.#byAddress.get(address) ?? 0;
    if (fromAddress >= this.#limits.perAddress) {
      const limit = this.#limits.perAddress;
      this.#refuse(undefined, "limit_address", limitError(`more than ${limit} connections from ${address} are being verified`, { limit, scope: "address", address }), raw);
      return;
    }
    const timeoutMs = this.#limits.timeoutMs;
    const p: Pending = {
      raw,
      remote,
      address,
      deadline: Date.now() + timeoutMs,
      timer: setTimeout(() => {
        this.#refuse(p, "deadline", new ChannelError("CHANNEL_HANDSHAKE_DEADLINE", `no verified HELLO within ${timeoutMs} ms of accept`, { details: { timeoutMs } }), p.tls ?? raw);
        raw.destroy();
      }, timeoutMs),
      refused: false,
      released: false,
    };
    this.#pending.set(remote, p);
    this.#byRaw.set(raw, p);
    this.#byAddress.set(address, fromAddress + 1);
    raw.once("close", () => this.#release(p));
    raw.on("error", (err) => this.#log.debug("connection error", { remote, error: err }));
    this.#tls.emit("connection", raw);
  }

  /** TLS done: the per-identity limit, then our own verification and HELLO, within what is left of the deadline. */
  async #accept(socket: TLSSocket): Promise<void> {
    const p = this.#pendingOf(socket);
    if (!p || p.released) {
      socket.destroy();
      return;
    }
    p.tls = socket;
    const peerCert = socket.getPeerX509Certificate();
    if (peerCert) {
      let identity: string | undefined;
      try {
        identity = claimedHostOf(peerCert.raw);
      } catch {
        // Not a valid claim of any host: `establish` refuses it below with the precise reason.
      }
      if (identity !== undefined) {
        const held = this.#byIdentity.get(identity) ?? 0;
        const limit = this.#limits.perIdentity;
        if (held >= limit) {
          const error = limitError(`more than ${limit} connections of host ${identity} are being verified`, { limit, scope: "identity", host: identity });
          // TLS is up, so the peer can be told why (a legitimate host then knows to retry later).
          socket.end(encodeMessage({ type: "ERROR", code: error.code, resultCode: resultCodeOf(error.code), message: error.message }));
          setTimeout(() => socket.destroy(), 1000).unref();
          this.#refuse(p, "limit_identity", error, socket, false);
          return;
        }
        p.identity = identity;
        this.#byIdentity.set(identity, held + 1);
      }
    }
    try {
      const conn = await ChannelConnection.establish(socket, "server", {
        identity: this.options.identity,
        trust: this.options.trust,
        logger: this.options.logger,
        maxPayload: this.options.maxPayload,
        // Our deadline timer fires first and says why; this is a second line.
        handshakeTimeoutMs: Math.max(1, p.deadline - Date.now()) + 1000,
      });
      if (p.refused) {
        // The deadline passed while the last step finished.
        await conn.close();
        return;
      }
      this.#release(p);
      this.#connections.add(conn);
      conn.on("close", () => this.#connections.delete(conn));
      this.emit("connection", conn);
    } catch (err) {
      this.#refuse(p, "peer", err as Error, socket);
    } finally {
      this.#release(p);
    }
  }

  /** The pending record of a TLS socket the TLS server made from one of our TCP sockets. */
  #pendingOf(socket: TLSSocket): Pending | undefined {
    // node:tls keeps the wrapped TCP socket as `_parent` (not in its types).
    const raw = (socket as unknown as { _parent?: Socket })._parent;
    return (raw && this.#byRaw.get(raw)) ?? this.#pending.get(remoteOf(socket));
  }

  /** A connection stops counting as pending (verified, refused or closed); idempotent. */
  #release(p: Pending): void {
    if (p.released) return;
    p.released = true;
    clearTimeout(p.timer);
    if (this.#pending.get(p.remote) === p) this.#pending.delete(p.remote);
    decrement(this.#byAddress, p.address);
    if (p.identity !== undefined) decrement(this.#byIdentity, p.identity);
  }

  /** Reports a refusal once per connection (rate-limited log, metric, "rejected") and disconnects it. */
  #refuse(p: Pending | undefined, reason: RefusalReason, error: Error, socket: { remoteAddress?: string; remotePort?: number; destroy(): void }, destroy = true): void {
    const remote = p?.remote ?? remoteOf(socket);
    if (destroy) socket.destroy();
    if (p) {
      if (p.refused) return;
      p.refused = true;
      this.#release(p);
    }
    this.options.refusedTotal?.inc({ reason });
    this.#refusedLog.warn({ remote, reason, error });
    this.emit("rejected", { error, remote, reason } satisfies RejectedPeer);
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    const closing = new Promise<void>((resolve) => this.#tcp.close(() => resolve()));
    for (const p of [...this.#pending.values()]) {
      p.refused = true;
      p.tls?.destroy();
      p.raw.destroy();
      this.#release(p);
    }
    await Promise.all([...this.#connections].map((c) => c.close()));
    await closing;
    this.#refusedLog.close();
  }
}

function remoteOf(socket: { remoteAddress?: string; remotePort?: number }): string {
  return `${socket.remoteAddress}:${socket.remotePort}`;
}

function limitError(message: string, details: Record<string, unknown>): ChannelError {
  return new ChannelError("CHANNEL_PENDING_LIMIT", message, { details });
}

function decrement(counts: Map<string, number>, key: string): void {
  const n = (counts.get(key) ?? 0) - 1;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}

function positive(name: string, value: number): number {
  return atLeast(name, value, 1);
}

function atLeast(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new ChannelError("CHANNEL_HANDSHAKE", `ChannelServer option ${name} must be a whole number >= ${min}, got ${value}`, { details: { option: name, value } });
  }
  return value;
}
