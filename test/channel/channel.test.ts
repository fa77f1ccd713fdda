import { expect } from "chai";
import { connect as tlsConnect } from "node:tls";
import { Wallet } from "ethers";
import { generateP256KeyPair, rawPublicKey } from "../../orchestrator/attestation/index.js";
import {
  configQuoteSource,
  createAttester,
  defaultPlatformConfig,
  pckExtensionOf,
  platformTcbOf,
  ProvisioningAuthority,
  QuotingEnclave,
  staticTdReport,
} from "../../orchestrator/attestation-issuer/index.js";
import {
  buildChannelCertificate,
  channelKeyMessage,
  channelReportData,
  ChannelConnection,
  ChannelError,
  ChannelServer,
  connectChannel,
  encodeMessage,
  keyFingerprintOf,
  spkiOf,
  verifyPeerEvidence,
  type ChannelIdentity,
  type HostSigner,
  type RejectedPeer,
} from "../../orchestrator/channel/index.js";
import { teeTcbSvn } from "../attestation/platforms.js";
import { createWorld, type TestHost, type TestWorld } from "./hosts.js";
import { SAMPLES } from "./samples.js";

interface Served {
  server: ChannelServer;
  host: TestHost;
  rejected(): Promise<RejectedPeer>;
  accepted(): Promise<ChannelConnection>;
}

async function serve(world: TestWorld): Promise<Served> {
  const host = await world.host();
  const server = await ChannelServer.listen({ identity: host.identity, trust: world.trust(), handshakeTimeoutMs: 3000 });
  const rejections: RejectedPeer[] = [];
  const connections: ChannelConnection[] = [];
  const waitingR: ((r: RejectedPeer) => void)[] = [];
  const waitingC: ((c: ChannelConnection) => void)[] = [];
  server.on("rejected", (r: RejectedPeer) => (waitingR.shift() ?? ((x) => rejections.push(x)))(r));
  server.on("connection", (c: ChannelConnection) => (waitingC.shift() ?? ((x) => connections.push(x)))(c));
  return {
    server,
    host,
    rejected: () => (rejections.length ? Promise.resolve(rejections.shift()!) : new Promise((r) => waitingR.push(r))),
    accepted: () => (connections.length ? Promise.resolve(connections.shift()!) : new Promise((r) => waitingC.push(r))),
  };
}

function dial(world: TestWorld, served: Served, identity: ChannelIdentity, extra: { expectedAddress?: string } = {}) {
  return connectChannel({ host: "127.0.0.1", port: served.server.port, identity, trust: world.trust(), handshakeTimeoutMs: 3000, ...extra });
}

/** A good host can still connect and exchange a message: the server survived whatever came before. */
async function assertStillServes(world: TestWorld, served: Served): Promise<void> {
  const good = await world.host();
  const [client, conn] = await Promise.all([dial(world, served, good.identity), served.accepted()]);
  await client.send(SAMPLES.SESSION_OFFER);
  expect(await conn.receive("SESSION_OFFER", { timeoutMs: 3000 })).to.deep.equal(SAMPLES.SESSION_OFFER);
  expect(conn.peer.address).to.equal(good.wallet.address);
  await client.close();
}

/** Makes an identity from explicit parts, so a test can get one part wrong. */
async function assemble(parts: {
  address: string;
  keySigner: HostSigner;
  helloSigner?: HostSigner;
  quote: (spki: Buffer, address: string) => Buffer;
}): Promise<ChannelIdentity> {
  const keyPair = generateP256KeyPair();
  const spki = spkiOf(keyPair.publicKey);
  const cert = await buildChannelCertificate({
    keyPair,
    quote: parts.quote(spki, parts.address),
    address: parts.address,
    hostSignature: await parts.keySigner.signMessage(channelKeyMessage(parts.address, keyFingerprintOf(spki))),
  });
  return {
    address: parts.address,
    privateKeyPem: keyPair.privateKey.export({ format: "pem", type: "pkcs8" }) as string,
    certificatePem: cert.toString("pem"),
    certificateDer: Buffer.from(cert.rawData),
    keyFingerprint: keyFingerprintOf(spki),
    quote: Buffer.alloc(0),
    signer: parts.helloSigner ?? parts.keySigner,
  };
}

function quoteFrom(host: TestHost) {
  return (spki: Buffer, address: string) => createAttester(configQuoteSource(host.config), host.qe).quote(channelReportData(spki, address));
}

async function expectRefused(world: TestWorld, served: Served, identity: ChannelIdentity, code: string, reason?: string): Promise<Error> {
  const [client, rejection] = await Promise.allSettled([dial(world, served, identity), served.rejected()]);
  expect(client.status, "the client must not get a connection").to.equal("rejected");
  expect((client as PromiseRejectedResult).reason).to.be.instanceOf(ChannelError);
  const { error } = (rejection as PromiseFulfilledResult<RejectedPeer>).value;
  expect(error).to.be.instanceOf(ChannelError);
  expect((error as ChannelError).code, error.message).to.equal(code);
  if (reason) expect((error as ChannelError).details.reason, error.message).to.equal(reason);
  await assertStillServes(world, served);
  return error;
}

describe("secure auction channel (RA-TLS)", function () {
  this.timeout(20_000);
  let world: TestWorld;
  let served: Served;

  before(async () => {
    world = await createWorld();
    served = await serve(world);
  });
  after(async () => {
    await served.server.close();
  });

  it("authenticates both hosts: TLS 1.3, quotes verified, registered host keys", async () => {
    const client = await world.host();
    const [conn, accepted] = await Promise.all([dial(world, served, client.identity, { expectedAddress: served.host.wallet.address }), served.accepted()]);
    expect(conn.peer.address).to.equal(served.host.wallet.address);
    expect(accepted.peer.address).to.equal(client.wallet.address);
    expect(conn.peer.quote.tcb.status).to.equal("UpToDate");
    expect(accepted.peer.keyFingerprint).to.equal(client.identity.keyFingerprint);
    expect(conn.channelBinding()).to.deep.equal(accepted.channelBinding());
    await conn.close();
  });

  it("carries every message type both ways", async () => {
    const client = await world.host();
    const [conn, accepted] = await Promise.all([dial(world, served, client.identity), served.accepted()]);
    for (const sample of Object.values(SAMPLES)) {
      if (sample.type === "HELLO") continue;
      await conn.send(sample);
      expect(await accepted.receive(sample.type, { timeoutMs: 3000 })).to.deep.equal(sample);
      await accepted.send(sample);
      expect(await conn.receive(sample.type, { timeoutMs: 3000 })).to.deep.equal(sample);
    }
    await conn.close();
  });

  it("refuses a quote with a bad signature", async () => {
    const host = await world.host();
    const identity = await assemble({
      address: host.wallet.address,
      keySigner: host.wallet,
      quote: (spki, address) => {
        const q = quoteFrom(host)(spki, address);
        q[48 + 136] ^= 1; // MRTD
        return q;
      },
    });
    await expectRefused(world, served, identity, "CHANNEL_PEER_EVIDENCE_INVALID", "ATTESTATION_QUOTE_SIGNATURE_INVALID");
  });

  it("refuses a broken certificate chain", async () => {
    const other = await ProvisioningAuthority.create();
    const cfg = defaultPlatformConfig();
    const pck = generateP256KeyPair();
    const { certificate } = await other.issuePckCertificate(pck.publicKey, pckExtensionOf(platformTcbOf(cfg), rawPublicKey(pck.publicKey)));
    const chain = [certificate.toString("pem"), world.authority.pckCaCertificate.toString("pem"), world.authority.rootPem].join("\n");
    const qe = new QuotingEnclave({ pck, pckCertChainPem: chain, attestationKey: generateP256KeyPair() }, platformTcbOf(cfg));
    const wallet = Wallet.createRandom();
    world.directory.set(wallet.address, { registered: true });
    const identity = await assemble({ address: wallet.address, keySigner: wallet, quote: (spki, a) => qe.quote(staticTdReport(cfg, channelReportData(spki, a))) });
    await expectRefused(world, served, identity, "CHANNEL_PEER_EVIDENCE_INVALID", "ATTESTATION_CERT_CHAIN_BROKEN");
  });

  it("refuses a host whose quote chains to an untrusted root", async () => {
    const stranger = await world.host({ authority: await ProvisioningAuthority.create() });
    await expectRefused(world, served, stranger.identity, "CHANNEL_PEER_EVIDENCE_INVALID", "ATTESTATION_UNTRUSTED_ROOT");
  });

  it("refuses an OutOfDate TCB where the policy forbids it, naming the host, rule and values", async () => {
    const stale = await world.host({ td: { teeTcbSvn: teeTcbSvn(3, 1) } });
    const err = await expectRefused(world, served, stale.identity, "CHANNEL_PEER_EVIDENCE_INVALID", "POLICY_REJECTED");
    expect(err.message).to.contain(stale.wallet.address);
    expect(err.message).to.contain("acceptedTcbStatuses: TCB status OutOfDate is not one of UpToDate, SWHardeningNeeded");
  });

  it("refuses a Revoked TCB", async () => {
    const revoked = await world.host({ td: { teeTcbSvn: teeTcbSvn(3, 0) } });
    const err = await expectRefused(world, served, revoked.identity, "CHANNEL_PEER_EVIDENCE_INVALID", "POLICY_REJECTED");
    expect(err.message).to.contain("TCB status Revoked");
  });

  it("refuses a quote whose REPORTDATA does not bind the TLS key", async () => {
    const host = await world.host();
    const otherKey = spkiOf(generateP256KeyPair().publicKey);
    const identity = await assemble({ address: host.wallet.address, keySigner: host.wallet, quote: (_spki, a) => quoteFrom(host)(otherKey, a) });
    await expectRefused(world, served, identity, "CHANNEL_REPORT_DATA_MISMATCH");
  });

  it("refuses a host key that is not registered", async () => {
    const unregistered = await world.host({ register: false });
    const err = await expectRefused(world, served, unregistered.identity, "CHANNEL_HOST_NOT_REGISTERED");
    expect(err.message).to.contain(unregistered.wallet.address);
  });

  it("refuses a channel key signed by another key than the registered host it claims to be", async () => {
    const host = await world.host();
    const impostor = Wallet.createRandom();
    const identity = await assemble({ address: host.wallet.address, keySigner: impostor, quote: quoteFrom(host) });
    const err = await expectRefused(world, served, identity, "CHANNEL_HOST_SIGNATURE_INVALID");
    expect(err.message).to.contain(impostor.address);
  });

  it("refuses a channel key other than the one the registry records for the host", async () => {
    const host = await world.host();
    world.directory.set(host.wallet.address, { registered: true, channelKeyFingerprint: `0x${"00".repeat(32)}` });
    await expectRefused(world, served, host.identity, "CHANNEL_HOST_KEY_MISMATCH");
  });

  it("refuses a peer without a client certificate", async () => {
    const socket = tlsConnect({ host: "127.0.0.1", port: served.server.port, rejectUnauthorized: false, minVersion: "TLSv1.3" });
    const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    socket.on("error", () => undefined); // the server hangs up on it
    socket.resume();
    const { error } = await served.rejected();
    expect((error as ChannelError).code).to.equal("CHANNEL_PEER_CERT_MISSING");
    await closed;
    await assertStillServes(world, served);
  });

  it("refuses a replayed handshake proof (HELLO recorded on another connection)", async () => {
    const host = await world.host();
    const recorded: string[] = [];
    const recording: HostSigner = {
      getAddress: () => host.wallet.getAddress(),
      signMessage: async (m) => {
        const s = await host.wallet.signMessage(m);
        recorded.push(s);
        return s;
      },
    };
    const [first] = await Promise.all([dial(world, served, { ...host.identity, signer: recording }), served.accepted()]);
    await first.close();
    // Someone holding the certificate and TLS key, but not the host's wallet, replays the proof.
    const replaying: HostSigner = { getAddress: () => host.wallet.getAddress(), signMessage: async () => recorded[0]! };
    await expectRefused(world, served, { ...host.identity, signer: replaying }, "CHANNEL_BINDING_INVALID");
  });

  it("refuses a client that offers only TLS 1.2", async () => {
    const host = await world.host();
    const socket = tlsConnect({
      host: "127.0.0.1",
      port: served.server.port,
      key: host.identity.privateKeyPem,
      cert: host.identity.certificatePem,
      rejectUnauthorized: false,
      maxVersion: "TLSv1.2",
    });
    socket.on("error", () => undefined);
    const { error } = await served.rejected();
    expect((error as ChannelError).code).to.equal("CHANNEL_HANDSHAKE");
    await assertStillServes(world, served);
  });

  it("refuses a peer when the host directory cannot answer, naming the cause", async () => {
    const host = await world.host();
    const failing = { ...world.trust(), directory: { lookup: () => Promise.reject(new Error("RPC unavailable")) } };
    const err = await verifyPeerEvidence(host.identity.certificateDer, failing).then(
      () => expect.fail("must refuse"),
      (e: unknown) => e as ChannelError,
    );
    expect(err.code).to.equal("CHANNEL_HANDSHAKE");
    expect(err.message).to.contain("RPC unavailable");
  });

  it("answers malformed and unknown messages with an ERROR and keeps the connection", async () => {
    const host = await world.host();
    const [conn, accepted] = await Promise.all([dial(world, served, host.identity), served.accepted()]);
    const protocolErrors: ChannelError[] = [];
    accepted.on("protocolError", (e: ChannelError) => protocolErrors.push(e));
    const frame = (type: number, body: string) => {
      const h = Buffer.alloc(6);
      h.writeUInt8(1, 0);
      h.writeUInt8(type, 1);
      h.writeUInt32BE(Buffer.byteLength(body), 2);
      return Buffer.concat([h, Buffer.from(body)]);
    };
    await conn.writeRaw(frame(34, "{oops"));
    expect((await conn.receive("ERROR", { timeoutMs: 3000 })).code).to.equal("CHANNEL_MALFORMED_MESSAGE");
    await conn.writeRaw(frame(77, "{}"));
    expect((await conn.receive("ERROR", { timeoutMs: 3000 })).code).to.equal("CHANNEL_UNKNOWN_MESSAGE");
    await conn.writeRaw(frame(34, JSON.stringify({ ...SAMPLES.SESSION_CONFIRM, mac: "nothex" })));
    expect((await conn.receive("ERROR", { timeoutMs: 3000 })).message).to.match(/mac/);
    expect(protocolErrors.map((e) => e.code)).to.deep.equal(["CHANNEL_MALFORMED_MESSAGE", "CHANNEL_UNKNOWN_MESSAGE", "CHANNEL_MALFORMED_MESSAGE"]);
    await conn.send(SAMPLES.SESSION_CONFIRM);
    expect(await accepted.receive("SESSION_CONFIRM", { timeoutMs: 3000 })).to.deep.equal(SAMPLES.SESSION_CONFIRM);
    await conn.close();
  });

  it("closes a connection that announces an oversized message, and serves the others", async () => {
    const host = await world.host();
    const bystander = await world.host();
    const [conn, accepted] = await Promise.all([dial(world, served, host.identity), served.accepted()]);
    const [other, otherAccepted] = await Promise.all([dial(world, served, bystander.identity), served.accepted()]);
    const closed = new Promise<ChannelError>((resolve) => accepted.once("close", resolve));
    const h = Buffer.alloc(6);
    h.writeUInt8(1, 0);
    h.writeUInt8(17, 1);
    h.writeUInt32BE(50 * 1024 * 1024, 2);
    const told = conn.receive("ERROR", { timeoutMs: 3000 });
    await conn.writeRaw(h);
    expect((await told).code).to.equal("CHANNEL_MESSAGE_TOO_LARGE");
    expect((await closed).code).to.equal("CHANNEL_MESSAGE_TOO_LARGE");
    await other.send(SAMPLES.BID_NOTICE);
    expect(await otherAccepted.receive("BID_NOTICE", { timeoutMs: 3000 })).to.deep.equal(SAMPLES.BID_NOTICE);
    await other.close();
  });

  it("closes a connection whose first message is not HELLO", async () => {
    const host = await world.host();
    const socket = tlsConnect({
      host: "127.0.0.1",
      port: served.server.port,
      key: host.identity.privateKeyPem,
      cert: host.identity.certificatePem,
      rejectUnauthorized: false,
      minVersion: "TLSv1.3",
    });
    socket.on("error", () => undefined);
    socket.resume();
    await new Promise((r) => socket.once("secureConnect", r));
    socket.write(encodeMessage(SAMPLES.SESSION_OFFER));
    const { error } = await served.rejected();
    expect((error as ChannelError).code).to.equal("CHANNEL_PROTOCOL");
    expect(error.message).to.match(/before HELLO/);
    await assertStillServes(world, served);
  });

  it("delivers a message to a waiting receive, else to listeners, else to the inbox (discardable); refuses a second HELLO", async () => {
    const host = await world.host();
    const [conn, accepted] = await Promise.all([dial(world, served, host.identity), served.accepted()]);
    await conn.send(SAMPLES.SESSION_ACCEPT); // nobody waits, no listener: inbox
    const seen: string[] = [];
    const listener = (m: { type: string }) => seen.push(m.type);
    await new Promise((r) => setTimeout(r, 50));
    accepted.on("message", listener);
    const waiting = accepted.receive("SESSION_CONFIRM", { timeoutMs: 3000 });
    await conn.send(SAMPLES.BID_NOTICE); // listener
    await conn.send(SAMPLES.SESSION_CONFIRM); // the waiting receive
    expect(await waiting).to.deep.equal(SAMPLES.SESSION_CONFIRM);
    accepted.off("message", listener);
    expect(seen).to.deep.equal(["BID_NOTICE"]);
    expect(await accepted.receive("SESSION_ACCEPT", { timeoutMs: 100 })).to.deep.equal(SAMPLES.SESSION_ACCEPT);
    await conn.send(SAMPLES.MIGRATION_ABORT); // a late message of a finished migration
    await new Promise((r) => setTimeout(r, 50));
    expect(accepted.unread).to.equal(1);
    expect(accepted.discard(SAMPLES.MIGRATION_ABORT.migrationId)).to.equal(1);
    expect(accepted.unread).to.equal(0);
    await conn.writeRaw(encodeMessage({ type: "HELLO", address: host.wallet.address, role: "client", signature: `0x${"11".repeat(65)}` }));
    expect((await conn.receive("ERROR", { timeoutMs: 3000 })).message).to.contain("HELLO after");
    await conn.close();
  });

  it("bounds the connections being verified at once, and drops them on close", async () => {
    const host = await world.host();
    const limited = await ChannelServer.listen({ identity: host.identity, trust: world.trust(), maxPendingHandshakes: 1, handshakeTimeoutMs: 10_000 });
    const rejected = new Promise<RejectedPeer>((r) => limited.once("rejected", r));
    try {
      const silent = await world.host();
      // A peer that completes TLS but never says HELLO stays pending.
      const stalled = tlsConnect({ host: "127.0.0.1", port: limited.port, key: silent.identity.privateKeyPem, cert: silent.identity.certificatePem, rejectUnauthorized: false, minVersion: "TLSv1.3" });
      stalled.on("error", () => undefined);
      stalled.resume();
      await new Promise((r) => stalled.once("secureConnect", r));
      await new Promise((r) => setTimeout(r, 100));
      const second = await world.host();
      const attempt = connectChannel({ host: "127.0.0.1", port: limited.port, identity: second.identity, trust: world.trust() }).catch((e: Error) => e);
      const { error } = await rejected;
      expect(error.message).to.contain("more than 1 connections are being verified");
      expect(await attempt).to.be.instanceOf(Error);
      const stalledClosed = new Promise((r) => stalled.once("close", r));
      await limited.close();
      await stalledClosed;
    } finally {
      limited.removeAllListeners();
    }
  });

  it("the client refuses a server that is not the host it dialed", async () => {
    const wanted = Wallet.createRandom();
    const dialing = await world.host();
    const attempt = dial(world, served, dialing.identity, { expectedAddress: wanted.address });
    const [client] = await Promise.allSettled([attempt, served.rejected()]);
    expect(client.status).to.equal("rejected");
    expect(((client as PromiseRejectedResult).reason as ChannelError).code).to.equal("CHANNEL_UNEXPECTED_PEER");
  });

  it("the client refuses a server whose quote fails its policy", async () => {
    const stale = await world.host({ td: { teeTcbSvn: teeTcbSvn(3, 1) } });
    const server = await ChannelServer.listen({ identity: stale.identity, trust: world.trust() });
    server.on("rejected", () => undefined);
    try {
      const good = await world.host();
      const attempt = connectChannel({ host: "127.0.0.1", port: server.port, identity: good.identity, trust: world.trust() });
      const outcome = await attempt.then(
        () => expect.fail("the client must refuse the server"),
        (err: unknown) => err as ChannelError,
      );
      expect(outcome).to.be.instanceOf(ChannelError);
      expect(outcome.message).to.contain("acceptedTcbStatuses");
    } finally {
      await server.close();
    }
  });

  it("checks a TVM's required TCB capability against the peer when asked to", async () => {
    const host = await world.host();
    const attempt = connectChannel({
      host: "127.0.0.1",
      port: served.server.port,
      identity: host.identity,
      trust: world.trust(),
      tvmCapability: { minTdxModuleMajorVersion: 2 },
    });
    const [client] = await Promise.allSettled([attempt, served.rejected()]);
    expect(((client as PromiseRejectedResult).reason as Error).message).to.contain("minTdxModuleMajorVersion");
  });
});
