/**
 * The channel certificate (RA-TLS): a self-signed P-256 certificate for the TLS key whose extensions carry
 * - the host's TDX quote (OID 1.2.840.113741.1.5.5.1.6, the TDX quote OID of RA-TLS), with
 *   REPORTDATA = SHA-512("TVMX-RA-TLS-v1" || 0x00 || SubjectPublicKeyInfo DER || host address), so the
 *   quote vouches for this TLS key and this claimed host;
 * - the host binding (OID 2.25.1441258972, a UUID-form OID whose arc is kept under 2^31 because
 *   the ASN.1 libraries mis-handle larger arcs): SEQUENCE { address OCTET STRING (20),
 *   signature OCTET STRING (65) }, an EIP-191 signature by the host's on-chain key over the key fingerprint.
 * `verifyPeerEvidence` checks all of it, against the deployment's trusted roots, policy and host directory.
 */
import { createHash, generateKeyPairSync, type KeyObject } from "node:crypto";
import * as asn1js from "asn1js";
import { getAddress, verifyMessage } from "ethers";
import { isTvmxError } from "../errors/index.js";
import { assertPolicy, type AttestationPolicy, type Attester, type Certificate, type CollateralSource, type P256KeyPair, type QuoteCollateral, toCryptoKeyPair, type TvmTcbCapability, type VerifiedQuote, verifyQuote, x509 } from "../attestation/index.js";
import { ChannelError } from "./errors.js";
import type { HostDirectory, HostRecord } from "./host-directory.js";

export const TDX_QUOTE_EXTENSION_OID = "1.2.840.113741.1.5.5.1.6";
export const HOST_BINDING_EXTENSION_OID = "2.25.1441258972";
const REPORT_DATA_DOMAIN = Buffer.from("TVMX-RA-TLS-v1\0", "utf8");

/** The host's on-chain key, as an ethers Signer / Wallet provides it. */
export interface HostSigner {
  getAddress(): Promise<string>;
  signMessage(message: string | Uint8Array): Promise<string>;
}

export interface ChannelIdentity {
  readonly address: string;
  readonly privateKeyPem: string;
  readonly certificatePem: string;
  readonly certificateDer: Buffer;
  /** 0x-hex SHA-256 of the certificate's SubjectPublicKeyInfo. */
  readonly keyFingerprint: string;
  readonly quote: Buffer;
  readonly signer: HostSigner;
}

/** What a host trusts when it accepts a peer. */
export interface ChannelTrust {
  readonly trustedRoots: readonly Certificate[];
  readonly collateral: QuoteCollateral | CollateralSource;
  readonly policy: AttestationPolicy;
  readonly directory: HostDirectory;
  readonly now?: () => Date;
}

export interface PeerIdentity {
  /** Checksummed on-chain address of the peer host. */
  readonly address: string;
  readonly keyFingerprint: string;
  readonly quote: VerifiedQuote;
  readonly certificateDer: Buffer;
}

export function keyFingerprintOf(spkiDer: Buffer): string {
  return `0x${createHash("sha256").update(spkiDer).digest("hex")}`;
}

export function channelReportData(spkiDer: Buffer, address: string): Buffer {
  return createHash("sha512").update(REPORT_DATA_DOMAIN).update(spkiDer).update(Buffer.from(getAddress(address).slice(2), "hex")).digest();
}

/** The EIP-191 message the host key signs to vouch for a channel key. */
export function channelKeyMessage(address: string, keyFingerprint: string): string {
  return `TVM Exchange channel key\nhost: ${getAddress(address)}\nkey: ${keyFingerprint}`;
}

export function encodeHostBinding(address: string, signature: string): Buffer {
  const seq = new asn1js.Sequence({
    value: [
      new asn1js.OctetString({ valueHex: new Uint8Array(Buffer.from(getAddress(address).slice(2), "hex")) }),
      new asn1js.OctetString({ valueHex: new Uint8Array(Buffer.from(signature.replace(/^0x/, ""), "hex")) }),
    ],
  });
  return Buffer.from(seq.toBER(false));
}

export function decodeHostBinding(der: Buffer): { address: string; signature: string } {
  const parsed = asn1js.fromBER(new Uint8Array(der));
  const items = parsed.offset !== -1 && parsed.result instanceof asn1js.Sequence ? parsed.result.valueBlock.value : [];
  const [a, s] = items;
  if (items.length !== 2 || !(a instanceof asn1js.OctetString) || !(s instanceof asn1js.OctetString)) {
    throw new ChannelError("CHANNEL_PEER_EVIDENCE_INVALID", "host binding extension is malformed", { details: { reason: "HOST_BINDING_MALFORMED" } });
  }
  const address = Buffer.from(a.valueBlock.valueHexView);
  const signature = Buffer.from(s.valueBlock.valueHexView);
  if (address.length !== 20 || signature.length !== 65) {
    throw new ChannelError("CHANNEL_PEER_EVIDENCE_INVALID", "host binding extension has wrong sizes", { details: { reason: "HOST_BINDING_MALFORMED" } });
  }
  return { address: getAddress(`0x${address.toString("hex")}`), signature: `0x${signature.toString("hex")}` };
}

export interface ChannelCertificateParts {
  readonly keyPair: P256KeyPair;
  readonly quote: Buffer;
  readonly address: string;
  readonly hostSignature: string;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
}

/** Assembles a channel certificate from its parts (no checks: `createChannelIdentity` is the safe way). */
export async function buildChannelCertificate(parts: ChannelCertificateParts): Promise<Certificate> {
  const keys = await toCryptoKeyPair(parts.keyPair);
  const now = Date.now();
  return x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=tvmx host ${getAddress(parts.address)}`,
    notBefore: parts.notBefore ?? new Date(now - 60_000),
    notAfter: parts.notAfter ?? new Date(now + 24 * 3600_000),
    keys,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.Extension(TDX_QUOTE_EXTENSION_OID, false, parts.quote),
      new x509.Extension(HOST_BINDING_EXTENSION_OID, false, encodeHostBinding(parts.address, parts.hostSignature)),
    ],
  });
}

export function spkiOf(publicKey: KeyObject): Buffer {
  return publicKey.export({ format: "der", type: "spki" });
}

/**
 * A fresh TLS key, a quote binding it, the host key's signature over it, and the certificate carrying both.
 * `validityMs` bounds how long the certificate (and so the quote) is accepted (default 24 h).
 */
export async function createChannelIdentity(options: { attester: Attester; signer: HostSigner; validityMs?: number }): Promise<ChannelIdentity> {
  const keyPair = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const address = getAddress(await options.signer.getAddress());
  const spki = spkiOf(keyPair.publicKey);
  const keyFingerprint = keyFingerprintOf(spki);
  const quote = options.attester.quote(channelReportData(spki, address));
  const hostSignature = await options.signer.signMessage(channelKeyMessage(address, keyFingerprint));
  const now = Date.now();
  const cert = await buildChannelCertificate({
    keyPair,
    quote,
    address,
    hostSignature,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + (options.validityMs ?? 24 * 3600_000)),
  });
  return {
    address,
    privateKeyPem: keyPair.privateKey.export({ format: "pem", type: "pkcs8" }) as string,
    certificatePem: cert.toString("pem"),
    certificateDer: Buffer.from(cert.rawData),
    keyFingerprint,
    quote,
    signer: options.signer,
  };
}

function evidenceError(reason: string, message: string, cause?: unknown, details: Record<string, unknown> = {}): ChannelError {
  return new ChannelError("CHANNEL_PEER_EVIDENCE_INVALID", message, { cause, details: { reason, ...details } });
}

/** Throws unless the host binding's signature over the channel key recovers to the address it claims. */
function assertHostSignature(binding: { address: string; signature: string }, keyFingerprint: string): void {
  let signer: string;
  try {
    signer = verifyMessage(channelKeyMessage(binding.address, keyFingerprint), binding.signature);
  } catch (cause) {
    throw new ChannelError("CHANNEL_HOST_SIGNATURE_INVALID", `host signature in the certificate of ${binding.address} does not parse`, { cause });
  }
  if (signer !== binding.address) {
    throw new ChannelError("CHANNEL_HOST_SIGNATURE_INVALID", `channel key of ${binding.address} is signed by ${signer}, not by that host`, {
      details: { claimed: binding.address, signer },
    });
  }
}

/**
 * The host a peer certificate speaks for, as cheaply as that can be known: the certificate parses and its host
 * binding is signed by the key of the address it names (no directory, no quote). TLS has already proved that
 * the peer holds the certificate's key, so only that host (or whoever holds one of its channel keys) can claim
 * this identity: it is what per-peer limits count before the full `verifyPeerEvidence`. Throws as that would.
 */
export function claimedHostOf(certificateDer: Buffer): string {
  let cert: Certificate;
  try {
    cert = new x509.X509Certificate(certificateDer);
  } catch (cause) {
    throw evidenceError("CERT_MALFORMED", "peer certificate does not parse", cause);
  }
  const bindingExt = cert.getExtension(HOST_BINDING_EXTENSION_OID);
  if (!bindingExt) throw evidenceError("EVIDENCE_MISSING", "peer certificate carries no host binding");
  const binding = decodeHostBinding(Buffer.from(bindingExt.value));
  assertHostSignature(binding, keyFingerprintOf(Buffer.from(cert.publicKey.rawData)));
  return binding.address;
}

/**
 * Accepts a peer's certificate only if: it parses and is currently valid and self-signed; the host signature
 * recovers to the claimed address; the directory says that address is a registered host (with this channel
 * key, when it records one) and, for an outgoing connection, the host we meant to reach; its quote verifies up
 * to a trusted root; the quote's REPORTDATA binds this certificate's key and claimed host; and the quote
 * passes the policy.
 */
export async function verifyPeerEvidence(
  certificateDer: Buffer,
  trust: ChannelTrust,
  options: { expectedAddress?: string; tvmCapability?: TvmTcbCapability } = {},
): Promise<PeerIdentity> {
  const now = trust.now?.() ?? new Date();
  let cert: Certificate;
  try {
    cert = new x509.X509Certificate(certificateDer);
  } catch (cause) {
    throw evidenceError("CERT_MALFORMED", "peer certificate does not parse", cause);
  }
  if (now < cert.notBefore || now > cert.notAfter) {
    throw evidenceError("CERT_NOT_VALID_NOW", `peer certificate is not valid at ${now.toISOString()}`, undefined, {
      notBefore: cert.notBefore.toISOString(),
      notAfter: cert.notAfter.toISOString(),
    });
  }
  const selfSigned = await cert.verify({ signatureOnly: true }).catch(() => false);
  if (!selfSigned) throw evidenceError("CERT_SIGNATURE_INVALID", "peer certificate is not self-signed by its key");

  const quoteExt = cert.getExtension(TDX_QUOTE_EXTENSION_OID);
  const bindingExt = cert.getExtension(HOST_BINDING_EXTENSION_OID);
  if (!quoteExt || !bindingExt) throw evidenceError("EVIDENCE_MISSING", "peer certificate carries no quote or no host binding");
  const binding = decodeHostBinding(Buffer.from(bindingExt.value));
  const spki = Buffer.from(cert.publicKey.rawData);
  const keyFingerprint = keyFingerprintOf(spki);

  // Cheap checks first (signature recovery, directory) so an unknown host costs no quote verification.
  assertHostSignature(binding, keyFingerprint);
  if (options.expectedAddress !== undefined && getAddress(options.expectedAddress) !== binding.address) {
    throw new ChannelError("CHANNEL_UNEXPECTED_PEER", `expected host ${getAddress(options.expectedAddress)}, the peer is ${binding.address}`, {
      details: { expected: getAddress(options.expectedAddress), actual: binding.address },
    });
  }
  let record: HostRecord | undefined;
  try {
    record = await trust.directory.lookup(binding.address);
  } catch (cause) {
    throw new ChannelError("CHANNEL_HANDSHAKE", `cannot look up host ${binding.address} in the host directory: ${(cause as Error).message}`, {
      cause,
      details: { host: binding.address },
    });
  }
  if (!record?.registered) {
    throw new ChannelError("CHANNEL_HOST_NOT_REGISTERED", `${binding.address} is not a registered host`, { details: { host: binding.address } });
  }
  if (record.channelKeyFingerprint !== undefined && record.channelKeyFingerprint.toLowerCase() !== keyFingerprint) {
    throw new ChannelError("CHANNEL_HOST_KEY_MISMATCH", `host ${binding.address} presents channel key ${keyFingerprint}, the registry has ${record.channelKeyFingerprint}`, {
      details: { host: binding.address, presented: keyFingerprint, registered: record.channelKeyFingerprint },
    });
  }

  let quote: VerifiedQuote;
  try {
    quote = await verifyQuote(Buffer.from(quoteExt.value), { trustedRoots: trust.trustedRoots, collateral: trust.collateral, now });
  } catch (cause) {
    const code = isTvmxError(cause) ? cause.code : "UNKNOWN";
    throw evidenceError(code, `quote of host ${binding.address} rejected: ${(cause as Error).message}`, cause, { host: binding.address });
  }
  const expected = channelReportData(spki, binding.address);
  if (!expected.equals(quote.quote.body.reportData)) {
    throw new ChannelError("CHANNEL_REPORT_DATA_MISMATCH", `quote of host ${binding.address} does not bind its TLS key`, {
      details: { host: binding.address, expected: expected.toString("hex"), actual: quote.quote.body.reportData.toString("hex") },
    });
  }
  try {
    assertPolicy(quote, trust.policy, { tvmCapability: options.tvmCapability, subject: binding.address });
  } catch (cause) {
    throw evidenceError("POLICY_REJECTED", (cause as Error).message, cause, { host: binding.address });
  }
  return { address: binding.address, keyFingerprint, quote, certificateDer: Buffer.from(certificateDer) };
}
