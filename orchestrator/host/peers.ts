import { getAddress } from "ethers";
import {
  ChannelServer,
  connectChannel,
  type ChannelServerOptions,
  type ChannelConnection,
  type ChannelIdentity,
  type ChannelTrust,
  type MessageOf,
} from "../channel/index.js";
import { failedComponentOf, innermostCodeOf, TvmxError } from "../errors/index.js";
import type { Logger } from "../log/index.js";
import type { Counter } from "../metrics/index.js";
import type { ChainHostDirectory } from "./chain-directory.js";
import { parseEndpoint } from "./endpoint.js";

/** The listener limits a host config may set (see ChannelServerOptions). */
export type ChannelLimits = Partial<Pick<ChannelServerOptions, "handshakeTimeoutMs" | "maxPendingHandshakes" | "maxPendingPerAddress" | "maxPendingPerIdentity">>;

/** Messages a host acts on unasked (everything else is a reply someone is waiting for with `receive`). */
export type InboundMessage = MessageOf<"MIGRATION_REQUEST"> | MessageOf<"ADMISSION_TICKET">;
export const INBOUND_TYPES = ["MIGRATION_REQUEST", "ADMISSION_TICKET"] as const;

/**
 * The host's secure auction channel: the server other root VMMs dial, the connections this host dials
 * (one per peer, reused), and a dispatcher per connection that hands unsolicited messages to `onMessage`.
 */
export class Peers {
  readonly #identity: ChannelIdentity;
  readonly #trust: ChannelTrust;
  readonly #directory: ChainHostDirectory;
  readonly #log: Logger;
  readonly #onMessage: (conn: ChannelConnection, message: InboundMessage) => Promise<void>;
  readonly #byPeer = new Map<string, ChannelConnection>();
  readonly #dialing = new Map<string, Promise<ChannelConnection>>();
  readonly #limits: ChannelLimits;
  readonly #refusedTotal: Counter | undefined;
  #server: ChannelServer | undefined;

  constructor(options: {
    identity: ChannelIdentity;
    trust: ChannelTrust;
    directory: ChainHostDirectory;
    logger: Logger;
    onMessage: (conn: ChannelConnection, message: InboundMessage) => Promise<void>;
    /** The listener's limits (absent: the ChannelServer defaults). */
    limits?: ChannelLimits;
    /** Counts refused connections by reason (tvmx_channel_refused_total). */
    refusedTotal?: Counter;
  }) {
    this.#identity = options.identity;
    this.#trust = options.trust;
    this.#directory = options.directory;
    this.#log = options.logger;
    this.#onMessage = options.onMessage;
    this.#limits = options.limits ?? {};
    this.#refusedTotal = options.refusedTotal;
  }

  async listen(host: string, port: number): Promise<number> {
    this.#server = await ChannelServer.listen({
      identity: this.#identity,
      trust: this.#trust,
      logger: this.#log,
      host,
      port,
      ...this.#limits,
      refusedTotal: this.#refusedTotal,
    });
    this.#server.on("connection", (conn: ChannelConnection) => this.#adopt(conn));
    // Refused peers are logged by the server (rate-limited) and counted in tvmx_channel_refused_total.
    return this.#server.port;
  }

  /** The live connection with `address`, dialing it (from its registered endpoint) when there is none. */
  connect(address: string, options: { timeoutMs?: number } = {}): Promise<ChannelConnection> {
    const key = getAddress(address);
    const existing = this.#byPeer.get(key);
    if (existing && !existing.closed) return Promise.resolve(existing);
    const pending = this.#dialing.get(key);
    if (pending) return pending;
    const dial = (async () => {
      const info = await this.#directory.info(key);
      if (info.state !== "Active") {
        throw new TvmxError("HOST_NOT_REGISTERED", `host ${key} is not an active registered host (state ${info.state})`, { details: { host: key, state: info.state } });
      }
      const endpoint = parseEndpoint(info.endpoint);
      const conn = await connectChannel({
        host: endpoint.host,
        port: endpoint.channelPort,
        identity: this.#identity,
        trust: this.#trust,
        logger: this.#log,
        expectedAddress: key,
        connectTimeoutMs: options.timeoutMs ?? 10_000,
      });
      this.#adopt(conn);
      return conn;
    })();
    this.#dialing.set(key, dial);
    return dial.finally(() => this.#dialing.delete(key));
  }

  /** An existing live connection with `address`, if any (either direction). */
  connection(address: string): ChannelConnection | undefined {
    const conn = this.#byPeer.get(getAddress(address));
    return conn && !conn.closed ? conn : undefined;
  }

  #adopt(conn: ChannelConnection): void {
    const peer = getAddress(conn.peer.address);
    this.#byPeer.set(peer, conn);
    conn.on("close", () => {
      if (this.#byPeer.get(peer) === conn) this.#byPeer.delete(peer);
    });
    void this.#dispatch(conn, peer);
  }

  async #dispatch(conn: ChannelConnection, peer: string): Promise<void> {
    for (;;) {
      let message: InboundMessage;
      try {
        message = await conn.receive(INBOUND_TYPES);
      } catch {
        return; // the connection closed; whoever needs the peer again dials it
      }
      // The record names the component that failed (the chain RPC, the journal, ...), which is the channel itself
      // only when the code says so: the message merely started the work.
      this.#onMessage(conn, message).catch((err: unknown) => {
        const failedComponent = failedComponentOf(err);
        this.#log.error(`handling ${message.type} failed in the ${failedComponent}`, { peer, type: message.type, migrationId: message.migrationId, failedComponent, code: innermostCodeOf(err), err });
      });
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#byPeer.values()].map((c) => c.close()));
    this.#byPeer.clear();
    await this.#server?.close();
  }
}
