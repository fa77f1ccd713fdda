/**
 * One authenticated connection of the secure auction channel, over a TLS 1.3 socket.
 *
 * Establishment (both roles, after the TLS handshake):
 *   1. the peer must have presented a certificate; `verifyPeerEvidence` checks its quote, policy and host key;
 *   2. each side sends HELLO: its address, its role, and an EIP-191 signature by its on-chain host key over the
 *      TLS exporter value of this connection (RFC 8446 §7.5, label EXPORTER-tvmx-channel-binding), so the
 *      proof belongs to this TLS session only: a HELLO recorded on another connection does not verify here.
 *      The client sends first; the server verifies it before answering with its own HELLO;
 *   3. the first message from the peer must be its HELLO.
 * Afterwards messages are sent with `send`. An incoming message goes to a pending `receive` that waits for its
 * type (and migration id); otherwise to the "message" listeners if there are any; otherwise it waits in a
 * bounded inbox (256 messages) for a later `receive`. Malformed or unknown messages are answered with an ERROR
 * message and the connection goes on; framing errors (bad version, oversized length) close it.
 */
import { EventEmitter } from "node:events";
import type { TLSSocket } from "node:tls";
import { getAddress, verifyMessage } from "ethers";
import { resultCodeOf } from "../errors/index.js";
import { nullLogger, type Logger } from "../log/index.js";
import type { TvmTcbCapability } from "../attestation/index.js";
import { ChannelError } from "./errors.js";
import { verifyPeerEvidence, type ChannelIdentity, type ChannelTrust, type PeerIdentity } from "./evidence.js";
import type { ChannelMessage, MessageOf, MessageTypeName } from "./messages.js";
import { DEFAULT_MAX_PAYLOAD, EnvelopeDecoder, encodeMessage, type DecodeResult } from "./wire.js";

export const CHANNEL_BINDING_LABEL = "EXPORTER-tvmx-channel-binding";
export const ALPN_PROTOCOL = "tvmx/1";
const INBOX_LIMIT = 256;
const PROTOCOL_ERROR_LIMIT = 16;

export interface ConnectionOptions {
  readonly identity: ChannelIdentity;
  readonly trust: ChannelTrust;
  readonly logger?: Logger;
  readonly maxPayload?: number;
  readonly handshakeTimeoutMs?: number;
  /** For outgoing connections: the host we meant to reach. */
  readonly expectedAddress?: string;
  /** A TVM's required TCB capability to check the peer's quote against (in addition to the policy). */
  readonly tvmCapability?: TvmTcbCapability;
}

export function helloMessageText(binding: Buffer, role: "client" | "server", address: string): string {
  return `TVM Exchange channel binding\nrole: ${role}\nhost: ${getAddress(address)}\nbinding: 0x${binding.toString("hex")}`;
}

interface Waiter {
  readonly types: readonly MessageTypeName[];
  readonly migrationId?: string;
  readonly resolve: (m: ChannelMessage) => void;
  readonly reject: (e: Error) => void;
}

export type ReceiveFilter = { readonly migrationId?: string; readonly timeoutMs?: number };

export class ChannelConnection extends EventEmitter {
  readonly #socket: TLSSocket;
  readonly #decoder: EnvelopeDecoder;
  readonly #maxPayload: number;
  readonly #inbox: ChannelMessage[] = [];
  readonly #waiters = new Set<Waiter>();
  #log: Logger;
  #peer: PeerIdentity | undefined;
  #closed: ChannelError | undefined;
  #protocolErrors = 0;
  readonly #localCertificate: Buffer;

  private constructor(socket: TLSSocket, readonly role: "client" | "server", options: ConnectionOptions) {
    super();
    this.#socket = socket;
    this.#maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    this.#localCertificate = options.identity.certificateDer;
    this.#decoder = new EnvelopeDecoder(this.#maxPayload);
    this.#log = (options.logger ?? nullLogger).child({ component: "channel", role, remote: `${socket.remoteAddress}:${socket.remotePort}` });
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", (err) => this.#fail(new ChannelError("CHANNEL_CLOSED", `connection error: ${err.message}`, { cause: err })));
    socket.on("close", () => this.#fail(new ChannelError("CHANNEL_CLOSED", "connection closed")));
  }

  /** Runs peer verification and the HELLO exchange on a TLS socket whose handshake has completed. */
  static async establish(socket: TLSSocket, role: "client" | "server", options: ConnectionOptions): Promise<ChannelConnection> {
    const conn = new ChannelConnection(socket, role, options);
    try {
      await conn.#authenticate(options);
      return conn;
    } catch (err) {
      // A server reports refused peers itself, counted and rate-limited (ChannelServer); a dialer warns here.
      if (role === "client") conn.#log.warn("peer rejected", { error: err });
      else conn.#log.debug("peer rejected", { error: err });
      await conn.#sendErrorAndClose(err);
      throw err;
    }
  }

  async #authenticate(options: ConnectionOptions): Promise<void> {
    const timeoutMs = options.handshakeTimeoutMs ?? 10_000;
    const peerCert = this.#socket.getPeerX509Certificate();
    if (!peerCert) throw new ChannelError("CHANNEL_PEER_CERT_MISSING", "peer presented no certificate");
    const peer = await verifyPeerEvidence(peerCert.raw, options.trust, { expectedAddress: options.expectedAddress, tvmCapability: options.tvmCapability });
    const binding = this.channelBinding();
    const sendHello = async () => {
      const signature = await options.identity.signer.signMessage(helloMessageText(binding, this.role, options.identity.address));
      await this.#write({ type: "HELLO", address: options.identity.address, role: this.role, signature });
    };
    // The client speaks first; the server answers only once the client's HELLO holds, so a client that
    // receives the server's HELLO knows it has been accepted.
    if (this.role === "client") await sendHello();
    const hello = await this.#take(["HELLO"], { timeoutMs });
    const peerRole = this.role === "client" ? "server" : "client";
    let signer = "";
    try {
      signer = verifyMessage(helloMessageText(binding, peerRole, peer.address), hello.signature);
    } catch {
      // An unparsable signature is a failed binding, reported below.
    }
    if (hello.role !== peerRole || getAddress(hello.address) !== peer.address || signer !== peer.address) {
      throw new ChannelError("CHANNEL_BINDING_INVALID", `HELLO of ${peer.address} is not bound to this connection (replayed or forged)`, {
        details: { host: peer.address, helloAddress: hello.address, helloRole: hello.role, recovered: signer },
      });
    }
    if (this.role === "server") await sendHello();
    this.#peer = peer;
    this.#log = this.#log.child({ peer: peer.address });
    this.#log.info("peer authenticated", { tcbStatus: peer.quote.tcb.status, keyFingerprint: peer.keyFingerprint });
  }

  /** The verified peer (set once established). */
  get peer(): PeerIdentity {
    if (!this.#peer) throw new ChannelError("CHANNEL_PROTOCOL", "connection is not established");
    return this.#peer;
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /** The TLS exporter value that binds proofs to this connection. */
  channelBinding(): Buffer {
    return this.exportKeyingMaterial(32, CHANNEL_BINDING_LABEL);
  }

  exportKeyingMaterial(length: number, label: string, context?: Buffer): Buffer {
    if (this.#closed) throw this.#closed;
    if (this.#socket.destroyed) throw new ChannelError("CHANNEL_CLOSED", "connection closed");
    // TLS 1.3 treats an absent and an empty context alike (RFC 8446 §7.5).
    return this.#socket.exportKeyingMaterial(length, label, context ?? Buffer.alloc(0));
  }

  /** The local and remote certificates, DER (for binding session keys to both). */
  certificates(): { local: Buffer; remote: Buffer } {
    return { local: this.#localCertificate, remote: this.peer.certificateDer };
  }

  async send(message: ChannelMessage): Promise<void> {
    if (!this.#peer) throw new ChannelError("CHANNEL_PROTOCOL", "connection is not established");
    await this.#write(message);
  }

  /** The next message of one of `types` (and migration id), from the inbox or as it arrives. */
  async receive<T extends MessageTypeName>(types: T | readonly T[], filter: ReceiveFilter = {}): Promise<MessageOf<T>> {
    return this.#take(typeof types === "string" ? [types] : types, filter);
  }

  /**
   * Drops the unread messages of a finished migration (e.g. ACKs that arrived after the deadline), so they do
   * not fill the inbox; returns how many were dropped.
   */
  discard(migrationId: string): number {
    let dropped = 0;
    for (let i = this.#inbox.length - 1; i >= 0; i--) {
      const m = this.#inbox[i]!;
      if ("migrationId" in m && m.migrationId === migrationId) {
        this.#inbox.splice(i, 1);
        dropped += 1;
      }
    }
    if (dropped > 0) this.#log.debug("dropped unread messages of a finished migration", { migrationId, dropped });
    return dropped;
  }

  /** How many messages wait in the inbox. */
  get unread(): number {
    return this.#inbox.length;
  }

  /** Closes the connection (TLS close_notify, then the socket). */
  async close(): Promise<void> {
    if (this.#socket.destroyed) return;
    await new Promise<void>((resolve) => {
      this.#socket.once("close", () => resolve());
      this.#socket.end();
      setTimeout(() => this.#socket.destroy(), 1000).unref();
    });
  }

  /** Writes raw bytes on the socket (tests feed malformed envelopes through this). */
  writeRaw(bytes: Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.#socket.write(bytes, (err) => (err ? reject(err) : resolve())));
  }

  #write(message: ChannelMessage): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closed);
    return this.writeRaw(encodeMessage(message, this.#maxPayload));
  }

  #take<T extends MessageTypeName>(types: readonly T[], filter: ReceiveFilter): Promise<MessageOf<T>> {
    const matches = (m: ChannelMessage) =>
      (types as readonly string[]).includes(m.type) && (filter.migrationId === undefined || ("migrationId" in m && m.migrationId === filter.migrationId));
    const index = this.#inbox.findIndex(matches);
    if (index >= 0) return Promise.resolve(this.#inbox.splice(index, 1)[0] as MessageOf<T>);
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise<MessageOf<T>>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter: Waiter = {
        types,
        migrationId: filter.migrationId,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as MessageOf<T>);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.#waiters.add(waiter);
      if (filter.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.#waiters.delete(waiter);
          reject(new ChannelError("CHANNEL_TIMEOUT", `no ${types.join("/")} within ${filter.timeoutMs} ms`, { details: { types, migrationId: filter.migrationId } }));
        }, filter.timeoutMs);
      }
    });
  }

  #onData(chunk: Buffer): void {
    let results: DecodeResult[];
    try {
      results = this.#decoder.push(chunk);
    } catch (err) {
      void this.#sendErrorAndClose(err);
      return;
    }
    for (const r of results) {
      if ("error" in r) this.#onProtocolError(r.error);
      else this.#deliver(r.message);
    }
  }

  #onProtocolError(err: ChannelError): void {
    this.#protocolErrors += 1;
    this.#log.warn("message rejected", { error: err });
    this.emit("protocolError", err);
    if (this.#protocolErrors > PROTOCOL_ERROR_LIMIT) {
      void this.#sendErrorAndClose(new ChannelError("CHANNEL_PROTOCOL", `more than ${PROTOCOL_ERROR_LIMIT} malformed messages`, { cause: err }));
      return;
    }
    this.#write({ type: "ERROR", code: err.code, resultCode: resultCodeOf(err.code), message: err.message }).catch((e) =>
      this.#log.debug("could not report a protocol error", { error: e }),
    );
  }

  #deliver(message: ChannelMessage): void {
    if (!this.#peer && message.type === "ERROR") {
      // The peer refused us during establishment and says why.
      this.#fail(new ChannelError("CHANNEL_PEER_ERROR", `peer refused the connection: [${message.code}] ${message.message}`, {
        details: { peerCode: message.code, peerResultCode: message.resultCode },
      }));
      this.#socket.destroy();
      return;
    }
    if (!this.#peer && message.type !== "HELLO") {
      void this.#sendErrorAndClose(new ChannelError("CHANNEL_PROTOCOL", `${message.type} before HELLO`));
      return;
    }
    if (this.#peer && message.type === "HELLO") {
      this.#onProtocolError(new ChannelError("CHANNEL_PROTOCOL", "HELLO after the connection was established", { fatal: false }));
      return;
    }
    if (message.type === "ERROR") this.#log.warn("peer reported an error", { code: message.code, message: message.message });
    for (const w of this.#waiters) {
      const idOk = w.migrationId === undefined || ("migrationId" in message && message.migrationId === w.migrationId);
      if (w.types.includes(message.type) && idOk) {
        this.#waiters.delete(w);
        w.resolve(message);
        return;
      }
    }
    if (this.listenerCount("message") > 0) {
      this.emit("message", message);
      return;
    }
    if (this.#inbox.length >= INBOX_LIMIT) {
      void this.#sendErrorAndClose(new ChannelError("CHANNEL_PROTOCOL", `more than ${INBOX_LIMIT} unread messages`));
      return;
    }
    this.#inbox.push(message);
  }

  async #sendErrorAndClose(err: unknown): Promise<void> {
    const e = err instanceof ChannelError ? err : new ChannelError("CHANNEL_PROTOCOL", (err as Error).message ?? String(err), { cause: err });
    if (!this.#closed && !this.#socket.destroyed) {
      const code = (err as { code?: unknown }).code;
      const reported = typeof code === "string" ? code : e.code;
      await this.#write({ type: "ERROR", code: reported.slice(0, 64), resultCode: resultCodeOf(reported), message: e.message.slice(0, 1024) }).catch(() => undefined);
    }
    this.#fail(e);
    await this.close();
  }

  #fail(err: ChannelError): void {
    if (this.#closed) return;
    this.#closed = err;
    for (const w of this.#waiters) w.reject(err);
    this.#waiters.clear();
    this.emit("close", err);
  }
}
