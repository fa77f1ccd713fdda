import type { TdReportBody } from "../tdx/index.js";
import { QuoteParseError } from "./errors.js";
import { decodeQeReport, encodeQeReport, type QeReport } from "./qe-report-codec.js";
import {
  ATTESTATION_KEY_TYPE_ECDSA_P256,
  CERTIFICATION_DATA_TYPE_PCK_CERT_CHAIN,
  CERTIFICATION_DATA_TYPE_QE_REPORT,
  ECDSA_PUBLIC_KEY_SIZE,
  ECDSA_SIGNATURE_SIZE,
  HEADER_OFFSETS,
  QE_REPORT_SIZE,
  QUOTE_HEADER_SIZE,
  QUOTE_MAX_SIZE,
  QUOTE_VERSION_4,
  SIGNATURE_DATA_LENGTH_OFFSET,
  SIGNATURE_DATA_OFFSET,
  TD_QUOTE_BODY_SIZE,
  TEE_TYPE_TDX,
} from "./quote-format.js";
import { decodeTdQuoteBody, encodeTdQuoteBody } from "./td-report-codec.js";

export interface QuoteHeader {
  readonly version: number;
  readonly attestationKeyType: number;
  readonly teeType: number;
  readonly qeSvn: number;
  readonly pceSvn: number;
  readonly qeVendorId: Buffer; // 16
  readonly userData: Buffer; // 20
}

/** The ECDSA quote signature data with QE report certification data (type 6) inside. */
export interface QuoteSignatureData {
  /** r||s over header||body, by the attestation key. */
  readonly signature: Buffer;
  /** x||y of the P-256 attestation key. */
  readonly attestationKey: Buffer;
  readonly qeReport: QeReport;
  /** The QE report's raw 384 bytes (what the PCK signature covers). */
  readonly qeReportBytes: Buffer;
  /** r||s over the QE report, by the PCK key. */
  readonly qeReportSignature: Buffer;
  readonly qeAuthData: Buffer;
  /** The PCK certificate chain, PEM, leaf first (certification data type 5). */
  readonly pckCertChainPem: string;
}

export interface TdxQuote {
  readonly header: QuoteHeader;
  readonly body: TdReportBody;
  readonly signatureData: QuoteSignatureData;
  /** header||body: the bytes the attestation key signs. */
  readonly signedBytes: Buffer;
}

export interface QuoteSignatureInput {
  readonly signature: Buffer;
  readonly attestationKey: Buffer;
  readonly qeReport: QeReport;
  readonly qeReportSignature: Buffer;
  readonly qeAuthData: Buffer;
  readonly pckCertChainPem: string;
}

export function encodeQuoteHeader(h: QuoteHeader): Buffer {
  const out = Buffer.alloc(QUOTE_HEADER_SIZE);
  out.writeUInt16LE(h.version, HEADER_OFFSETS.version);
  out.writeUInt16LE(h.attestationKeyType, HEADER_OFFSETS.attestationKeyType);
  out.writeUInt32LE(h.teeType, HEADER_OFFSETS.teeType);
  out.writeUInt16LE(h.qeSvn, HEADER_OFFSETS.qeSvn);
  out.writeUInt16LE(h.pceSvn, HEADER_OFFSETS.pceSvn);
  h.qeVendorId.copy(out, HEADER_OFFSETS.qeVendorId, 0, 16);
  h.userData.copy(out, HEADER_OFFSETS.userData, 0, 20);
  return out;
}

/** header||body, the part of a quote that the attestation key signs. */
export function encodeSignedPart(header: QuoteHeader, body: TdReportBody): Buffer {
  return Buffer.concat([encodeQuoteHeader(header), encodeTdQuoteBody(body)]);
}

/** Appends the signature data to header||body. */
export function encodeQuote(signedPart: Buffer, s: QuoteSignatureInput): Buffer {
  const chain = Buffer.from(s.pckCertChainPem, "utf8");
  const inner = Buffer.alloc(2 + 4);
  inner.writeUInt16LE(CERTIFICATION_DATA_TYPE_PCK_CERT_CHAIN, 0);
  inner.writeUInt32LE(chain.length, 2);
  const authSize = Buffer.alloc(2);
  authSize.writeUInt16LE(s.qeAuthData.length, 0);
  const qeCertData = Buffer.concat([encodeQeReport(s.qeReport), s.qeReportSignature, authSize, s.qeAuthData, inner, chain]);
  const outer = Buffer.alloc(2 + 4);
  outer.writeUInt16LE(CERTIFICATION_DATA_TYPE_QE_REPORT, 0);
  outer.writeUInt32LE(qeCertData.length, 2);
  const sigData = Buffer.concat([s.signature, s.attestationKey, outer, qeCertData]);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(sigData.length, 0);
  return Buffer.concat([signedPart, len, sigData]);
}

/** A bounds-checked little-endian reader that throws QuoteParseError naming the field it was reading. */
class Reader {
  constructor(
    private readonly bytes: Buffer,
    private pos: number,
    private readonly end: number,
  ) {}
  get offset(): number {
    return this.pos;
  }
  take(size: number, field: string): Buffer {
    if (size < 0 || this.pos + size > this.end) {
      throw new QuoteParseError(`quote truncated reading ${field}`, { details: { field, offset: this.pos, need: size, available: this.end - this.pos } });
    }
    const out = Buffer.from(this.bytes.subarray(this.pos, this.pos + size));
    this.pos += size;
    return out;
  }
  u16(field: string): number {
    return this.take(2, field).readUInt16LE(0);
  }
  u32(field: string): number {
    return this.take(4, field).readUInt32LE(0);
  }
}

function expect(actual: number, expected: number, field: string, offset: number): void {
  if (actual !== expected) {
    throw new QuoteParseError(`quote ${field} is ${actual}, expected ${expected}`, { details: { field, actual, expected, offset } });
  }
}

/** A length field must equal the bytes that follow it. */
function expectLength(field: number, remaining: number, name: string, offset: number): void {
  if (field !== remaining) {
    throw new QuoteParseError(`quote ${name} is ${field} but ${remaining} bytes follow`, { details: { field: name, actual: field, expected: remaining, offset } });
  }
}

/**
 * Parses a TDX quote v4 (ECDSA-256-with-P-256, QE report certification data with a PCK chain).
 * Throws only QuoteParseError; checks structure, not signatures.
 */
export function decodeQuote(input: Uint8Array): TdxQuote {
  if (!(input instanceof Uint8Array)) throw new QuoteParseError("quote must be bytes", { details: { type: typeof input } });
  const bytes = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (bytes.length > QUOTE_MAX_SIZE) {
    throw new QuoteParseError(`quote is ${bytes.length} bytes, more than the ${QUOTE_MAX_SIZE} accepted`, { details: { length: bytes.length } });
  }
  const r = new Reader(bytes, 0, bytes.length);
  const header: QuoteHeader = {
    version: r.u16("header.version"),
    attestationKeyType: r.u16("header.attestationKeyType"),
    teeType: r.u32("header.teeType"),
    qeSvn: r.u16("header.qeSvn"),
    pceSvn: r.u16("header.pceSvn"),
    qeVendorId: r.take(16, "header.qeVendorId"),
    userData: r.take(20, "header.userData"),
  };
  expect(header.version, QUOTE_VERSION_4, "header.version", HEADER_OFFSETS.version);
  expect(header.attestationKeyType, ATTESTATION_KEY_TYPE_ECDSA_P256, "header.attestationKeyType", HEADER_OFFSETS.attestationKeyType);
  expect(header.teeType, TEE_TYPE_TDX, "header.teeType", HEADER_OFFSETS.teeType);
  const body = decodeTdQuoteBody(r.take(TD_QUOTE_BODY_SIZE, "body"));
  const sigLen = r.u32("signatureDataLength");
  expectLength(sigLen, bytes.length - SIGNATURE_DATA_OFFSET, "signatureDataLength", SIGNATURE_DATA_LENGTH_OFFSET);

  const signature = r.take(ECDSA_SIGNATURE_SIZE, "signature");
  const attestationKey = r.take(ECDSA_PUBLIC_KEY_SIZE, "attestationKey");
  const certType = r.u16("certificationData.type");
  expect(certType, CERTIFICATION_DATA_TYPE_QE_REPORT, "certificationData.type", r.offset - 2);
  const certSize = r.u32("certificationData.size");
  expectLength(certSize, bytes.length - r.offset, "certificationData.size", r.offset - 4);

  const qeReportBytes = r.take(QE_REPORT_SIZE, "qeReport");
  const qeReportSignature = r.take(ECDSA_SIGNATURE_SIZE, "qeReportSignature");
  const authSize = r.u16("qeAuthData.size");
  const qeAuthData = r.take(authSize, "qeAuthData");
  const innerType = r.u16("pckCertChain.type");
  expect(innerType, CERTIFICATION_DATA_TYPE_PCK_CERT_CHAIN, "pckCertChain.type", r.offset - 2);
  const chainSize = r.u32("pckCertChain.size");
  expectLength(chainSize, bytes.length - r.offset, "pckCertChain.size", r.offset - 4);
  const chainBytes = r.take(chainSize, "pckCertChain");
  let pckCertChainPem: string;
  try {
    pckCertChainPem = new TextDecoder("utf-8", { fatal: true }).decode(chainBytes);
  } catch (cause) {
    throw new QuoteParseError("PCK certificate chain is not UTF-8 text", { details: { field: "pckCertChain" }, cause });
  }
  if (!pckCertChainPem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new QuoteParseError("PCK certificate chain holds no PEM certificate", { details: { field: "pckCertChain" } });
  }
  return {
    header,
    body,
    signatureData: {
      signature,
      attestationKey,
      qeReport: decodeQeReport(qeReportBytes),
      qeReportBytes,
      qeReportSignature,
      qeAuthData,
      pckCertChainPem,
    },
    signedBytes: Buffer.from(bytes.subarray(0, QUOTE_HEADER_SIZE + TD_QUOTE_BODY_SIZE)),
  };
}
