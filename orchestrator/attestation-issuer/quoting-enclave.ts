/**
 * The simulated TD quoting enclave, signing as DCAP's ECDSA quote generation does:
 * - the platform's PCK key (certified by the provisioning authority) signs the QE report, whose
 *   REPORTDATA is SHA-256(attestation public key || QE auth data) || 32 zero bytes, binding the
 *   attestation key to the platform;
 * - the attestation key signs header || TD quote body.
 */
import { createHash } from "node:crypto";
import type { TdReportBody } from "../tdx/index.js";
import { ATTESTATION_KEY_TYPE_ECDSA_P256, AttestationError, encodeQeReport, encodeQuote, encodeSignedPart, generateP256KeyPair, INTEL_QE_VENDOR_ID, type P256KeyPair, type PckExtension, type QeIdentity, type QeReport, QUOTE_VERSION_4, type QuoteHeader, rawPublicKey, sha256, signRaw, TEE_TYPE_TDX } from "../attestation/index.js";
import type { ProvisioningAuthority } from "./provisioning-authority.js";

/** The platform TCB as the PCK certificate records it (what the CPU's fuses and microcode report). */
export interface PlatformTcb {
  /** 16 SGX TCB component SVNs. */
  readonly sgxTcbComponents: readonly number[];
  readonly pceSvn: number;
  /** FMSPC: family-model-stepping-platform-custom SKU, 6 bytes. */
  readonly fmspc: Buffer;
  /** PCE-ID, 2 bytes. */
  readonly pceId: Buffer;
  /** The quoting enclave's SVN. */
  readonly qeSvn: number;
  /** PPID, 16 bytes; derived from the FMSPC and key when absent. */
  readonly ppid?: Buffer;
}

export interface QuotingEnclaveKeys {
  /** The PCK key pair of the platform. */
  readonly pck: P256KeyPair;
  /** PEM chain: PCK certificate, PCK CA, root. */
  readonly pckCertChainPem: string;
  /** The attestation key (the CPU model's ECDSA P-256 key when it provides one). */
  readonly attestationKey: P256KeyPair;
}

const QE_MRENCLAVE = createHash("sha256").update("tvmx simulated TD quoting enclave").digest();
const QE_MRSIGNER = createHash("sha256").update("tvmx simulated quoting enclave signer").digest();
/** Intel's TD QE ISV product id. */
const TD_QE_ISV_PROD_ID = 2;
/** SGX attributes of a production QE: INIT | MODE64BIT, XFRM x87|SSE. */
const QE_ATTRIBUTES = Buffer.from("1100000000000000e700000000000000", "hex");

export class QuotingEnclave {
  readonly #keys: QuotingEnclaveKeys;
  readonly #tcb: PlatformTcb;
  readonly #qeAuthData: Buffer;

  constructor(keys: QuotingEnclaveKeys, tcb: PlatformTcb, qeAuthData: Buffer = Buffer.alloc(0)) {
    if (tcb.sgxTcbComponents.length !== 16 || tcb.fmspc.length !== 6 || tcb.pceId.length !== 2) {
      throw new AttestationError("ATTESTATION_CONFIG_INVALID", "platform TCB needs 16 SGX components, a 6-byte FMSPC and a 2-byte PCE-ID");
    }
    this.#keys = keys;
    this.#tcb = tcb;
    this.#qeAuthData = qeAuthData;
  }

  /** Provisions a platform: a fresh PCK key certified by `authority` for `tcb`, and the attestation key. */
  static async provision(
    authority: ProvisioningAuthority,
    tcb: PlatformTcb,
    options: { attestationKey?: P256KeyPair; pck?: P256KeyPair; qeAuthData?: Buffer } = {},
  ): Promise<QuotingEnclave> {
    const pck = options.pck ?? generateP256KeyPair();
    const extension = pckExtensionOf(tcb, rawPublicKey(pck.publicKey));
    const { chainPem } = await authority.issuePckCertificate(pck.publicKey, extension);
    return new QuotingEnclave(
      { pck, pckCertChainPem: chainPem, attestationKey: options.attestationKey ?? generateP256KeyPair() },
      tcb,
      options.qeAuthData,
    );
  }

  get platformTcb(): PlatformTcb {
    return this.#tcb;
  }

  get pckCertChainPem(): string {
    return this.#keys.pckCertChainPem;
  }

  /** A TDX quote v4 over `body`. */
  quote(body: TdReportBody): Buffer {
    const attestationKey = rawPublicKey(this.#keys.attestationKey.publicKey);
    const header: QuoteHeader = {
      version: QUOTE_VERSION_4,
      attestationKeyType: ATTESTATION_KEY_TYPE_ECDSA_P256,
      teeType: TEE_TYPE_TDX,
      qeSvn: this.#tcb.qeSvn,
      pceSvn: this.#tcb.pceSvn,
      qeVendorId: INTEL_QE_VENDOR_ID,
      // DCAP puts the QE id (a platform identifier) in the first 16 bytes of user data.
      userData: Buffer.concat([sha256(Buffer.from(this.#keys.pckCertChainPem)).subarray(0, 16), Buffer.alloc(4)]),
    };
    const qeReport: QeReport = {
      cpuSvn: Buffer.from(this.#tcb.sgxTcbComponents),
      miscSelect: 0,
      attributes: QE_ATTRIBUTES,
      mrEnclave: QE_MRENCLAVE,
      mrSigner: QE_MRSIGNER,
      isvProdId: TD_QE_ISV_PROD_ID,
      isvSvn: this.#tcb.qeSvn,
      reportData: Buffer.concat([sha256(attestationKey, this.#qeAuthData), Buffer.alloc(32)]),
    };
    const signedPart = encodeSignedPart(header, body);
    const qeReportBytes = encodeQeReport(qeReport);
    return encodeQuote(signedPart, {
      signature: signRaw(this.#keys.attestationKey.privateKey, signedPart),
      attestationKey,
      qeReport,
      qeReportSignature: signRaw(this.#keys.pck.privateKey, qeReportBytes),
      qeAuthData: this.#qeAuthData,
      pckCertChainPem: this.#keys.pckCertChainPem,
    });
  }
}

export function pckExtensionOf(tcb: PlatformTcb, pckPublicKeyRaw: Buffer): PckExtension {
  return {
    ppid: tcb.ppid ?? sha256(tcb.fmspc, pckPublicKeyRaw).subarray(0, 16),
    sgxTcbComponents: tcb.sgxTcbComponents,
    pceSvn: tcb.pceSvn,
    cpuSvn: Buffer.from(tcb.sgxTcbComponents),
    pceId: tcb.pceId,
    fmspc: tcb.fmspc,
    sgxType: 0,
  };
}

/**
 * The identity of the simulated TD quoting enclave as the provisioning service publishes it: its MRSIGNER and
 * product id, attributes under Intel's usual mask, and its TCB levels (ISVSVN ≥ 8 UpToDate, 6-7 OutOfDate,
 * below Revoked).
 */
export function defaultQeIdentity(options: { issueDate?: Date; nextUpdate?: Date } = {}): QeIdentity {
  return {
    id: "TD_QE",
    version: 2,
    issueDate: (options.issueDate ?? new Date("2025-01-01T00:00:00Z")).toISOString(),
    nextUpdate: (options.nextUpdate ?? new Date("2050-01-01T00:00:00Z")).toISOString(),
    tcbEvaluationDataNumber: 17,
    miscselect: "00000000",
    miscselectMask: "ffffffff",
    attributes: QE_ATTRIBUTES.toString("hex"),
    attributesMask: "fbffffffffffffff0000000000000000",
    mrsigner: QE_MRSIGNER.toString("hex"),
    isvprodid: TD_QE_ISV_PROD_ID,
    tcbLevels: [
      { tcb: { isvsvn: 8 }, tcbDate: "2025-06-01T00:00:00Z", tcbStatus: "UpToDate" },
      { tcb: { isvsvn: 6 }, tcbDate: "2024-03-01T00:00:00Z", tcbStatus: "OutOfDate", advisoryIDs: ["INTEL-SA-00615"] },
      { tcb: { isvsvn: 0 }, tcbDate: "2023-01-01T00:00:00Z", tcbStatus: "Revoked", advisoryIDs: ["INTEL-SA-00477"] },
    ],
  };
}
