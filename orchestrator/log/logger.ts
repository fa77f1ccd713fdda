/**
 * Structured logging: one JSON object per line, e.g.
 *   {"time":"2026-01-01T00:00:00.000Z","level":"info","msg":"bid committed","component":"auction","migrationId":"0x.."}
 *
 * Every logger can derive a child that stamps extra fields on each record (the subsystem, a migration id),
 * so a pipeline step logs `log.info("pages sent", { bytes })` and the record still carries its migration id.
 * Values that JSON cannot express are rendered: bigint as a decimal string, Uint8Array as 0x-hex, Error as
 * `{name, message, code?, details?, cause?}`; a circular reference becomes "[Circular]".
 */

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every record (the child's own fields win over the parent's). */
  child(fields: LogFields): Logger;
}

/** One log record as it is written (before JSON serialisation of its values). */
export interface LogRecord {
  time: string;
  level: LogLevel;
  msg: string;
  [field: string]: unknown;
}

export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === "string" && (LOG_LEVELS as readonly string[]).includes(value);
}

/** Where finished records go. */
export type LogSink = (record: LogRecord) => void;

export interface LoggerOptions {
  /** Records below this level are dropped (default "info"). */
  level?: LogLevel;
  /** Fields stamped on every record. */
  fields?: LogFields;
  /** Clock for the `time` field (tests pass a fixed one). */
  now?: () => Date;
}

/** The logger behind every implementation: level filter, field merging, then the sink. */
class SinkLogger implements Logger {
  readonly #sink: LogSink;
  readonly #minRank: number;
  readonly #fields: LogFields;
  readonly #now: () => Date;

  constructor(sink: LogSink, options: LoggerOptions) {
    this.#sink = sink;
    this.#minRank = LEVEL_RANK[options.level ?? "info"];
    this.#fields = options.fields ?? {};
    this.#now = options.now ?? (() => new Date());
  }

  debug(msg: string, fields?: LogFields): void {
    this.#log("debug", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.#log("info", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.#log("warn", msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.#log("error", msg, fields);
  }

  child(fields: LogFields): Logger {
    const level = LOG_LEVELS.find((l) => LEVEL_RANK[l] === this.#minRank) ?? "info";
    return new SinkLogger(this.#sink, { level, fields: { ...this.#fields, ...fields }, now: this.#now });
  }

  #log(level: LogLevel, msg: string, fields: LogFields | undefined): void {
    if (LEVEL_RANK[level] < this.#minRank) return;
    // time/level/msg come first and cannot be overwritten by a field of the same name.
    const record: LogRecord = { time: this.#now().toISOString(), level, msg };
    for (const [key, value] of Object.entries({ ...this.#fields, ...fields })) {
      if (key === "time" || key === "level" || key === "msg") record[`field.${key}`] = value;
      else record[key] = value;
    }
    this.#sink(record);
  }
}

/** A logger calling `sink` with each record (already filtered by level). */
export function createLogger(sink: LogSink, options: LoggerOptions = {}): Logger {
  return new SinkLogger(sink, options);
}

/** Writes one JSON line per record to `write` (default: process.stderr, so stdout stays for command output). */
export function createJsonLogger(
  options: LoggerOptions & { write?: (line: string) => void } = {},
): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  return createLogger((record) => write(formatLogLine(record)), options);
}

/** Serialises a record to one JSON line (with the trailing newline). Never throws. */
export function formatLogLine(record: LogRecord): string {
  return `${JSON.stringify(toJsonSafe(record, new WeakSet()))}\n`;
}

/**
 * Converts a value to something JSON.stringify renders faithfully and without throwing:
 * bigint → decimal string, Uint8Array → 0x-hex, Error → plain object with its cause chain,
 * Map → object, Set → array, cycles → "[Circular]", functions/symbols → their description.
 */
export function toJsonSafe(value: unknown, seen: WeakSet<object> = new WeakSet()): unknown {
  switch (typeof value) {
    case "bigint":
      return value.toString();
    case "function":
      return `[Function ${value.name || "anonymous"}]`;
    case "symbol":
      return value.toString();
    case "undefined":
      return undefined;
    case "number":
      return Number.isFinite(value) ? value : String(value);
    case "string":
    case "boolean":
      return value;
  }
  if (value === null) return null;
  const obj = value as object;
  if (seen.has(obj)) return "[Circular]";
  seen.add(obj);
  try {
    if (obj instanceof Uint8Array) return `0x${Buffer.from(obj.buffer, obj.byteOffset, obj.byteLength).toString("hex")}`;
    if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? "Invalid Date" : obj.toISOString();
    if (obj instanceof Error) return errorToJson(obj, seen);
    if (obj instanceof Map) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of obj) out[String(k)] = toJsonSafe(v, seen);
      return out;
    }
    if (obj instanceof Set) return [...obj].map((v) => toJsonSafe(v, seen));
    if (Array.isArray(obj)) return obj.map((v) => toJsonSafe(v, seen));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) out[k] = toJsonSafe(v, seen);
    return out;
  } finally {
    // Only ancestors count as cycles; the same object twice side by side is rendered twice.
    seen.delete(obj);
  }
}

function errorToJson(err: Error, seen: WeakSet<object>): Record<string, unknown> {
  const out: Record<string, unknown> = { name: err.name, message: err.message };
  const extra = err as Error & { code?: unknown; details?: unknown; cause?: unknown };
  if (extra.code !== undefined) out.code = toJsonSafe(extra.code, seen);
  if (extra.details !== undefined) out.details = toJsonSafe(extra.details, seen);
  if (extra.cause !== undefined) out.cause = toJsonSafe(extra.cause, seen);
  return out;
}

/** A logger that drops everything (for code paths and tests that do not care). */
export const nullLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return nullLogger;
  },
};

/**
 * A logger that keeps its records in memory, for tests: `records` holds every record of this logger and of
 * all its children, in order; the values are stored as given (not serialised).
 */
export class MemoryLogger implements Logger {
  readonly records: LogRecord[];
  readonly #options: LoggerOptions;
  readonly #inner: Logger;

  /** Keeps every level by default; pass `{ level }` to filter like a real logger. */
  constructor(options: LoggerOptions = {}, records: LogRecord[] = []) {
    this.records = records;
    this.#options = options;
    this.#inner = createLogger((record) => this.records.push(record), { level: "debug", ...options });
  }

  debug(msg: string, fields?: LogFields): void {
    this.#inner.debug(msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.#inner.info(msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.#inner.warn(msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.#inner.error(msg, fields);
  }

  child(fields: LogFields): MemoryLogger {
    return new MemoryLogger({ ...this.#options, fields: { ...this.#options.fields, ...fields } }, this.records);
  }

  /** Records whose message equals `msg`. */
  find(msg: string): LogRecord[] {
    return this.records.filter((r) => r.msg === msg);
  }

  /** Messages in order, handy for asserting a pipeline's steps. */
  messages(): string[] {
    return this.records.map((r) => r.msg);
  }
}
