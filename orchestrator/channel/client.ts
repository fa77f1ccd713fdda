/**
 * The channel's dialing side: TLS 1.3 with our channel certificate as the client certificate; the server's
 * certificate is verified by our own code (quote, policy, registered host, and that it is the host we dialed).
 */
import { connect, type TLSSocket } from "node:tls";
import { ChannelConnection, ALPN_PROTOCOL, type ConnectionOptions } from "./connection.js";
import { ChannelError } from "./errors.js";

export interface ConnectChannelOptions extends ConnectionOptions {
  readonly host: string;
  readonly port: number;
  /** The TLS handshake's own time limit (default 10 s). */
  readonly connectTimeoutMs?: number;
  /** The local address to connect from (default: the system's choice). */
  readonly localAddress?: string;
}

export async function connectChannel(options: ConnectChannelOptions): Promise<ChannelConnection> {
  const socket = await new Promise<TLSSocket>((resolve, reject) => {
    const s = connect({
      host: options.host,
      port: options.port,
      // Passed on to net.connect (the tls types do not list it).
      ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {}),
      key: options.identity.privateKeyPem,
      cert: options.identity.certificatePem,
      minVersion: "TLSv1.3",
      maxVersion: "TLSv1.3",
      rejectUnauthorized: false,
      // Host names are not what we authenticate: the peer's quote and host key are (verifyPeerEvidence).
      checkServerIdentity: () => undefined,
      ALPNProtocols: [ALPN_PROTOCOL],
    });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new ChannelError("CHANNEL_TIMEOUT", `TLS handshake with ${options.host}:${options.port} timed out`));
    }, options.connectTimeoutMs ?? 10_000);
    s.once("secureConnect", () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once("error", (err) => {
      clearTimeout(timer);
      reject(new ChannelError("CHANNEL_HANDSHAKE", `cannot open a channel to ${options.host}:${options.port}: ${err.message}`, { cause: err }));
    });
  });
  try {
    return await ChannelConnection.establish(socket, "client", options);
  } catch (err) {
    socket.destroy();
    throw err;
  }
}
