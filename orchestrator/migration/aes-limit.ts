/**
 * The stream's own ceiling on this machine: raw AES-256-GCM encryption with node:crypto on 4 KiB pages, one cipher
 * per page (fresh IV in the TDX construction, the page's 8-byte GPA entry as AAD, a 16-byte tag), on one core,
 * with no I/O. Migration throughput is reported as a ratio of this figure, measured in the same run.
 */
import { createCipheriv, randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { writeGpaEntry } from "../tdx/gpa-list.js";

export const PAGE_BYTES = 4096;

export interface AesGcmLimitOptions {
  /** How long to measure, ms (default 1000), after a short warm-up. */
  durationMs?: number;
  /** Distinct source pages cycled through (default 256 = 1 MiB, cache-resident like a page being exported). */
  pages?: number;
}

export interface AesGcmLimit {
  /** Plaintext bytes encrypted per second, in MB/s (10^6 bytes). */
  mbPerSec: number;
  pagesPerSec: number;
  pages: number;
  elapsedMs: number;
}

export function measureAesGcmLimit(options: AesGcmLimitOptions = {}): AesGcmLimit {
  const durationMs = options.durationMs ?? 1000;
  const poolPages = options.pages ?? 256;
  const key = randomBytes(32);
  const memory = randomBytes(poolPages * PAGE_BYTES);
  const iv = Buffer.alloc(12);
  const aad = Buffer.alloc(8);
  let ivCounter = 0n;
  const encryptPage = (index: number): void => {
    ivCounter++;
    iv.writeBigUInt64LE(ivCounter, 0);
    writeGpaEntry(aad, 0, (index % poolPages) * PAGE_BYTES); // the page's GPA-list entry, as TDH.EXPORT.MEM uses it
    const cipher = createCipheriv("aes-256-gcm", key, iv);
    cipher.setAAD(aad);
    const page = memory.subarray((index % poolPages) * PAGE_BYTES, (index % poolPages + 1) * PAGE_BYTES);
    cipher.update(page);
    cipher.final();
    cipher.getAuthTag();
  };
  // Warm-up: JIT and OpenSSL's first-use setup.
  const warmupEnd = performance.now() + Math.min(200, durationMs / 4);
  for (let i = 0; performance.now() < warmupEnd; i++) encryptPage(i);
  let pages = 0;
  const start = performance.now();
  let now = start;
  while (now - start < durationMs) {
    for (let k = 0; k < 64; k++) encryptPage(pages++);
    now = performance.now();
  }
  const elapsedMs = now - start;
  const pagesPerSec = (pages * 1000) / elapsedMs;
  return { mbPerSec: (pagesPerSec * PAGE_BYTES) / 1e6, pagesPerSec, pages, elapsedMs };
}
