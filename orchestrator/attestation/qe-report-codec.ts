import { QE_REPORT_OFFSETS, QE_REPORT_SIZE } from "./quote-format.js";

/** The SGX report body of the quoting enclave (384 bytes); only the fields a verifier reads are named. */
export interface QeReport {
  readonly cpuSvn: Buffer; // 16
  readonly miscSelect: number; // u32
  readonly attributes: Buffer; // 16
  readonly mrEnclave: Buffer; // 32
  readonly mrSigner: Buffer; // 32
  readonly isvProdId: number; // u16
  readonly isvSvn: number; // u16
  readonly reportData: Buffer; // 64
}

export function encodeQeReport(r: QeReport): Buffer {
  const out = Buffer.alloc(QE_REPORT_SIZE);
  r.cpuSvn.copy(out, QE_REPORT_OFFSETS.cpuSvn, 0, 16);
  out.writeUInt32LE(r.miscSelect, QE_REPORT_OFFSETS.miscSelect);
  r.attributes.copy(out, QE_REPORT_OFFSETS.attributes, 0, 16);
  r.mrEnclave.copy(out, QE_REPORT_OFFSETS.mrEnclave, 0, 32);
  r.mrSigner.copy(out, QE_REPORT_OFFSETS.mrSigner, 0, 32);
  out.writeUInt16LE(r.isvProdId, QE_REPORT_OFFSETS.isvProdId);
  out.writeUInt16LE(r.isvSvn, QE_REPORT_OFFSETS.isvSvn);
  r.reportData.copy(out, QE_REPORT_OFFSETS.reportData, 0, 64);
  return out;
}

/** Reads a 384-byte QE report (the caller has checked the length). */
export function decodeQeReport(bytes: Buffer): QeReport {
  const take = (offset: number, size: number) => Buffer.from(bytes.subarray(offset, offset + size));
  return {
    cpuSvn: take(QE_REPORT_OFFSETS.cpuSvn, 16),
    miscSelect: bytes.readUInt32LE(QE_REPORT_OFFSETS.miscSelect),
    attributes: take(QE_REPORT_OFFSETS.attributes, 16),
    mrEnclave: take(QE_REPORT_OFFSETS.mrEnclave, 32),
    mrSigner: take(QE_REPORT_OFFSETS.mrSigner, 32),
    isvProdId: bytes.readUInt16LE(QE_REPORT_OFFSETS.isvProdId),
    isvSvn: bytes.readUInt16LE(QE_REPORT_OFFSETS.isvSvn),
    reportData: take(QE_REPORT_OFFSETS.reportData, 64),
  };
}
