/**
 * The stream's own ceiling on this machine: raw AES-256-GCM encryption with node:crypto on 4 KiB pages, one cipher
 * per page (fresh IV in the TDX construction, the page's 8-byte GPA entry as AAD, a 16-byte tag), on one core,
 * with no I/O. Migration throughput is reported as a ratio of this figure, measured in the same run.
 */
import { createCipheriv, createSecretKey, randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { GPA_LIST_ENTRY_SIZE, loadNativeCodec, MAC_SIZE, writeGpaEntry } from "../tdx/index.js";

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

/** Pages the native codec seals per call in its limit measurement (half a bundle of the engine's default 256). */
export const NATIVE_LIMIT_BATCH = 128;

/**
 * The native codec's ceiling: `sealPages` on batches of 128 pages read in place from a 1 MiB memory (the GPA list
 * as AAD, a new TDX IV per page, the tags in the MAC list), on one core, with no I/O. Undefined without the addon.
 */
export function measureNativeAesGcmLimit(options: AesGcmLimitOptions = {}): AesGcmLimit | undefined {
  const codec = loadNativeCodec().codec;
  if (codec === undefined) return undefined;
  const durationMs = options.durationMs ?? 1000;
  const poolPages = Math.max(NATIVE_LIMIT_BATCH, options.pages ?? 256);
  const bytes = randomBytes(32);
  const key = { bytes, object: createSecretKey(bytes) };
  const memory = new Uint8Array(new SharedArrayBuffer(poolPages * PAGE_BYTES));
  memory.set(randomBytes(memory.length));
  const count = NATIVE_LIMIT_BATCH;
  const listAt = 48;
  const pagesAt = listAt + count * GPA_LIST_ENTRY_SIZE;
  const macsAt = pagesAt + count * PAGE_BYTES;
  const bundle = Buffer.alloc(macsAt + count * MAC_SIZE);
  const layout = { listAt, pagesAt, macsAt, count };
  let ivCounter = 1;
  const sealBatch = (batch: number): void => {
    const first = (batch * count) % poolPages;
    for (let i = 0; i < count; i++) writeGpaEntry(bundle, listAt + i * GPA_LIST_ENTRY_SIZE, ((first + i) % poolPages) * PAGE_BYTES);
    codec.sealPages(key, memory, bundle, layout, ivCounter, 0);
    ivCounter += count + 1;
  };
  const warmupEnd = performance.now() + Math.min(100, durationMs / 4);
  for (let b = 0; performance.now() < warmupEnd; b++) sealBatch(b);
  let batches = 0;
  const start = performance.now();
  let now = start;
  while (now - start < durationMs) {
    for (let k = 0; k < 8; k++) sealBatch(batches++);
    now = performance.now();
  }
  const elapsedMs = now - start;
  const pages = batches * count;
  const pagesPerSec = (pages * 1000) / elapsedMs;
  return { mbPerSec: (pagesPerSec * PAGE_BYTES) / 1e6, pagesPerSec, pages, elapsedMs };
}
