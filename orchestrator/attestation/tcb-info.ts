/**
 * TDX TCB info in Intel's format (PCS "tcb" API, tcbInfo version 3, id "TDX"): ordered TCB levels, each
 * with 16 SGX TCB components, a PCE SVN, 16 TDX TCB components, a date and a status, plus the TDX module
 * identities. Signed as Intel signs it: ECDSA P-256 (r||s, hex) over the exact JSON text of `tcbInfo`,
 * by a TCB signing certificate issued by the root.
 */
import { AttestationError, QuoteVerificationError } from "./errors.js";
import { certificatePublicKey, verifyCertificateChainPem, type Certificate } from "./certificates.js";
import { verifyRaw } from "./p256.js";
import { TCB_STATUSES, type TcbStatus } from "./tcb-status.js";
import { verifyQeIdentity, type QeIdentity, type SignedQeIdentity } from "./qe-identity.js";


export interface TcbComponent {
  svn: number;
  category?: string;
  type?: string;
}

export interface TcbLevel {
  tcb: {
    sgxtcbcomponents: TcbComponent[];
    pcesvn: number;
    tdxtcbcomponents: TcbComponent[];
  };
  tcbDate: string;
  tcbStatus: TcbStatus;
  advisoryIDs?: string[];
}

export interface TdxModuleIdentity {
  /** "TDX_" + the module major version, two hex digits: "TDX_01". */
  id: string;
  mrsigner: string;
  attributes: string;
  attributesMask: string;
  tcbLevels: { tcb: { isvsvn: number }; tcbDate: string; tcbStatus: TcbStatus; advisoryIDs?: string[] }[];
}

export interface TcbInfo {
  id: "TDX";
  version: 3;
  issueDate: string;
  nextUpdate: string;
  fmspc: string;
  pceId: string;
  tcbType: 0;
  tcbEvaluationDataNumber: number;
  tdxModule: { mrsigner: string; attributes: string; attributesMask: string };
  tdxModuleIdentities: TdxModuleIdentity[];
  tcbLevels: TcbLevel[];
}

/** The collateral as Intel serves it: the body and the signature over its JSON text. */
export interface SignedTcbInfo {
  tcbInfo: TcbInfo;
  signature: string;
}

/**
 * What a verifier needs besides the quote: the signed TCB info, the signed QE identity, and their issuer
 * chain (PEM, TCB signing certificate first; Intel serves both under the same chain).
 */
export interface QuoteCollateral {
  readonly tcbInfo: SignedTcbInfo;
  readonly qeIdentity: SignedQeIdentity;
  readonly tcbInfoIssuerChain: string;
}

const HEX = /^[0-9a-fA-F]*$/;

function malformed(message: string, details: Record<string, unknown> = {}): AttestationError {
  return new QuoteVerificationError("ATTESTATION_TCB_INFO_MALFORMED", `TCB info: ${message}`, { details });
}

function checkComponents(list: unknown, where: string): void {
  if (!Array.isArray(list) || list.length !== 16 || list.some((c) => !Number.isInteger(c?.svn) || c.svn < 0 || c.svn > 255)) {
    throw malformed(`${where} must list 16 components with svn 0..255`);
  }
}

/** Structural check of a parsed TCB info (e.g. read from a file). */
export function assertSignedTcbInfo(value: unknown): asserts value is SignedTcbInfo {
  const v = value as Partial<SignedTcbInfo> | null;
  if (typeof v !== "object" || v === null || typeof v.signature !== "string" || !HEX.test(v.signature)) throw malformed("signature missing");
  const t = v.tcbInfo as Partial<TcbInfo> | undefined;
  if (typeof t !== "object" || t === null) throw malformed("tcbInfo missing");
  if (t.id !== "TDX" || t.version !== 3) throw malformed("only TDX TCB info version 3 is supported", { id: t.id, version: t.version });
  for (const f of ["issueDate", "nextUpdate", "fmspc", "pceId"] as const) {
    if (typeof t[f] !== "string") throw malformed(`${f} missing`);
  }
  if (Number.isNaN(Date.parse(t.nextUpdate!)) || Number.isNaN(Date.parse(t.issueDate!))) throw malformed("issueDate/nextUpdate are not dates");
  if (!Array.isArray(t.tcbLevels) || t.tcbLevels.length === 0) throw malformed("tcbLevels missing");
  t.tcbLevels.forEach((level, i) => {
    checkComponents(level?.tcb?.sgxtcbcomponents, `tcbLevels[${i}].tcb.sgxtcbcomponents`);
    checkComponents(level?.tcb?.tdxtcbcomponents, `tcbLevels[${i}].tcb.tdxtcbcomponents`);
    if (!Number.isInteger(level.tcb.pcesvn)) throw malformed(`tcbLevels[${i}].tcb.pcesvn missing`);
    if (!(TCB_STATUSES as readonly string[]).includes(level.tcbStatus)) throw malformed(`tcbLevels[${i}].tcbStatus unknown`, { status: level.tcbStatus });
  });
  if (typeof t.tdxModule !== "object" || !Array.isArray(t.tdxModuleIdentities)) throw malformed("tdxModule / tdxModuleIdentities missing");
  for (const identity of t.tdxModuleIdentities) {
    for (const s of identity.tcbLevels ?? []) {
      if (!(TCB_STATUSES as readonly string[]).includes(s.tcbStatus)) throw malformed(`module ${identity.id} tcbStatus unknown`, { status: s.tcbStatus });
    }
  }
}

/** Verifies the collateral's signing chain up to a trusted root and both signatures; returns TCB info and QE identity. */
export async function verifyCollateral(
  collateral: QuoteCollateral,
  options: { trustedRoots: readonly Certificate[]; now?: Date },
): Promise<{ tcbInfo: TcbInfo; qeIdentity: QeIdentity }> {
  assertSignedTcbInfo(collateral.tcbInfo);
  const chain = await verifyCertificateChainPem(collateral.tcbInfoIssuerChain, { ...options, label: "TCB signing" });
  const ok = verifyRaw(
    certificatePublicKey(chain[0]!),
    Buffer.from(JSON.stringify(collateral.tcbInfo.tcbInfo), "utf8"),
    Buffer.from(collateral.tcbInfo.signature, "hex"),
  );
  if (!ok) throw new QuoteVerificationError("ATTESTATION_TCB_INFO_SIGNATURE_INVALID", "TCB info signature does not verify", { details: { fmspc: collateral.tcbInfo.tcbInfo.fmspc } });
  const now = options.now ?? new Date();
  const nextUpdate = new Date(collateral.tcbInfo.tcbInfo.nextUpdate);
  if (now > nextUpdate) {
    throw new QuoteVerificationError("ATTESTATION_TCB_INFO_EXPIRED", `TCB info expired at ${nextUpdate.toISOString()}`, { details: { nextUpdate: nextUpdate.toISOString(), now: now.toISOString() } });
  }
  return { tcbInfo: collateral.tcbInfo.tcbInfo, qeIdentity: verifyQeIdentity(collateral.qeIdentity, chain[0]!, now) };
}
