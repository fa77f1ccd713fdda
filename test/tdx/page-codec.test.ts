import { createSecretKey, randomBytes } from "node:crypto";
import { expect } from "chai";
import {
  chooseCodec,
  GPA_LIST_ENTRY_SIZE,
  loadNativeCodec,
  nodePageCodec,
  PAGE_SIZE,
  TdxModelError,
  writeGpaEntry,
  type CodecKey,
  type PageCodec,
  type PageLayout,
} from "../../orchestrator/tdx/index.js";
import { CODEC_BACKENDS } from "./codec-backends.js";

const MEMORY_PAGES = 64;

function key(): CodecKey {
  const bytes = randomBytes(32);
  return { bytes, object: createSecretKey(bytes) };
}

/** A bundle body (no MBMD here: the codec only sees the three regions) naming `pages` of the memory. */
function bundleFor(pages: number[]): { bundle: Buffer; layout: PageLayout } {
  const count = pages.length;
  const listAt = 48;
  const pagesAt = listAt + count * GPA_LIST_ENTRY_SIZE;
  const macsAt = pagesAt + count * PAGE_SIZE;
  const bundle = Buffer.alloc(macsAt + count * 16);
  pages.forEach((p, i) => writeGpaEntry(bundle, listAt + i * GPA_LIST_ENTRY_SIZE, p * PAGE_SIZE));
  return { bundle, layout: { listAt, pagesAt, macsAt, count } };
}

function sharedMemory(): Uint8Array {
  const memory = new Uint8Array(new SharedArrayBuffer(MEMORY_PAGES * PAGE_SIZE));
  memory.set(randomBytes(memory.length));
  return memory;
}

function codecOf(backend: string): PageCodec | undefined {
  return backend === "node" ? nodePageCodec : loadNativeCodec().codec;
}

function codeOf(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(TdxModelError);
    return `${(err as TdxModelError).code}: ${(err as Error).message}`;
  }
  throw new Error("expected the codec to refuse");
}

describe("page codec", () => {
  it("the native and node:crypto backends seal byte-identical bundles, and each opens the other's", function () {
    const native = loadNativeCodec().codec;
    if (native === undefined) this.skip();
    const k = key();
    const memory = sharedMemory();
    for (const [firstIv, migsIndex] of [[1, 0], [0xffff_ffff, 3], [2 ** 40 + 7, 0xffff], [Number.MAX_SAFE_INTEGER - 600, 1]] as const) {
      const pages = Array.from({ length: 37 }, (_, i) => (i * 7 + firstIv) % MEMORY_PAGES);
      const a = bundleFor([...new Set(pages)]);
      const b = bundleFor([...new Set(pages)]);
      native.sealPages(k, memory, a.bundle, a.layout, firstIv, migsIndex);
      nodePageCodec.sealPages(k, memory, b.bundle, b.layout, firstIv, migsIndex);
      expect(a.bundle.equals(b.bundle)).to.equal(true);
      expect(a.bundle.subarray(a.layout.pagesAt, a.layout.pagesAt + PAGE_SIZE).equals(Buffer.from(memory.subarray(0, PAGE_SIZE)))).to.equal(false);
      for (const [sealer, opener] of [[native, nodePageCodec], [nodePageCodec, native]] as const) {
        const target = new Uint8Array(memory.length);
        const c = bundleFor([...new Set(pages)]);
        sealer.sealPages(k, memory, c.bundle, c.layout, firstIv, migsIndex);
        opener.openPages(k, target, c.bundle, c.layout, firstIv, migsIndex);
        for (const p of new Set(pages)) {
          expect(Buffer.from(target.subarray(p * PAGE_SIZE, (p + 1) * PAGE_SIZE)).equals(Buffer.from(memory.subarray(p * PAGE_SIZE, (p + 1) * PAGE_SIZE)))).to.equal(true);
        }
      }
    }
  });

  it("TVMX_CRYPTO_BACKEND chooses the backend: node forces node:crypto, an unknown name is refused", () => {
    expect(chooseCodec("node").codec.name).to.equal("node");
    expect(chooseCodec(undefined).codec.name).to.equal(loadNativeCodec().codec === undefined ? "node" : "native");
    expect(codeOf(() => chooseCodec("openssl"))).to.match(/^TDX_CODEC_BACKEND_UNAVAILABLE/);
    if (loadNativeCodec().codec === undefined) expect(codeOf(() => chooseCodec("native"))).to.match(/^TDX_CODEC_BACKEND_UNAVAILABLE/);
    else expect(chooseCodec("native").codec.name).to.equal("native");
  });

  for (const backend of CODEC_BACKENDS) {
    describe(`bad input [${backend} codec]`, function () {
      before(function () {
        if (codecOf(backend) === undefined) this.skip();
      });

      it("reports the first page whose tag fails with its index, writing the pages before it and none after", () => {
        const codec = codecOf(backend)!;
        const k = key();
        const memory = sharedMemory();
        const { bundle, layout } = bundleFor([5, 9, 11, 20]);
        codec.sealPages(k, memory, bundle, layout, 100, 2);
        bundle[layout.macsAt + 2 * 16 + 3]! ^= 0x01; // the tag of page index 2
        const target = new Uint8Array(memory.length);
        let error: unknown;
        try {
          codec.openPages(k, target, bundle, layout, 100, 2);
        } catch (err) {
          error = err;
        }
        expect(error).to.be.instanceOf(TdxModelError);
        expect((error as TdxModelError).code).to.equal("TDX_CODEC_PAGE_MAC");
        expect((error as TdxModelError).details.page).to.equal(2);
        const page = (p: number, m: Uint8Array) => Buffer.from(m.subarray(p * PAGE_SIZE, (p + 1) * PAGE_SIZE));
        expect(page(5, target).equals(page(5, memory))).to.equal(true);
        expect(page(9, target).equals(page(9, memory))).to.equal(true);
        expect(page(11, target).every((b) => b === 0)).to.equal(true);
        expect(page(20, target).every((b) => b === 0)).to.equal(true);
        // A wrong IV counter or stream index fails the first page.
        const again = new Uint8Array(memory.length);
        bundle[layout.macsAt + 2 * 16 + 3]! ^= 0x01;
        expect(codeOf(() => codec.openPages(k, again, bundle, layout, 101, 2))).to.match(/^TDX_CODEC_PAGE_MAC: page 0 /);
        expect(codeOf(() => codec.openPages(k, again, bundle, layout, 100, 3))).to.match(/^TDX_CODEC_PAGE_MAC: page 0 /);
        expect(again.every((b) => b === 0)).to.equal(true);
      });

      const cases: { name: string; make: (b: Buffer, l: PageLayout) => { bundle: Buffer; layout: PageLayout; firstIv?: number; migsIndex?: number; keyLen?: number } }[] = [
        { name: "a GPA past the end of memory", make: (b, l) => (writeGpaEntry(b, l.listAt + 8, MEMORY_PAGES * PAGE_SIZE), { bundle: b, layout: l }) },
        { name: "a GPA whose page runs past the end", make: (b, l) => (b.writeUInt32LE(MEMORY_PAGES * PAGE_SIZE - 4096 + 4096, l.listAt), { bundle: b, layout: l }) },
        { name: "a GPA entry with the NOP operation", make: (b, l) => (b.writeUInt32LE(0, l.listAt + 4), { bundle: b, layout: l }) },
        { name: "a GPA entry with reserved bits", make: (b, l) => (b.writeUInt32LE(0x40100000, l.listAt + 4), { bundle: b, layout: l }) },
        { name: "a GPA that is not page-aligned", make: (b, l) => (b.writeUInt32LE(PAGE_SIZE + 8, l.listAt), { bundle: b, layout: l }) },
        { name: "a count past the bundle's end", make: (b, l) => ({ bundle: b, layout: { ...l, count: l.count + 1 } }) },
        { name: "a count of 0", make: (b, l) => ({ bundle: b, layout: { ...l, count: 0 } }) },
        { name: "a count above 512", make: (b, l) => ({ bundle: b, layout: { ...l, count: 513 } }) },
        { name: "MACs past the end", make: (b, l) => ({ bundle: b, layout: { ...l, macsAt: l.macsAt + 1 } }) },
        { name: "overlapping pages and MACs", make: (b, l) => ({ bundle: b, layout: { ...l, macsAt: l.pagesAt } }) },
        { name: "overlapping list and pages", make: (b, l) => ({ bundle: b, layout: { ...l, pagesAt: l.listAt } }) },
        { name: "a negative offset", make: (b, l) => ({ bundle: b, layout: { ...l, listAt: -8 } }) },
        { name: "a fractional offset", make: (b, l) => ({ bundle: b, layout: { ...l, pagesAt: l.pagesAt + 0.5 } }) },
        { name: "an IV counter past 2^53", make: (b, l) => ({ bundle: b, layout: l, firstIv: Number.MAX_SAFE_INTEGER - 1 }) },
        { name: "a negative IV counter", make: (b, l) => ({ bundle: b, layout: l, firstIv: -1 }) },
        { name: "a stream index above 0xffff", make: (b, l) => ({ bundle: b, layout: l, migsIndex: 0x10000 }) },
        { name: "a short key", make: (b, l) => ({ bundle: b, layout: l, keyLen: 16 }) },
      ];
      for (const c of cases) {
        it(`refuses ${c.name} with TDX_CODEC_ARGUMENT before touching memory or bundle (seal and open)`, () => {
          const codec = codecOf(backend)!;
          const base = key();
          for (const op of ["seal", "open"] as const) {
            const memory = sharedMemory();
            const before = Buffer.from(memory);
            const fresh = bundleFor([1, 2, 3]);
            if (op === "open") codec.sealPages(base, memory, fresh.bundle, fresh.layout, 7, 1);
            const made = c.make(fresh.bundle, fresh.layout);
            const bundleBefore = Buffer.from(made.bundle);
            const k = made.keyLen === undefined ? base : { bytes: base.bytes.subarray(0, made.keyLen), object: base.object };
            const run = () => codec[op === "seal" ? "sealPages" : "openPages"](k, memory, made.bundle, made.layout, made.firstIv ?? 7, made.migsIndex ?? 1);
            const message = codeOf(run);
            expect(message).to.match(/^TDX_CODEC_ARGUMENT: /);
            expect(Buffer.from(memory).equals(before)).to.equal(true);
            expect(made.bundle.equals(bundleBefore)).to.equal(true);
            // Both backends refuse with the same words.
            const other = codecOf(backend === "node" ? "native" : "node");
            if (other !== undefined) expect(codeOf(() => other[op === "seal" ? "sealPages" : "openPages"](k, memory, made.bundle, made.layout, made.firstIv ?? 7, made.migsIndex ?? 1))).to.equal(message);
          }
        });
      }
    });
  }
});
