import { expect } from "chai";
import { Wallet } from "ethers";
import { generateP256KeyPair } from "../../orchestrator/attestation/index.js";
import { toCryptoKeyPair } from "../../orchestrator/attestation/p256.js";
import { x509 } from "../../orchestrator/attestation/x509-provider.js";
import {
  buildChannelCertificate,
  channelKeyMessage,
  ChannelError,
  claimedHostOf,
  HOST_BINDING_EXTENSION_OID,
  keyFingerprintOf,
  spkiOf,
  verifyPeerEvidence,
} from "../../orchestrator/channel/index.js";
import { createWorld, type TestWorld } from "./hosts.js";

async function evidenceError(p: Promise<unknown>): Promise<ChannelError> {
  const err = await p.then(
    () => expect.fail("evidence should be refused"),
    (e: unknown) => e as ChannelError,
  );
  expect(err).to.be.instanceOf(ChannelError);
  return err;
}

describe("channel certificate evidence", () => {
  let world: TestWorld;
  before(async () => {
    world = await createWorld();
  });

  it("accepts a host's own certificate and reports who it is", async () => {
    const host = await world.host();
    const peer = await verifyPeerEvidence(host.identity.certificateDer, world.trust());
    expect(peer.address).to.equal(host.wallet.address);
    expect(peer.keyFingerprint).to.equal(host.identity.keyFingerprint);
    expect(peer.quote.tcb.status).to.equal("UpToDate");
  });

  it("refuses bytes that are not a certificate", async () => {
    const err = await evidenceError(verifyPeerEvidence(Buffer.from("not a certificate"), world.trust()));
    expect(err.details.reason).to.equal("CERT_MALFORMED");
  });

  it("refuses a channel certificate outside its validity", async () => {
    const host = await world.host();
    const later = { ...world.trust(), now: () => new Date(Date.now() + 48 * 3600_000) };
    expect((await evidenceError(verifyPeerEvidence(host.identity.certificateDer, later))).details.reason).to.equal("CERT_NOT_VALID_NOW");
  });

  it("refuses a certificate without the quote and host binding extensions", async () => {
    const keyPair = generateP256KeyPair();
    const plain = await x509.X509CertificateGenerator.createSelfSigned({ name: "CN=plain", keys: await toCryptoKeyPair(keyPair), signingAlgorithm: { name: "ECDSA", hash: "SHA-256" } });
    expect((await evidenceError(verifyPeerEvidence(Buffer.from(plain.rawData), world.trust()))).details.reason).to.equal("EVIDENCE_MISSING");
  });

  it("refuses a malformed host binding", async () => {
    const keyPair = generateP256KeyPair();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      name: "CN=odd",
      keys: await toCryptoKeyPair(keyPair),
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      extensions: [new x509.Extension("1.2.840.113741.1.5.5.1.6", false, Buffer.alloc(10)), new x509.Extension(HOST_BINDING_EXTENSION_OID, false, Buffer.from("3003040100", "hex"))],
    });
    expect((await evidenceError(verifyPeerEvidence(Buffer.from(cert.rawData), world.trust()))).details.reason).to.equal("HOST_BINDING_MALFORMED");
  });

  it("refuses an unregistered host before verifying its quote", async () => {
    const wallet = Wallet.createRandom();
    const keyPair = generateP256KeyPair();
    const spki = spkiOf(keyPair.publicKey);
    const cert = await buildChannelCertificate({
      keyPair,
      quote: Buffer.from("not a quote"), // would fail verification, but the directory refuses first
      address: wallet.address,
      hostSignature: await wallet.signMessage(channelKeyMessage(wallet.address, keyFingerprintOf(spki))),
    });
    expect((await evidenceError(verifyPeerEvidence(Buffer.from(cert.rawData), world.trust()))).code).to.equal("CHANNEL_HOST_NOT_REGISTERED");
  });

  it("names the host a certificate claims only when that host's key signed the channel key (what per-host limits count)", async () => {
    const host = await world.host({ register: false });
    expect(claimedHostOf(host.identity.certificateDer)).to.equal(host.wallet.address);
    const victim = Wallet.createRandom();
    const thief = Wallet.createRandom();
    const keyPair = generateP256KeyPair();
    const spki = spkiOf(keyPair.publicKey);
    const cert = await buildChannelCertificate({
      keyPair,
      quote: Buffer.from("not a quote"),
      address: victim.address,
      hostSignature: await thief.signMessage(channelKeyMessage(victim.address, keyFingerprintOf(spki))),
    });
    expect(() => claimedHostOf(Buffer.from(cert.rawData))).to.throw(ChannelError, "not by that host");
    expect(() => claimedHostOf(Buffer.from("not a certificate"))).to.throw(ChannelError, "does not parse");
  });
});
