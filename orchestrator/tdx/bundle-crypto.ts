import { createCipheriv, createDecipheriv, type KeyObject } from "node:crypto";
import { MAC_SIZE, MBMD_AAD_SIZE } from "./constants.js";
import { buildIv } from "./iv.js";
import { MBMD_OFFSET } from "./mbmd.js";

/**
 * AES-256-GCM sealing of bundle parts. The IV buffer is reused per thread (the cipher copies it), so sealing
 * allocates only what node:crypto itself allocates.
 */
const ivScratch = Buffer.alloc(12);
/** Per-thread scratch for a page's AAD (its GPA entry) and tag: copying 8 or 16 bytes is cheaper than a view. */
const aadScratch = Buffer.alloc(8);
const tagScratch = Buffer.alloc(16);
const TWO_32 = 0x1_0000_0000;

/**
 * Writes the TDX IV of a page (iv_counter ‖ migs_index ‖ 0) into the scratch IV from a Number counter: pages of a
 * bundle take consecutive counters, and a bundle's base fits a double exactly (checked by the caller), so the per-page
 * path needs no BigInt arithmetic.
 */
function pageIv(ivCounter: number, migsIndex: number): Buffer {
  const iv = ivScratch;
  iv.writeUInt32LE(ivCounter % TWO_32, 0);
  iv.writeUInt32LE(Math.floor(ivCounter / TWO_32), 4);
  iv.writeUInt32LE(migsIndex & 0xffff, 8);
  return iv;
}

/** True when the counters `first .. first + count` are exact as doubles (always, unless 2^53 IVs were used). */
export function pageCountersFit(first: bigint, count: number): boolean {
  return first + BigInt(count) <= BigInt(Number.MAX_SAFE_INTEGER);
}

/** Seals the MBMD at `bundle[0..]`: MAC over its 32 authenticated bytes, `extraAad`, and the encrypted payload. */
export function sealMbmd(
  key: KeyObject,
  ivCounter: bigint,
  migsIndex: number,
  bundle: Buffer,
  extraAad: Buffer | undefined,
  payload: Uint8Array | undefined,
  payloadOut: number,
): void {
  const cipher = createCipheriv("aes-256-gcm", key, buildIv(ivCounter, migsIndex, ivScratch));
  cipher.setAAD(bundle.subarray(0, MBMD_AAD_SIZE));
  if (extraAad !== undefined) cipher.setAAD(extraAad);
  if (payload !== undefined && payload.length > 0) bundle.set(cipher.update(payload), payloadOut);
  cipher.final();
  cipher.getAuthTag().copy(bundle, MBMD_OFFSET.mac);
}

/**
 * Opens a sealed MBMD: checks the MAC over the authenticated MBMD bytes, `extraAad` and the ciphertext, and returns
 * the plaintext (empty for tokens) or undefined when the MAC does not verify.
 */
export function openMbmd(
  key: KeyObject,
  ivCounter: bigint,
  migsIndex: number,
  bundle: Buffer,
  extraAad: Buffer | undefined,
  ciphertext: Buffer | undefined,
): Buffer | undefined {
  const decipher = createDecipheriv("aes-256-gcm", key, buildIv(ivCounter, migsIndex, ivScratch));
  decipher.setAAD(bundle.subarray(0, MBMD_AAD_SIZE));
  if (extraAad !== undefined) decipher.setAAD(extraAad);
  decipher.setAuthTag(bundle.subarray(MBMD_OFFSET.mac, MBMD_OFFSET.mac + MAC_SIZE));
  const plain = ciphertext !== undefined && ciphertext.length > 0 ? decipher.update(ciphertext) : Buffer.alloc(0);
  try {
    decipher.final();
  } catch {
    return undefined; // authentication failure: the caller turns it into a TDX status
  }
  return plain;
}

/**
 * Encrypts one 4 KiB page into `out` at `outOffset` and its tag at `tagOffset`; AAD = its 8-byte GPA entry, read
 * from `out` at `entryOffset` (the bundle's GPA list). `ivCounter` is the page's iv_counter as a Number.
 */
export function sealPage(
  key: KeyObject,
  ivCounter: number,
  migsIndex: number,
  out: Buffer,
  entryOffset: number,
  page: Uint8Array,
  outOffset: number,
  tagOffset: number,
): void {
  const cipher = createCipheriv("aes-256-gcm", key, pageIv(ivCounter, migsIndex));
  out.copy(aadScratch, 0, entryOffset, entryOffset + 8);
  cipher.setAAD(aadScratch);
  out.set(cipher.update(page), outOffset);
  cipher.final();
  out.set(cipher.getAuthTag(), tagOffset);
}

/**
 * Decrypts one page of `bundle` (GPA entry at `entryOffset` as AAD, ciphertext at `pageOffset`, tag at `tagOffset`);
 * returns the plaintext, or undefined when its MAC does not verify (the caller then writes nothing).
 */
export function openPage(
  key: KeyObject,
  ivCounter: number,
  migsIndex: number,
  bundle: Buffer,
  entryOffset: number,
  pageOffset: number,
  tagOffset: number,
): Buffer | undefined {
  const decipher = createDecipheriv("aes-256-gcm", key, pageIv(ivCounter, migsIndex));
  bundle.copy(aadScratch, 0, entryOffset, entryOffset + 8);
  decipher.setAAD(aadScratch);
  bundle.copy(tagScratch, 0, tagOffset, tagOffset + 16);
  decipher.setAuthTag(tagScratch);
  const plain = decipher.update(bundle.subarray(pageOffset, pageOffset + 4096));
  try {
    decipher.final();
  } catch {
    return undefined; // authentication failure: the caller turns it into TDX_INVALID_PAGE_MAC
  }
  return plain;
}
