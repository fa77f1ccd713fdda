import { TD_REPORT_FIELD_SIZES, type TdReportBody } from "../tdx/index.js";
import { BODY_OFFSETS, TD_QUOTE_BODY_SIZE } from "./quote-format.js";
import { AttestationError } from "./errors.js";

type FixedField = Exclude<keyof TdReportBody, "rtmr">;

const FIXED_FIELDS: readonly FixedField[] = [
  "teeTcbSvn",
  "mrSeam",
  "mrSignerSeam",
  "seamAttributes",
  "tdAttributes",
  "xfam",
  "mrTd",
  "mrConfigId",
  "mrOwner",
  "mrOwnerConfig",
  "reportData",
];
const RTMR_OFFSETS = [BODY_OFFSETS.rtmr0, BODY_OFFSETS.rtmr1, BODY_OFFSETS.rtmr2, BODY_OFFSETS.rtmr3] as const;

/** Checks each field's size; a wrong size is a programming error of the producer. */
export function assertTdReportBody(body: TdReportBody): void {
  for (const field of FIXED_FIELDS) {
    const value = body[field];
    if (!Buffer.isBuffer(value) || value.length !== TD_REPORT_FIELD_SIZES[field]) {
      throw new AttestationError("ATTESTATION_CONFIG_INVALID", `TD report field ${field} must be ${TD_REPORT_FIELD_SIZES[field]} bytes`, { details: {
        field,
        length: Buffer.isBuffer(value) ? value.length : undefined,
      } });
    }
  }
  if (body.rtmr.length !== 4 || body.rtmr.some((r) => !Buffer.isBuffer(r) || r.length !== TD_REPORT_FIELD_SIZES.rtmr)) {
    throw new AttestationError("ATTESTATION_CONFIG_INVALID", "TD report must carry four 48-byte RTMRs");
  }
}

/** The 584-byte TD quote body. */
export function encodeTdQuoteBody(body: TdReportBody): Buffer {
  assertTdReportBody(body);
  const out = Buffer.alloc(TD_QUOTE_BODY_SIZE);
  for (const field of FIXED_FIELDS) body[field].copy(out, BODY_OFFSETS[field]);
  body.rtmr.forEach((r, i) => r.copy(out, RTMR_OFFSETS[i]));
  return out;
}

/** Reads a 584-byte TD quote body (the caller has checked the length). Fields are copies. */
export function decodeTdQuoteBody(bytes: Buffer): TdReportBody {
  const take = (offset: number, size: number) => Buffer.from(bytes.subarray(offset, offset + size));
  const fields = Object.fromEntries(
    FIXED_FIELDS.map((f) => [f, take(BODY_OFFSETS[f], TD_REPORT_FIELD_SIZES[f])]),
  ) as Record<FixedField, Buffer>;
  const rtmr = RTMR_OFFSETS.map((o) => take(o, TD_REPORT_FIELD_SIZES.rtmr)) as [Buffer, Buffer, Buffer, Buffer];
  return { ...fields, rtmr };
}
