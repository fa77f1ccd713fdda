import { createHash, type Hash } from "node:crypto";
import { PAGE_SIZE } from "./constants.js";

/**
 * MRTD as the TDX module builds it: a SHA-384 over 128-byte records, one per TDH.MEM.PAGE.ADD ("MEM.PAGE.ADD"
 * then the GPA) and, per 256-byte chunk measured by TDH.MR.EXTEND, a record ("MR.EXTEND" then the chunk's GPA)
 * followed by the chunk. TDH.MR.FINALIZE closes it.
 */
export class MrtdBuilder {
  private readonly hash: Hash = createHash("sha384");
  private readonly record = Buffer.alloc(128);
  private finalized: Buffer | undefined;

  /** TDH.MEM.PAGE.ADD of the page at `gpa`. */
  pageAdd(gpa: number): void {
    this.append("MEM.PAGE.ADD", gpa);
  }

  /** TDH.MR.EXTEND of the 4 KiB page at `gpa` (16 chunks of 256 bytes). */
  extendPage(gpa: number, page: Uint8Array): void {
    for (let off = 0; off < PAGE_SIZE; off += 256) {
      this.append("MR.EXTEND", gpa + off);
      this.hash.update(page.subarray(off, off + 256));
    }
  }

  /** TDH.MR.FINALIZE. */
  finalize(): Buffer {
    this.finalized ??= this.hash.digest();
    return this.finalized;
  }

  private append(tag: string, gpa: number): void {
    this.record.fill(0);
    this.record.write(tag, 0, "ascii");
    this.record.writeBigUInt64LE(BigInt(gpa), 16);
    this.hash.update(this.record);
  }
}
