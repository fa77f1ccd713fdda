/**
 * X.509 certificate chains of the attestation PKI: parsing a PEM chain and verifying it up to a
 * configured trust anchor. A trust anchor is a root certificate's subject name and public key (RFC 5280
 * §6.1.1 (d)), so a deployment trusts a root by the certificate file it names.
 */
import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import { QuoteVerificationError } from "./errors.js";
import { x509 } from "./x509-provider.js";

export type Certificate = x509.X509Certificate;

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The certificates of a PEM text, in order. Throws ATTESTATION_CERT_MALFORMED. */
export function parseCertificateChain(pem: string): Certificate[] {
  const blocks = pem.match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new QuoteVerificationError("ATTESTATION_CERT_MALFORMED", "no PEM certificate found");
  return blocks.map((block, index) => {
    try {
      return new x509.X509Certificate(block);
    } catch (cause) {
      throw new QuoteVerificationError("ATTESTATION_CERT_MALFORMED", `certificate ${index} of the chain does not parse`, { details: { index }, cause });
    }
  });
}

export function certificatePublicKey(cert: Certificate): KeyObject {
  return createPublicKey({ key: Buffer.from(cert.publicKey.rawData), format: "der", type: "spki" });
}

function isCa(cert: Certificate): boolean {
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  return bc?.ca === true;
}

async function signedBy(cert: Certificate, issuer: Certificate): Promise<boolean> {
  try {
    return await cert.verify({ publicKey: issuer.publicKey, signatureOnly: true });
  } catch {
    // A signature that cannot even be checked (wrong algorithm, malformed) is a broken link: reported by the caller.
    return false;
  }
}

function sameAnchor(a: Certificate, b: Certificate): boolean {
  return a.subject === b.subject && Buffer.from(a.publicKey.rawData).equals(Buffer.from(b.publicKey.rawData));
}

export interface ChainCheckOptions {
  readonly trustedRoots: readonly Certificate[];
  readonly now?: Date;
  /** Names the chain in errors, e.g. "PCK" or "TCB signing". */
  readonly label?: string;
}

/**
 * Verifies a chain given leaf first and ending in a self-signed root: each certificate is signed by the next
 * (issuer name and signature), every issuer is a CA, all are valid at `now`, and the root is a trusted anchor.
 * Returns the chain.
 */
export async function verifyCertificateChain(chain: readonly Certificate[], options: ChainCheckOptions): Promise<Certificate[]> {
  const label = options.label ?? "certificate";
  const now = options.now ?? new Date();
  if (chain.length < 2) {
    throw new QuoteVerificationError("ATTESTATION_CERT_CHAIN_BROKEN", `${label} chain must hold the leaf and its root`, { details: { length: chain.length } });
  }
  checkValidity(chain, now, label);
  for (let i = 0; i < chain.length; i++) {
    const cert = chain[i]!;
    const issuer = chain[i + 1] ?? cert; // the last one must be self-signed
    if (cert.issuer !== issuer.subject || !(await signedBy(cert, issuer)) || !isCa(issuer)) {
      throw new QuoteVerificationError("ATTESTATION_CERT_CHAIN_BROKEN", `${label} chain is broken: "${cert.subject}" is not signed by "${issuer.subject}"`, { details: {
        index: i,
        subject: cert.subject,
        issuer: cert.issuer,
        nextSubject: issuer.subject,
      } });
    }
  }
  const root = chain[chain.length - 1]!;
  if (!options.trustedRoots.some((anchor) => sameAnchor(anchor, root))) {
    throw new QuoteVerificationError("ATTESTATION_UNTRUSTED_ROOT", `${label} chain ends in a root that is not trusted: "${root.subject}"`, { details: {
      root: root.subject,
      rootKeySha256: Buffer.from(await root.publicKey.getThumbprint("SHA-256")).toString("hex"),
      trusted: options.trustedRoots.map((r) => r.subject),
    } });
  }
  return [...chain];
}

const CHAIN_CACHE_SIZE = 256;
/** Chains already parsed and verified, by SHA-256 of (PEM, trust anchors): parsing dominates verification cost. */
const verifiedChains = new Map<string, Certificate[]>();

function anchorsKey(roots: readonly Certificate[]): string {
  return roots.map((r) => `${r.subject}|${Buffer.from(r.publicKey.rawData).toString("base64")}`).sort().join("\n");
}

function checkValidity(chain: readonly Certificate[], now: Date, label: string): void {
  chain.forEach((cert, i) => {
    if (now < cert.notBefore || now > cert.notAfter) {
      throw new QuoteVerificationError("ATTESTATION_CERT_NOT_VALID_NOW", `${label} chain certificate "${cert.subject}" is not valid at ${now.toISOString()}`, { details: {
        index: i,
        subject: cert.subject,
        notBefore: cert.notBefore.toISOString(),
        notAfter: cert.notAfter.toISOString(),
      } });
    }
  });
}

/**
 * Parses and verifies a PEM chain (see `verifyCertificateChain`), remembering chains that verified so the
 * same platform's next quote costs only the validity-period check. Failures are not cached.
 */
export async function verifyCertificateChainPem(pem: string, options: ChainCheckOptions): Promise<Certificate[]> {
  const key = createHash("sha256").update(pem).update("\0").update(anchorsKey(options.trustedRoots)).digest("hex");
  const cached = verifiedChains.get(key);
  if (cached) {
    checkValidity(cached, options.now ?? new Date(), options.label ?? "certificate");
    // Refresh its place in the LRU order.
    verifiedChains.delete(key);
    verifiedChains.set(key, cached);
    return [...cached];
  }
  const chain = await verifyCertificateChain(parseCertificateChain(pem), options);
  verifiedChains.set(key, chain);
  if (verifiedChains.size > CHAIN_CACHE_SIZE) verifiedChains.delete(verifiedChains.keys().next().value!);
  return [...chain];
}

/** Reads a PEM file's worth of trusted root certificates. */
export function parseTrustedRoots(pem: string): Certificate[] {
  return parseCertificateChain(pem);
}
