/**
 * QE identity collateral (Intel PCS "qe/identity", enclaveIdentity version 2, id "TD_QE"): which quoting
 * enclave may sign TD quotes (MRSIGNER, ISVPRODID, MISCSELECT and ATTRIBUTES under masks) and the status of
 * each QE ISVSVN. Signed like TCB info, by the TCB signing key, over the JSON text of `enclaveIdentity`.
 */
import { QuoteVerificationError } from "./errors.js";
import { certificatePublicKey, type Certificate } from "./certificates.js";
import { verifyRaw } from "./p256.js";
import type { QeReport } from "./qe-report-codec.js";
import { TCB_STATUSES, type TcbStatus } from "./tcb-status.js";

export interface QeIdentity {
  id: "TD_QE";
  version: 2;
  issueDate: string;
  nextUpdate: string;
  tcbEvaluationDataNumber: number;
  /** hex, 4 bytes */
  miscselect: string;
  miscselectMask: string;
  /** hex, 16 bytes */
  attributes: string;
  attributesMask: string;
  /** hex, 32 bytes */
  mrsigner: string;
  isvprodid: number;
  tcbLevels: { tcb: { isvsvn: number }; tcbDate: string; tcbStatus: TcbStatus; advisoryIDs?: string[] }[];
}

export interface SignedQeIdentity {
  enclaveIdentity: QeIdentity;
  signature: string;
}

export interface QeIdentityEvaluation {
  readonly status: TcbStatus;
  readonly tcbDate: string;
  readonly advisoryIds: readonly string[];
}

function malformed(message: string, details: Record<string, unknown> = {}): QuoteVerificationError {
  return new QuoteVerificationError("ATTESTATION_QE_IDENTITY_MALFORMED", `QE identity: ${message}`, { details });
}

const isHex = (v: unknown, bytes: number) => typeof v === "string" && v.length === bytes * 2 && /^[0-9a-fA-F]*$/.test(v);

export function assertSignedQeIdentity(value: unknown): asserts value is SignedQeIdentity {
  const v = value as Partial<SignedQeIdentity> | null;
  if (typeof v !== "object" || v === null || typeof v.signature !== "string") throw malformed("signature missing");
  const e = v.enclaveIdentity as Partial<QeIdentity> | undefined;
  if (typeof e !== "object" || e === null || e.id !== "TD_QE" || e.version !== 2) throw malformed("only TD_QE identity version 2 is supported", { id: e?.id, version: e?.version });
  const hexFields: [keyof QeIdentity, number][] = [["miscselect", 4], ["miscselectMask", 4], ["attributes", 16], ["attributesMask", 16], ["mrsigner", 32]];
  for (const [f, n] of hexFields) if (!isHex(e[f], n)) throw malformed(`${f} must be ${n} bytes of hex`);
  if (!Number.isInteger(e.isvprodid) || Number.isNaN(Date.parse(String(e.nextUpdate)))) throw malformed("isvprodid / nextUpdate missing");
  if (!Array.isArray(e.tcbLevels) || e.tcbLevels.some((l) => !Number.isInteger(l?.tcb?.isvsvn) || !(TCB_STATUSES as readonly string[]).includes(l.tcbStatus))) {
    throw malformed("tcbLevels malformed");
  }
}

/** Checks the signature by the (already verified) TCB signing certificate and the validity period. */
export function verifyQeIdentity(signed: SignedQeIdentity, tcbSigning: Certificate, now: Date): QeIdentity {
  assertSignedQeIdentity(signed);
  if (!verifyRaw(certificatePublicKey(tcbSigning), Buffer.from(JSON.stringify(signed.enclaveIdentity), "utf8"), Buffer.from(signed.signature, "hex"))) {
    throw new QuoteVerificationError("ATTESTATION_QE_IDENTITY_SIGNATURE_INVALID", "QE identity signature does not verify");
  }
  const nextUpdate = new Date(signed.enclaveIdentity.nextUpdate);
  if (now > nextUpdate) {
    throw new QuoteVerificationError("ATTESTATION_TCB_INFO_EXPIRED", `QE identity expired at ${nextUpdate.toISOString()}`, { details: { nextUpdate: nextUpdate.toISOString() } });
  }
  return signed.enclaveIdentity;
}

function maskedEqual(actual: Buffer, expectedHex: string, maskHex: string): boolean {
  const expected = Buffer.from(expectedHex, "hex");
  const mask = Buffer.from(maskHex, "hex");
  return actual.length === mask.length && mask.every((m, i) => (actual[i]! & m) === (expected[i]! & m));
}

/** The QE report must come from the identified quoting enclave; its ISVSVN gives the QE's TCB status. */
export function evaluateQeIdentity(identity: QeIdentity, report: QeReport): QeIdentityEvaluation {
  const misc = Buffer.alloc(4);
  misc.writeUInt32LE(report.miscSelect >>> 0, 0);
  const mismatches: string[] = [];
  if (report.mrSigner.toString("hex") !== identity.mrsigner.toLowerCase()) mismatches.push("MRSIGNER");
  if (report.isvProdId !== identity.isvprodid) mismatches.push("ISVPRODID");
  if (!maskedEqual(misc, identity.miscselect, identity.miscselectMask)) mismatches.push("MISCSELECT");
  if (!maskedEqual(report.attributes, identity.attributes, identity.attributesMask)) mismatches.push("ATTRIBUTES");
  if (mismatches.length > 0) {
    throw new QuoteVerificationError("ATTESTATION_QE_IDENTITY_MISMATCH", `QE report is not from the identified TD quoting enclave (${mismatches.join(", ")} differ)`, { details: {
      mismatches,
      mrSigner: report.mrSigner.toString("hex"),
      isvProdId: report.isvProdId,
    } });
  }
  const level = identity.tcbLevels.find((l) => report.isvSvn >= l.tcb.isvsvn);
  if (!level) {
    throw new QuoteVerificationError("ATTESTATION_TCB_NOT_SUPPORTED", `QE ISVSVN ${report.isvSvn} is below every QE identity level`, { details: { isvSvn: report.isvSvn } });
  }
  return { status: level.tcbStatus, tcbDate: level.tcbDate, advisoryIds: level.advisoryIDs ?? [] };
}
