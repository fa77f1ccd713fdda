/** A host daemon's JSON log lines (its log file), for the times of its steps. */
import { readFile } from "node:fs/promises";

export type LogRecord = Record<string, unknown> & { time?: string; msg?: string };

/** The JSON records of a log file; other lines (and a line being written) are skipped. */
export function parseLogRecords(text: string): LogRecord[] {
  const out: LogRecord[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      out.push(JSON.parse(line) as LogRecord);
    } catch {
      // a torn last line
    }
  }
  return out;
}

export async function readLogRecords(file: string): Promise<LogRecord[]> {
  return parseLogRecords(await readFile(file, "utf8"));
}

/** A record's `time` in ms since the epoch, or undefined. */
export function timeOf(record: LogRecord | undefined): number | undefined {
  if (!record || typeof record.time !== "string") return undefined;
  const t = Date.parse(record.time);
  return Number.isNaN(t) ? undefined : t;
}
