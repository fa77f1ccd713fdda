/** Output helpers shared by the data commands: `--json` as one JSON document, and aligned tables for humans. */
import { toJsonSafe } from "../../log/index.js";
import type { CliIo } from "../io.js";

/** Prints `value` as pretty JSON (bigint as decimal strings, bytes as 0x-hex). */
export function printJson(io: CliIo, value: unknown): void {
  io.out(JSON.stringify(toJsonSafe(value, new WeakSet()), null, 2));
}

/** Left-aligned columns; every cell rendered with String(). */
export function table(rows: readonly (readonly unknown[])[]): string {
  const cells = rows.map((r) => r.map((c) => (c === undefined || c === null ? "-" : String(c))));
  const widths: number[] = [];
  for (const r of cells) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ")).join("\n");
}

/** "key: value" lines, keys aligned. */
export function fields(pairs: readonly (readonly [string, unknown])[]): string {
  return table(pairs.map(([k, v]) => [`${k}:`, v]));
}

/** Prints `value` as one JSON line (for scripts that read line by line). */
export function printJsonLine(io: CliIo, value: unknown): void {
  io.out(JSON.stringify(toJsonSafe(value, new WeakSet())));
}
