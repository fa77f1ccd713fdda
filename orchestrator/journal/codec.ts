import { crc32 } from "node:zlib";

/**
 * One journal line: `<crc32 as 8 hex digits> <json>\n`. The checksum covers the JSON text, so a line that
 * was half written (a crash mid-append) or damaged on disk is recognised instead of being misread.
 * bigint values are stored as {"$bigint":"<decimal>"} and revived on decode: amounts of wei stay exact.
 */

export function encodeLine(value: unknown): string {
  const json = JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? { $bigint: v.toString() } : v));
  return `${checksum(json)} ${json}\n`;
}

export type DecodedLine = { ok: true; value: unknown } | { ok: false; reason: string };

/** Decodes one line (without its trailing newline). */
export function decodeLine(line: string): DecodedLine {
  const space = line.indexOf(" ");
  if (space !== 8 || !/^[0-9a-f]{8}$/.test(line.slice(0, 8))) return { ok: false, reason: "no checksum prefix" };
  const json = line.slice(9);
  if (checksum(json) !== line.slice(0, 8)) return { ok: false, reason: "checksum mismatch" };
  try {
    return { ok: true, value: JSON.parse(json, reviveBigint) };
  } catch (err) {
    return { ok: false, reason: `invalid JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
}

function reviveBigint(_key: string, v: unknown): unknown {
  if (typeof v === "object" && v !== null && !Array.isArray(v)) {
    const keys = Object.keys(v);
    const big = (v as { $bigint?: unknown }).$bigint;
    if (keys.length === 1 && typeof big === "string" && /^-?[0-9]+$/.test(big)) return BigInt(big);
  }
  return v;
}

function checksum(text: string): string {
  return crc32(Buffer.from(text, "utf8")).toString(16).padStart(8, "0");
}
