/**
 * The simulated provisioning certification service (the role Intel's PCS plays): a root CA, a PCK
 * platform CA under it that issues PCK certificates (carrying the SGX extension with FMSPC and TCB), and
 * a TCB signing certificate under the root that signs TCB info and the QE identity. Given a seed, its keys are derived from
 * it, so separate processes (e.g. two CLI runs) share one root.
 */
import { createHash, type KeyObject, type webcrypto } from "node:crypto";
import { type Certificate, certificatePublicKey, deriveP256KeyPair, encodePckExtension, generateP256KeyPair, type P256KeyPair, type PckExtension, type QeIdentity, type QuoteCollateral, SGX_EXTENSION_OID, type SignedQeIdentity, type SignedTcbInfo, type TcbInfo, toCryptoKeyPair, x509 } from "../attestation/index.js";
import { signQeIdentity, signTcbInfo } from "./collateral-signing.js";
import { defaultQeIdentity } from "./quoting-enclave.js";

export interface ProvisioningAuthorityOptions {
  /** Derive every key from this seed (deterministic authority); random keys without it. */
  readonly seed?: string;
  /** Validity of the CA certificates (default 2025-01-01 .. 2050-01-01). */
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** Validity of the PCK certificates it issues (default: the CA validity). */
  readonly pckNotAfter?: Date;
}

const SIGNING = { name: "ECDSA", hash: "SHA-256" } as const;
const DEFAULT_NOT_BEFORE = new Date("2025-01-01T00:00:00Z");
const DEFAULT_NOT_AFTER = new Date("2050-01-01T00:00:00Z");

export const AUTHORITY_NAMES = {
  root: "CN=TVMX Simulated SGX Root CA, O=TVM Exchange Simulated Provisioning, C=US",
  pckCa: "CN=TVMX Simulated SGX PCK Platform CA, O=TVM Exchange Simulated Provisioning, C=US",
  tcbSigning: "CN=TVMX Simulated SGX TCB Signing, O=TVM Exchange Simulated Provisioning, C=US",
  pck: "CN=TVMX Simulated SGX PCK Certificate, O=TVM Exchange Simulated Provisioning, C=US",
} as const;

function serial(label: string): string {
  // Positive, 16 bytes.
  return "01" + createHash("sha256").update(label).digest("hex").slice(0, 30);
}

export class ProvisioningAuthority {
  readonly #pckCaKey: P256KeyPair;
  readonly #tcbSigningKey: P256KeyPair;
  readonly #pckNotAfter: Date;
  readonly #notBefore: Date;

  private constructor(
    readonly rootCertificate: Certificate,
    readonly pckCaCertificate: Certificate,
    readonly tcbSigningCertificate: Certificate,
    keys: { pckCa: P256KeyPair; tcbSigning: P256KeyPair },
    validity: { notBefore: Date; pckNotAfter: Date },
  ) {
    this.#pckCaKey = keys.pckCa;
    this.#tcbSigningKey = keys.tcbSigning;
    this.#notBefore = validity.notBefore;
    this.#pckNotAfter = validity.pckNotAfter;
  }

  static async create(options: ProvisioningAuthorityOptions = {}): Promise<ProvisioningAuthority> {
    const key = (label: string) => (options.seed === undefined ? generateP256KeyPair() : deriveP256KeyPair(options.seed, label));
    const rootKey = key("root");
    const pckCaKey = key("pck-ca");
    const tcbKey = key("tcb-signing");
    const notBefore = options.notBefore ?? DEFAULT_NOT_BEFORE;
    const notAfter = options.notAfter ?? DEFAULT_NOT_AFTER;
    const rootPair = await toCryptoKeyPair(rootKey);
    const tag = options.seed ?? Math.random().toString(36);
    const caExtensions = async (publicKey: webcrypto.CryptoKey) => [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
    ];
    const root = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(`${tag} root`),
      name: AUTHORITY_NAMES.root,
      notBefore,
      notAfter,
      keys: rootPair,
      signingAlgorithm: SIGNING,
      extensions: await caExtensions(rootPair.publicKey),
    });
    const issue = async (name: string, pair: P256KeyPair, label: string, ca: boolean) => {
      const cryptoPair = await toCryptoKeyPair(pair);
      return x509.X509CertificateGenerator.create({
        serialNumber: serial(`${tag} ${label}`),
        subject: name,
        issuer: root.subject,
        notBefore,
        notAfter,
        publicKey: cryptoPair.publicKey,
        signingKey: rootPair.privateKey,
        signingAlgorithm: SIGNING,
        extensions: ca
          ? await caExtensions(cryptoPair.publicKey)
          : [
              new x509.BasicConstraintsExtension(false, undefined, true),
              new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation, true),
            ],
      });
    };
    const pckCa = await issue(AUTHORITY_NAMES.pckCa, pckCaKey, "pck-ca", true);
    const tcbSigning = await issue(AUTHORITY_NAMES.tcbSigning, tcbKey, "tcb-signing", false);
    return new ProvisioningAuthority(root, pckCa, tcbSigning, { pckCa: pckCaKey, tcbSigning: tcbKey }, {
      notBefore,
      pckNotAfter: options.pckNotAfter ?? notAfter,
    });
  }

  get rootPem(): string {
    return this.rootCertificate.toString("pem");
  }

  /** TCB signing certificate and root, PEM (the "TCB-Info-Issuer-Chain"). */
  get tcbInfoIssuerChainPem(): string {
    return [this.tcbSigningCertificate.toString("pem"), this.rootPem].join("\n");
  }

  /** Certifies a platform's PCK public key; returns the PEM chain leaf, PCK CA, root (as in a quote). */
  async issuePckCertificate(pckPublicKey: KeyObject, extension: PckExtension): Promise<{ certificate: Certificate; chainPem: string }> {
    const caPair = await toCryptoKeyPair(this.#pckCaKey);
    const publicKey = await x509.PublicKey.create(pckPublicKey.export({ format: "der", type: "spki" }));
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: serial(`pck ${publicKey.rawData.byteLength} ${Buffer.from(publicKey.rawData).toString("hex")}`),
      subject: AUTHORITY_NAMES.pck,
      issuer: this.pckCaCertificate.subject,
      notBefore: this.#notBefore,
      notAfter: this.#pckNotAfter,
      publicKey,
      signingKey: caPair.privateKey,
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation, true),
        new x509.Extension(SGX_EXTENSION_OID, false, encodePckExtension(extension)),
      ],
    });
    const chainPem = [certificate.toString("pem"), this.pckCaCertificate.toString("pem"), this.rootPem].join("\n");
    return { certificate, chainPem };
  }

  signTcbInfo(tcbInfo: TcbInfo): SignedTcbInfo {
    return signTcbInfo(tcbInfo, this.#tcbSigningKey.privateKey);
  }

  signQeIdentity(identity: QeIdentity): SignedQeIdentity {
    return signQeIdentity(identity, this.#tcbSigningKey.privateKey);
  }

  /** The collateral a verifier fetches for a platform: signed TCB info, signed QE identity, their issuer chain. */
  collateral(tcbInfo: TcbInfo, qeIdentity: QeIdentity = defaultQeIdentity()): QuoteCollateral {
    return { tcbInfo: this.signTcbInfo(tcbInfo), qeIdentity: this.signQeIdentity(qeIdentity), tcbInfoIssuerChain: this.tcbInfoIssuerChainPem };
  }

  /** The PCK CA's public key (for tests that check a certificate was issued here). */
  get pckCaPublicKey(): KeyObject {
    return certificatePublicKey(this.pckCaCertificate);
  }
}
