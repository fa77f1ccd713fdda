import { PAGE_SHIFT } from "./constants.js";

/**
 * A GPA-list entry (8 bytes, little-endian), the AAD of the page it names:
 *
 *   bits 1:0    level (0 = 4 KiB; the model migrates 4 KiB pages only)
 *   bits 11:2   reserved, 0
 *   bits 51:12  GPA[51:12]
 *   bits 61:52  reserved, 0
 *   bits 63:62  operation (1 = MIGRATE; 0 = NOP, 2 = CANCEL are not used by the model)
 *
 * The model's TDs are smaller than 4 GiB, so the entry is handled as two u32 words without bigint churn.
 */
export const GPA_OPERATION = { NOP: 0, MIGRATE: 1, CANCEL: 2 } as const;

/** Writes the entry for the 4 KiB page at `gpa` (a page-aligned byte address < 2^44). */
export function writeGpaEntry(out: Buffer, offset: number, gpa: number): void {
  out.writeUInt32LE(gpa % 0x1_0000_0000, offset);
  out.writeUInt32LE(Math.floor(gpa / 0x1_0000_0000) | (GPA_OPERATION.MIGRATE << 30), offset + 4);
}

/** The GPA of a well-formed entry, or -1 when level, reserved bits or operation are not those of a 4 KiB MIGRATE entry. */
export function readGpaEntry(buf: Buffer, offset: number): number {
  const lo = buf.readUInt32LE(offset);
  const hi = buf.readUInt32LE(offset + 4);
  if ((lo & 0xfff) !== 0) return -1;
  if (hi >>> 30 !== GPA_OPERATION.MIGRATE) return -1;
  if ((hi & 0x3ff00000) !== 0) return -1; // bits 61:52
  return (hi & 0xfffff) * 0x1_0000_0000 + lo;
}

export function gpaToPage(gpa: number): number {
  return Math.floor(gpa / (1 << PAGE_SHIFT));
}
