/**
 * The protected session of one migration, run over an established channel connection (the Migration TD's
 * job in TDX): the two hosts agree a fresh 256-bit migration session key and the migration version, confirm
 * that both derived the same key, and each installs it into its CPU model's migration context.
 *
 *   initiator (source)                                   responder (destination)
 *   SESSION_OFFER  {migrationId, X25519 pub, nonce, versions} ──►
 *                                   ◄── SESSION_ACCEPT {migrationId, X25519 pub, nonce, versions}
 *                                       (or MIGRATION_ABORT when the version ranges do not overlap)
 *   both: version = min(max_a, max_b), must be ≥ max(min_a, min_b)
 *         transcript = SHA-256(migrationId, both certificates (so both quotes), both offers, version)
 *         key || confirmKey = HKDF-SHA256(X25519 secret, salt = TLS exporter of this connection, info = transcript)
 *   SESSION_CONFIRM {HMAC(confirmKey, "initiator" || transcript)} ──►
 *                                   ◄── SESSION_CONFIRM {HMAC(confirmKey, "responder" || transcript)}
 *   both: install(key, version)
 */
import { createHash, createHmac, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import { resultCodeOf } from "../errors/index.js";
import type { ChannelConnection } from "./connection.js";
import { ChannelError } from "./errors.js";
import type { MigrationVersionRange, SessionAcceptMessage, SessionOfferMessage } from "./messages.js";

type KeyShare = SessionOfferMessage | SessionAcceptMessage;

export const SESSION_EXPORTER_LABEL = "EXPORTER-tvmx-migration-session";

/** Installs the session key into the migration context of the local TD (the CPU model's setMigrationKey). */
export type SessionKeyInstaller = (key: Buffer, migrationVersion: number) => void | Promise<void>;

export interface ProtectedSessionOptions {
  /** 0x-hex, 32 bytes. */
  readonly migrationId: string;
  readonly role: "initiator" | "responder";
  /** The migration versions this host's TDX module supports. */
  readonly migrationVersions: MigrationVersionRange;
  readonly install: SessionKeyInstaller;
  readonly timeoutMs?: number;
}

export interface ProtectedSession {
  readonly migrationId: string;
  readonly migrationVersion: number;
  readonly peer: string;
  /** 0x-hex, first 8 bytes of SHA-256 over the key: names the key in logs without revealing it. */
  readonly keyId: string;
}

/** The migration version two hosts use: the lower of the two maxima, provided both ranges contain it. */
export function negotiateMigrationVersion(a: MigrationVersionRange, b: MigrationVersionRange): number {
  const version = Math.min(a.max, b.max);
  if (version < Math.max(a.min, b.min)) {
    throw new ChannelError("CHANNEL_VERSION_RANGE", `migration version ranges [${a.min}, ${a.max}] and [${b.min}, ${b.max}] do not overlap`, {
      details: { local: a, remote: b },
    });
  }
  return version;
}

function x25519Raw(publicKey: ReturnType<typeof generateKeyPairSync>["publicKey"]): Buffer {
  return Buffer.from(publicKey.export({ format: "jwk" }).x!, "base64url");
}

function transcriptOf(migrationId: string, initiatorCert: Buffer, responderCert: Buffer, offer: KeyShare, accept: KeyShare, version: number): Buffer {
  const h = createHash("sha256");
  const part = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length, 0);
    h.update(len).update(b);
  };
  const hex = (s: string) => Buffer.from(s.slice(2), "hex");
  part(Buffer.from("tvmx migration session v1"));
  part(hex(migrationId));
  part(initiatorCert);
  part(responderCert);
  for (const m of [offer, accept]) {
    part(hex(m.publicKey));
    part(hex(m.nonce));
    part(Buffer.from(`${m.migrationVersions.min}-${m.migrationVersions.max}`));
  }
  part(Buffer.from(String(version)));
  return h.digest();
}

export async function runProtectedSession(conn: ChannelConnection, options: ProtectedSessionOptions): Promise<ProtectedSession> {
  const { migrationId, role } = options;
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (!/^0x[0-9a-fA-F]{64}$/.test(migrationId)) {
    throw new ChannelError("CHANNEL_SESSION_FAILED", "migration id must be 32 bytes of 0x-hex", { details: { migrationId } });
  }
  const ephemeral = generateKeyPairSync("x25519");
  const mine: KeyShare = {
    type: role === "initiator" ? "SESSION_OFFER" : "SESSION_ACCEPT",
    migrationId,
    publicKey: `0x${x25519Raw(ephemeral.publicKey).toString("hex")}`,
    nonce: `0x${randomBytes(32).toString("hex")}`,
    migrationVersions: { min: options.migrationVersions.min, max: options.migrationVersions.max },
  };

  let theirs: KeyShare;
  let version: number;
  if (role === "initiator") {
    await conn.send(mine);
    const reply = await conn.receive(["SESSION_ACCEPT", "MIGRATION_ABORT"], { migrationId, timeoutMs });
    if (reply.type === "MIGRATION_ABORT") {
      throw new ChannelError("CHANNEL_PEER_ERROR", `peer ${conn.peer.address} refused the session: ${reply.reason}`, { details: { resultCode: reply.resultCode } });
    }
    theirs = reply;
    version = negotiateMigrationVersion(options.migrationVersions, theirs.migrationVersions);
  } else {
    theirs = await conn.receive("SESSION_OFFER", { migrationId, timeoutMs });
    try {
      version = negotiateMigrationVersion(options.migrationVersions, theirs.migrationVersions);
    } catch (err) {
      const e = err as ChannelError;
      await conn.send({ type: "MIGRATION_ABORT", migrationId, resultCode: e.resultCode, reason: e.message });
      throw err;
    }
    await conn.send(mine);
  }

  const peerPublic = createPublicKey({ key: { kty: "OKP", crv: "X25519", x: Buffer.from(theirs.publicKey.slice(2), "hex").toString("base64url") }, format: "jwk" });
  const shared = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: peerPublic });
  if (shared.every((b) => b === 0)) throw new ChannelError("CHANNEL_SESSION_FAILED", "peer sent a low-order X25519 key", { details: { migrationId } });

  const certs = conn.certificates();
  const [initiatorCert, responderCert] = role === "initiator" ? [certs.local, certs.remote] : [certs.remote, certs.local];
  const [offer, accept] = role === "initiator" ? [mine, theirs] : [theirs, mine];
  const transcript = transcriptOf(migrationId, initiatorCert, responderCert, offer, accept, version);
  const salt = conn.exportKeyingMaterial(32, SESSION_EXPORTER_LABEL, Buffer.from(migrationId.slice(2), "hex"));
  const okm = Buffer.from(hkdfSync("sha256", shared, salt, Buffer.concat([Buffer.from("tvmx migration key"), transcript]), 64));
  const key = okm.subarray(0, 32);
  const confirmKey = okm.subarray(32, 64);
  const mac = (who: string) => createHmac("sha256", confirmKey).update(who).update(transcript).digest();

  await conn.send({ type: "SESSION_CONFIRM", migrationId, mac: `0x${mac(role).toString("hex")}` });
  const confirm = await conn.receive("SESSION_CONFIRM", { migrationId, timeoutMs });
  const expected = mac(role === "initiator" ? "responder" : "initiator");
  const got = Buffer.from(confirm.mac.slice(2), "hex");
  if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
    throw new ChannelError("CHANNEL_SESSION_FAILED", `session key confirmation from ${conn.peer.address} does not match`, { details: { migrationId } });
  }
  try {
    await options.install(Buffer.from(key), version);
  } catch (err) {
    // The peer may already have installed its key: tell it this side cannot go on.
    const reason = `installing the session key failed: ${(err as Error).message}`.slice(0, 1024);
    await conn.send({ type: "MIGRATION_ABORT", migrationId, resultCode: resultCodeOf("CHANNEL_SESSION_FAILED"), reason }).catch(() => undefined);
    throw new ChannelError("CHANNEL_SESSION_FAILED", reason, { cause: err, details: { migrationId, migrationVersion: version } });
  }
  return {
    migrationId,
    migrationVersion: version,
    peer: conn.peer.address,
    keyId: `0x${createHash("sha256").update(key).digest("hex").slice(0, 16)}`,
  };
}
