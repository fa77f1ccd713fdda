import { createCipheriv, createDecipheriv, type KeyObject } from "node:crypto";
import { MAC_SIZE, MBMD_AAD_SIZE } from "./constants.js";
import { buildIv } from "./iv.js";
import { MBMD_OFFSET } from "./mbmd.js";

/**
 * AES-256-GCM sealing of bundle parts. The IV buffer is reused per thread (the cipher copies it), so sealing
 * allocates only what node:crypto itself allocates.
 */
const ivScratch = Buffer.alloc(12);

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

/** Encrypts one 4 KiB page into `out` at `outOffset` and its tag at `tagOffset`; AAD = its 8-byte GPA entry. */
export function sealPage(
  key: KeyObject,
  ivCounter: bigint,
  migsIndex: number,
  gpaEntry: Buffer,
  page: Uint8Array,
  out: Buffer,
  outOffset: number,
  tagOffset: number,
): void {
  const cipher = createCipheriv("aes-256-gcm", key, buildIv(ivCounter, migsIndex, ivScratch));
  cipher.setAAD(gpaEntry);
  out.set(cipher.update(page), outOffset);
  cipher.final();
  cipher.getAuthTag().copy(out, tagOffset);
}

/** Decrypts one page; returns the plaintext, or undefined when its MAC does not verify (nothing is written then). */
export function openPage(
  key: KeyObject,
  ivCounter: bigint,
  migsIndex: number,
  gpaEntry: Buffer,
  ciphertext: Buffer,
  tag: Buffer,
): Buffer | undefined {
  const decipher = createDecipheriv("aes-256-gcm", key, buildIv(ivCounter, migsIndex, ivScratch));
  decipher.setAAD(gpaEntry);
  decipher.setAuthTag(tag);
  const plain = decipher.update(ciphertext);
  try {
    decipher.final();
  } catch {
    return undefined; // authentication failure: the caller turns it into TDX_INVALID_PAGE_MAC
  }
  return plain;
}
