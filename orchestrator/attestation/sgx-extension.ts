/**
 * The Intel SGX extension of a PCK certificate (OID 1.2.840.113741.1.13.1), as Intel's PCK Certificate
 * and CRL Profile defines it: a SEQUENCE of (OID, value) pairs for PPID, TCB (16 SGX TCB component SVNs,
 * PCESVN, CPUSVN), PCE-ID, FMSPC and SGX type. Encoded and decoded with asn1js (the ASN.1 library that
 * @peculiar/x509 itself rests on).
 */
import * as asn1js from "asn1js";
import { AttestationError } from "./errors.js";

export const SGX_EXTENSION_OID = "1.2.840.113741.1.13.1";
const OID = {
  ppid: `${SGX_EXTENSION_OID}.1`,
  tcb: `${SGX_EXTENSION_OID}.2`,
  pceSvn: `${SGX_EXTENSION_OID}.2.17`,
  cpuSvn: `${SGX_EXTENSION_OID}.2.18`,
  pceId: `${SGX_EXTENSION_OID}.3`,
  fmspc: `${SGX_EXTENSION_OID}.4`,
  sgxType: `${SGX_EXTENSION_OID}.5`,
} as const;
const componentOid = (i: number) => `${OID.tcb}.${i + 1}`;

/** What a PCK certificate says about its platform. */
export interface PckExtension {
  readonly ppid: Buffer; // 16
  /** The 16 SGX TCB component SVNs (CPUSVN bytes as Intel lists them). */
  readonly sgxTcbComponents: readonly number[];
  readonly pceSvn: number;
  readonly cpuSvn: Buffer; // 16
  readonly pceId: Buffer; // 2
  readonly fmspc: Buffer; // 6
  /** 0 = Standard, 1 = Scalable. */
  readonly sgxType: number;
}

const pair = (oid: string, value: asn1js.BaseBlock) =>
  new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: oid }), value] });
const octets = (b: Buffer) => new asn1js.OctetString({ valueHex: new Uint8Array(b) });

export function encodePckExtension(ext: PckExtension): Buffer {
  if (ext.sgxTcbComponents.length !== 16) {
    throw new AttestationError("ATTESTATION_CONFIG_INVALID", "a PCK TCB has 16 SGX components", { details: { count: ext.sgxTcbComponents.length } });
  }
  const tcb = new asn1js.Sequence({
    value: [
      ...ext.sgxTcbComponents.map((svn, i) => pair(componentOid(i), new asn1js.Integer({ value: svn }))),
      pair(OID.pceSvn, new asn1js.Integer({ value: ext.pceSvn })),
      pair(OID.cpuSvn, octets(ext.cpuSvn)),
    ],
  });
  const seq = new asn1js.Sequence({
    value: [
      pair(OID.ppid, octets(ext.ppid)),
      pair(OID.tcb, tcb),
      pair(OID.pceId, octets(ext.pceId)),
      pair(OID.fmspc, octets(ext.fmspc)),
      pair(OID.sgxType, new asn1js.Enumerated({ value: ext.sgxType })),
    ],
  });
  return Buffer.from(seq.toBER(false));
}

function invalid(message: string, details: Record<string, unknown> = {}): AttestationError {
  return new AttestationError("ATTESTATION_PCK_EXTENSION_INVALID", `PCK certificate SGX extension: ${message}`, { details });
}

/** (OID → value) of a SEQUENCE of (OID, value) pairs. */
function pairsOf(block: asn1js.AsnType, where: string): Map<string, asn1js.BaseBlock> {
  if (!(block instanceof asn1js.Sequence)) throw invalid(`${where} is not a SEQUENCE`);
  const out = new Map<string, asn1js.BaseBlock>();
  for (const item of block.valueBlock.value) {
    if (!(item instanceof asn1js.Sequence) || item.valueBlock.value.length !== 2) throw invalid(`${where} holds a malformed entry`);
    const [oid, value] = item.valueBlock.value;
    if (!(oid instanceof asn1js.ObjectIdentifier)) throw invalid(`${where} entry lacks its OID`);
    out.set(oid.valueBlock.toString(), value!);
  }
  return out;
}

function octetsOf(map: Map<string, asn1js.BaseBlock>, oid: string, size: number, name: string): Buffer {
  const v = map.get(oid);
  if (!(v instanceof asn1js.OctetString)) throw invalid(`${name} missing`, { oid });
  const b = Buffer.from(v.valueBlock.valueHexView);
  if (b.length !== size) throw invalid(`${name} must be ${size} bytes`, { length: b.length });
  return b;
}

function intOf(map: Map<string, asn1js.BaseBlock>, oid: string, name: string): number {
  const v = map.get(oid);
  if (!(v instanceof asn1js.Integer || v instanceof asn1js.Enumerated)) throw invalid(`${name} missing`, { oid });
  const n = v.valueBlock.valueDec;
  if (!Number.isSafeInteger(n) || n < 0 || n > 0xffff) throw invalid(`${name} out of range`, { value: n });
  return n;
}

export function decodePckExtension(der: ArrayBuffer | Buffer): PckExtension {
  const bytes = Buffer.isBuffer(der) ? new Uint8Array(der) : new Uint8Array(der);
  const parsed = asn1js.fromBER(bytes);
  if (parsed.offset === -1) throw invalid("not DER", { error: parsed.result.error });
  const top = pairsOf(parsed.result, "extension");
  const tcbBlock = top.get(OID.tcb);
  if (!tcbBlock) throw invalid("TCB missing");
  const tcb = pairsOf(tcbBlock, "TCB");
  return {
    ppid: octetsOf(top, OID.ppid, 16, "PPID"),
    sgxTcbComponents: Array.from({ length: 16 }, (_, i) => intOf(tcb, componentOid(i), `SGX TCB component ${i + 1}`)),
    pceSvn: intOf(tcb, OID.pceSvn, "PCESVN"),
    cpuSvn: octetsOf(tcb, OID.cpuSvn, 16, "CPUSVN"),
    pceId: octetsOf(top, OID.pceId, 2, "PCE-ID"),
    fmspc: octetsOf(top, OID.fmspc, 6, "FMSPC"),
    sgxType: intOf(top, OID.sgxType, "SGX type"),
  };
}
