import type { KeyObject } from "node:crypto";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { openPage, sealPage } from "./bundle-crypto.js";
import { GPA_LIST_ENTRY_SIZE, MAC_SIZE, MAX_PAGES_PER_BUNDLE, MIG_KEY_SIZE, PAGE_SIZE } from "./constants.js";
import { TdxModelError } from "./errors.js";
import { readGpaEntry } from "./gpa-list.js";

/**
 * The page codec: seals and opens all pages of a memory bundle in one call, reading the plaintext from (and writing
 * it to) the TD's memory in place by the bundle's GPA list. Two backends produce the same bytes: "native", the
 * N-API addon built from native/bundle_codec.c (one reused EVP_CIPHER_CTX per bundle), and "node", node:crypto
 * with one cipher object per page. The native one is chosen when the addon is built; TVMX_CRYPTO_BACKEND=node
 * forces node:crypto, =native requires the addon.
 */
export type CodecBackendName = "native" | "node";

/** The migration key in both forms: the raw 32 bytes (native) and this thread's KeyObject (node:crypto). */
export type CodecKey = { readonly bytes: Uint8Array; readonly object: KeyObject };

/** Where page i lives in a bundle: GPA entry at listAt + 8i, ciphertext at pagesAt + 4096i, tag at macsAt + 16i. */
export type PageLayout = { readonly listAt: number; readonly pagesAt: number; readonly macsAt: number; readonly count: number };

export interface PageCodec {
  readonly name: CodecBackendName;
  /** Seals memory[gpa_i] into page i and its tag into MAC i; page i's IV counter is firstIv + i. */
  sealPages(key: CodecKey, memory: Uint8Array, bundle: Uint8Array, layout: PageLayout, firstIv: number, migsIndex: number): void;
  /**
   * Authenticates and writes page i to memory[gpa_i], in list order. Throws TDX_CODEC_PAGE_MAC (details: the page
   * index and how many pages were written before it) at the first page whose tag fails; that page is not written.
   */
  openPages(key: CodecKey, memory: Uint8Array, bundle: Uint8Array, layout: PageLayout, firstIv: number, migsIndex: number): void;
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

function argumentError(message: string, details: Record<string, unknown> = {}): TdxModelError {
  return new TdxModelError("TDX_CODEC_ARGUMENT", message, { details });
}

function isU32(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff;
}

/**
 * Every check the native codec makes before touching memory, in the same order and with the same messages, so that
 * both backends refuse the same inputs the same way.
 */
export function checkCodecArgs(key: CodecKey, memory: Uint8Array, bundle: Uint8Array, layout: PageLayout, firstIv: number, migsIndex: number): void {
  if (!(key.bytes instanceof Uint8Array) || key.bytes.length !== MIG_KEY_SIZE) throw argumentError("the key is not 32 bytes");
  if (!(memory instanceof Uint8Array)) throw argumentError("the memory is not a Uint8Array");
  if (!(bundle instanceof Uint8Array)) throw argumentError("the bundle is not a Uint8Array");
  const { listAt, pagesAt, macsAt, count } = layout;
  if (![listAt, pagesAt, macsAt, count, migsIndex].every(isU32)) throw argumentError("an offset, count or stream index is not a u32");
  if (!Number.isInteger(firstIv) || firstIv < 0 || firstIv + count > MAX_SAFE) {
    throw argumentError("the first IV counter is not an integer below 2^53 - count");
  }
  if (count === 0 || count > MAX_PAGES_PER_BUNDLE || migsIndex > 0xffff) throw argumentError("the page count or stream index is out of range");
  const len = bundle.length;
  const listEnd = listAt + count * GPA_LIST_ENTRY_SIZE;
  const pagesEnd = pagesAt + count * PAGE_SIZE;
  const macsEnd = macsAt + count * MAC_SIZE;
  if (listEnd > len || pagesEnd > len || macsEnd > len) throw argumentError("the GPA list, pages or MACs run past the end of the bundle");
  const apart = (aStart: number, aEnd: number, bStart: number, bEnd: number) => aEnd <= bStart || bEnd <= aStart;
  if (!apart(listAt, listEnd, pagesAt, pagesEnd) || !apart(listAt, listEnd, macsAt, macsEnd) || !apart(pagesAt, pagesEnd, macsAt, macsEnd)) {
    throw argumentError("the GPA list, pages and MACs overlap");
  }
  const view = Buffer.from(bundle.buffer, bundle.byteOffset, bundle.byteLength);
  for (let i = 0; i < count; i++) {
    const gpa = readGpaEntry(view, listAt + i * GPA_LIST_ENTRY_SIZE);
    if (gpa < 0 || gpa > memory.length || memory.length - gpa < PAGE_SIZE) {
      throw argumentError("a GPA entry is malformed or outside the TD's memory", { page: i });
    }
  }
}

function pageMacError(page: number): TdxModelError {
  return new TdxModelError("TDX_CODEC_PAGE_MAC", `page ${page} of the bundle did not authenticate`, { details: { page, written: page } });
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** node:crypto, one cipher object per page (the fallback, and the yardstick the native codec is measured against). */
export const nodePageCodec: PageCodec = {
  name: "node",
  sealPages(key, memory, bundle, layout, firstIv, migsIndex) {
    checkCodecArgs(key, memory, bundle, layout, firstIv, migsIndex);
    const out = asBuffer(bundle);
    for (let i = 0; i < layout.count; i++) {
      const entryAt = layout.listAt + i * GPA_LIST_ENTRY_SIZE;
      const gpa = readGpaEntry(out, entryAt);
      sealPage(key.object, firstIv + i, migsIndex, out, entryAt, memory.subarray(gpa, gpa + PAGE_SIZE), layout.pagesAt + i * PAGE_SIZE, layout.macsAt + i * MAC_SIZE);
    }
  },
  openPages(key, memory, bundle, layout, firstIv, migsIndex) {
    checkCodecArgs(key, memory, bundle, layout, firstIv, migsIndex);
    const buf = asBuffer(bundle);
    for (let i = 0; i < layout.count; i++) {
      const entryAt = layout.listAt + i * GPA_LIST_ENTRY_SIZE;
      const plain = openPage(key.object, firstIv + i, migsIndex, buf, entryAt, layout.pagesAt + i * PAGE_SIZE, layout.macsAt + i * MAC_SIZE);
      if (plain === undefined) throw pageMacError(i);
      memory.set(plain, readGpaEntry(buf, entryAt));
    }
  },
};

type NativeBinding = {
  sealPages(key: Uint8Array, memory: Uint8Array, bundle: Uint8Array, listAt: number, pagesAt: number, macsAt: number, count: number, firstIv: number, migsIndex: number): void;
  openPages(key: Uint8Array, memory: Uint8Array, bundle: Uint8Array, listAt: number, pagesAt: number, macsAt: number, count: number, firstIv: number, migsIndex: number): number;
};

/** The addon's errors carry their registry code as `code`; re-thrown as the model's typed error. */
function rethrowNative(err: unknown): never {
  const code = (err as { code?: unknown }).code;
  if (code === "TDX_CODEC_ARGUMENT" || code === "TDX_CODEC_CIPHER") {
    throw new TdxModelError(code, (err as Error).message, { cause: err });
  }
  throw err;
}

function nativeCodec(binding: NativeBinding): PageCodec {
  return {
    name: "native",
    sealPages(key, memory, bundle, { listAt, pagesAt, macsAt, count }, firstIv, migsIndex) {
      try {
        binding.sealPages(key.bytes, memory, bundle, listAt, pagesAt, macsAt, count, firstIv, migsIndex);
      } catch (err) {
        rethrowNative(err);
      }
    },
    openPages(key, memory, bundle, { listAt, pagesAt, macsAt, count }, firstIv, migsIndex) {
      let written: number;
      try {
        written = binding.openPages(key.bytes, memory, bundle, listAt, pagesAt, macsAt, count, firstIv, migsIndex);
      } catch (err) {
        rethrowNative(err);
      }
      if (written !== count) throw pageMacError(written);
    },
  };
}

/** build/Release/bundle_codec.node at the package root (node-gyp's output; see scripts/build-native.mjs). */
export const NATIVE_ADDON_PATH = fileURLToPath(new URL("../../build/Release/bundle_codec.node", import.meta.url));

type NativeLoad = { codec?: PageCodec; reason?: string };
let nativeLoad: NativeLoad | undefined;

/** The native codec, or why it is not there (not built, or failed to load); loaded once per thread. */
export function loadNativeCodec(): NativeLoad {
  if (nativeLoad !== undefined) return nativeLoad;
  if (!existsSync(NATIVE_ADDON_PATH)) {
    nativeLoad = { reason: "the addon is not built (npm run build:native)" };
  } else {
    try {
      nativeLoad = { codec: nativeCodec(createRequire(import.meta.url)(NATIVE_ADDON_PATH) as NativeBinding) };
    } catch (err) {
      nativeLoad = { reason: `the addon did not load: ${(err as Error).message}` };
    }
  }
  return nativeLoad;
}

export const CRYPTO_BACKEND_ENV = "TVMX_CRYPTO_BACKEND";

export type CodecChoice = { readonly codec: PageCodec; readonly requested: "auto" | CodecBackendName; readonly fallbackReason?: string };

/** The backend for TVMX_CRYPTO_BACKEND (unset or "auto": native when built, else node). */
export function chooseCodec(requested: string | undefined = process.env[CRYPTO_BACKEND_ENV]): CodecChoice {
  const want = requested === undefined || requested === "" ? "auto" : requested;
  if (want === "node") return { codec: nodePageCodec, requested: "node" };
  if (want !== "auto" && want !== "native") {
    throw new TdxModelError("TDX_CODEC_BACKEND_UNAVAILABLE", `${CRYPTO_BACKEND_ENV} must be auto, native or node, not "${want}"`);
  }
  const native = loadNativeCodec();
  if (native.codec !== undefined) return { codec: native.codec, requested: want };
  if (want === "native") {
    throw new TdxModelError("TDX_CODEC_BACKEND_UNAVAILABLE", `${CRYPTO_BACKEND_ENV}=native, but ${native.reason}`, { details: { path: NATIVE_ADDON_PATH } });
  }
  return { codec: nodePageCodec, requested: "auto", fallbackReason: native.reason };
}

let active: CodecChoice | undefined;

/** This thread's codec, chosen once from the environment (workers inherit it). */
export function activeCodecChoice(): CodecChoice {
  active ??= chooseCodec();
  return active;
}

export function pageCodec(): PageCodec {
  return activeCodecChoice().codec;
}

/** Replaces this thread's codec (the tests run every bundle test against each backend); returns the previous one. */
export function setActiveCodecChoice(choice: CodecChoice | undefined): CodecChoice | undefined {
  const previous = active;
  active = choice;
  return previous;
}

/** What `tvmx host status` and the benchmark print: the backend in use, what was asked for, and why not native. */
export type CodecReport = { backend: CodecBackendName; requested: CodecChoice["requested"]; fallbackReason?: string };

export function codecReport(): CodecReport {
  const c = activeCodecChoice();
  return { backend: c.codec.name, requested: c.requested, ...(c.fallbackReason !== undefined ? { fallbackReason: c.fallbackReason } : {}) };
}
