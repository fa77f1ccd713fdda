import { expect } from "chai";
import { AttestationError, decodeQuote, QuoteParseError } from "../../orchestrator/attestation/index.js";
import { createBench, type AttestationBench } from "./platforms.js";

/** A small deterministic PRNG (xorshift32) so a failing case can be replayed from its seed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

function parseOnlyThrowsParseError(bytes: Buffer, label: string): void {
  try {
    decodeQuote(bytes);
  } catch (err) {
    if (!(err instanceof QuoteParseError)) throw new Error(`${label}: parser threw ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
    expect(err.code).to.equal("ATTESTATION_QUOTE_MALFORMED");
  }
}

describe("quote parser fuzzing", () => {
  let bench: AttestationBench;
  let quote: Buffer;
  before(async () => {
    bench = await createBench();
    quote = await bench.quote();
  });

  it("random byte strings only ever raise the typed parse error", () => {
    const next = rng(0xc0ffee);
    for (let i = 0; i < 3000; i++) {
      const length = Math.floor(next() * 6000);
      const bytes = Buffer.alloc(length);
      for (let j = 0; j < length; j++) bytes[j] = Math.floor(next() * 256);
      // Half of them get a valid-looking header so the parser goes deeper.
      if (i % 2 === 0 && length >= 8) {
        bytes.writeUInt16LE(4, 0);
        bytes.writeUInt16LE(2, 2);
        bytes.writeUInt32LE(0x81, 4);
      }
      parseOnlyThrowsParseError(bytes, `random #${i} (length ${length})`);
    }
  });

  it("mutated valid quotes (bit flips, length fields, truncation, extension) parse or raise the typed error", () => {
    const next = rng(0xbadc0de);
    const lengthFields = [632, 766, 770 + 448, 1220, 1222]; // signature data, cert data size, auth size, inner type/size
    for (let i = 0; i < 3000; i++) {
      const b = Buffer.from(quote);
      const kind = i % 4;
      if (kind === 0) {
        for (let k = 0; k < 1 + Math.floor(next() * 8); k++) b[Math.floor(next() * b.length)] ^= 1 << Math.floor(next() * 8);
      } else if (kind === 1) {
        const at = lengthFields[Math.floor(next() * lengthFields.length)]!;
        b.writeUInt16LE(Math.floor(next() * 0x10000), at);
      } else if (kind === 2) {
        parseOnlyThrowsParseError(b.subarray(0, Math.floor(next() * b.length)), `truncated #${i}`);
        continue;
      } else {
        parseOnlyThrowsParseError(Buffer.concat([b, Buffer.alloc(1 + Math.floor(next() * 64), 0x41)]), `extended #${i}`);
        continue;
      }
      parseOnlyThrowsParseError(b, `mutated #${i}`);
    }
  });

  it("verification of mutated quotes fails only with typed attestation errors", async () => {
    const next = rng(42);
    let rejected = 0;
    for (let i = 0; i < 60; i++) {
      const b = Buffer.from(quote);
      b[Math.floor(next() * b.length)] ^= 1 << Math.floor(next() * 8);
      try {
        await bench.verify(b);
      } catch (err) {
        if (!(err instanceof AttestationError)) throw new Error(`mutation #${i}: verifier threw ${(err as Error).message}`);
        rejected += 1;
      }
    }
    // Every bit of a quote is covered by a signature or a structural check, except the few bytes of the
    // PEM text that a PEM decoder ignores (a single bit flip over all 4126 bytes, every 7th byte, found
    // one such byte); nearly all mutations must be caught.
    expect(rejected).to.be.greaterThan(55);
  });
});
