/**
 * The AES-256-GCM IV of a migration bundle MAC or page (96 bits), as TDX builds it:
 *
 *   bytes 0..7   iv_counter (u64, little-endian)
 *   bytes 8..9   migs_index (u16, little-endian)
 *   bytes 10..11 0
 *
 * iv_counter is per stream and is incremented before every MBMD and every page, so that no (key, IV) pair is ever
 * used twice: the counters live in the TD's shared migration control area and never go backwards, also not
 * across an abort.
 */
export const IV_SIZE = 12;

export function buildIv(ivCounter: bigint, migsIndex: number, out: Buffer = Buffer.alloc(IV_SIZE), offset = 0): Buffer {
  out.writeBigUInt64LE(ivCounter, offset);
  out.writeUInt16LE(migsIndex, offset + 8);
  out.writeUInt16LE(0, offset + 10);
  return out;
}

/**
 * The backward direction of a stream (the abort token, from destination to source) uses the same key as the forward
 * direction. So that the two directions can never produce the same IV, backward iv_counter values have bit 63 set
 * and forward ones have it clear; the IV layout stays the TDX one.
 */
export const BACKWARD_IV_BIT = 1n << 63n;
