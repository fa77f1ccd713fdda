import { mkdir, open, readFile, rename, stat, truncate, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { TvmxError } from "../errors/index.js";
import { nullLogger, type Logger } from "../log/index.js";
import { decodeLine, encodeLine } from "./codec.js";
import { acquireLock, type DirLock } from "./lock.js";

/**
 * A crash-safe append-only journal in a directory:
 *
 *   journal.log       one record per line (`<crc32> <json>`), each appended with fdatasync before `append`
 *                     resolves: once `await journal.append(e)` returns, `e` survives a crash or power loss.
 *   journal.snapshot  optional: the compacted state as a list of entries, covering every record up to its
 *                     `upToSeq`; written to a temp file, fsynced, then renamed over the old one (atomic).
 *   journal.lock      the pid of the process that has the journal open.
 *
 * Replay = snapshot entries, then the log records with seq > upToSeq. A torn last line (a crash mid-append)
 * is reported and cut off, since its append never returned; a damaged line anywhere else means the disk lost
 * acknowledged data, and opening fails with JOURNAL_CORRUPT rather than silently dropping it.
 */

/** Any object with a `type`; the journal stores it as JSON (bigint values included). */
export interface JournalEntry {
  type: string;
}

export interface JournalRecord<E extends JournalEntry = JournalEntry> {
  seq: number;
  time: string;
  entry: E;
}

export interface ReplayReport {
  /** Entries restored from the snapshot. */
  fromSnapshot: number;
  /** Records replayed from the log (after the snapshot). */
  fromLog: number;
  /** The torn last line that was cut off, if any. */
  tornTail?: { offset: number; bytes: number; reason: string };
  /** Pid of a crashed process whose stale lock was taken over. */
  tookOverLockFromPid?: number;
}

export interface OpenedJournal<E extends JournalEntry> {
  journal: Journal<E>;
  /** Every entry to replay, in order (snapshot first). */
  entries: E[];
  report: ReplayReport;
}

interface SnapshotFile {
  version: 1;
  upToSeq: number;
  entries: JournalEntry[];
}

export const LOG_FILE = "journal.log";
export const SNAPSHOT_FILE = "journal.snapshot";
export const LOCK_FILE = "journal.lock";

export class Journal<E extends JournalEntry = JournalEntry> {
  readonly dir: string;
  #handle: FileHandle | undefined;
  #lock: DirLock;
  #seq: number;
  #tail: Promise<unknown> = Promise.resolve();
  #logger: Logger;
  #now: () => Date;

  private constructor(dir: string, handle: FileHandle, lock: DirLock, seq: number, logger: Logger, now: () => Date) {
    this.dir = dir;
    this.#handle = handle;
    this.#lock = lock;
    this.#seq = seq;
    this.#logger = logger;
    this.#now = now;
  }

  /**
   * Opens (creating if needed) the journal in `dir`, takes its lock and returns the entries to replay.
   * `isEntry` checks each decoded entry's shape; one that fails is JOURNAL_CORRUPT.
   */
  static async open<E extends JournalEntry>(
    dir: string,
    options: { logger?: Logger; isEntry?: (value: unknown) => value is E; now?: () => Date } = {},
  ): Promise<OpenedJournal<E>> {
    const logger = options.logger ?? nullLogger;
    const isEntry = options.isEntry ?? (isJournalEntry as (value: unknown) => value is E);
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new TvmxError("JOURNAL_IO", `cannot create data directory ${dir}`, { details: { dir }, cause: err });
    }
    const lock = await acquireLock(join(dir, LOCK_FILE));
    try {
      const report: ReplayReport = { fromSnapshot: 0, fromLog: 0 };
      if (lock.tookOverFromPid !== undefined) report.tookOverLockFromPid = lock.tookOverFromPid;
      const entries: E[] = [];
      const snapshot = await readSnapshot(join(dir, SNAPSHOT_FILE), isEntry);
      let seq = 0;
      if (snapshot) {
        entries.push(...(snapshot.entries as E[]));
        report.fromSnapshot = snapshot.entries.length;
        seq = snapshot.upToSeq;
      }
      const logPath = join(dir, LOG_FILE);
      const { records, tornTail } = await readLog(logPath, isEntry);
      for (const record of records) {
        if (record.seq <= seq) continue; // already in the snapshot
        if (record.seq !== seq + 1) {
          throw new TvmxError("JOURNAL_CORRUPT", `journal record ${record.seq} follows ${seq}: records are missing`, {
            details: { file: logPath, expected: seq + 1, found: record.seq },
          });
        }
        entries.push(record.entry as E);
        seq = record.seq;
        report.fromLog++;
      }
      if (tornTail) {
        report.tornTail = tornTail;
        logger.warn("journal: cut off a torn last line (a crash interrupted its append)", { file: logPath, ...tornTail });
        await truncate(logPath, tornTail.offset);
      }
      const handle = await open(logPath, "a", 0o600);
      logger.info("journal opened", { dir, ...report, seq });
      return { journal: new Journal<E>(dir, handle, lock, seq, logger, options.now ?? (() => new Date())), entries, report };
    } catch (err) {
      await lock.release();
      if (err instanceof TvmxError) throw err;
      throw new TvmxError("JOURNAL_IO", `cannot open the journal in ${dir}`, { details: { dir }, cause: err });
    }
  }

  /** The sequence number of the last durable record. */
  get seq(): number {
    return this.#seq;
  }

  /** Appends an entry; resolves once it is on disk (fdatasync). Appends are applied in call order. */
  append(entry: E): Promise<JournalRecord<E>> {
    const result = this.#tail.then(() => this.#appendNow(entry));
    // A failed append must not block the ones after it; the caller still sees its own error.
    this.#tail = result.catch(() => undefined);
    return result;
  }

  async #appendNow(entry: E): Promise<JournalRecord<E>> {
    const handle = this.#handle;
    if (!handle) throw new TvmxError("JOURNAL_CLOSED", "journal is closed", { details: { dir: this.dir, type: entry.type } });
    const record: JournalRecord<E> = { seq: this.#seq + 1, time: this.#now().toISOString(), entry };
    try {
      await handle.appendFile(encodeLine(record));
      await handle.datasync();
    } catch (err) {
      throw new TvmxError("JOURNAL_IO", `cannot append to the journal in ${this.dir}`, { details: { dir: this.dir, type: entry.type }, cause: err });
    }
    this.#seq = record.seq;
    return record;
  }

  /**
   * Replaces everything recorded so far by `entries` (the caller's compacted state): snapshot first
   * (temp + fsync + rename + directory fsync), then the log is emptied. A crash at any point replays correctly.
   */
  compact(entries: E[]): Promise<void> {
    const result = this.#tail.then(async () => {
      const handle = this.#handle;
      if (!handle) throw new TvmxError("JOURNAL_CLOSED", "journal is closed", { details: { dir: this.dir } });
      const snapshot: SnapshotFile = { version: 1, upToSeq: this.#seq, entries };
      const path = join(this.dir, SNAPSHOT_FILE);
      try {
        await writeFileDurably(path, encodeLine(snapshot));
        await syncDir(this.dir);
        await handle.truncate(0);
        await handle.datasync();
      } catch (err) {
        throw new TvmxError("JOURNAL_IO", `cannot compact the journal in ${this.dir}`, { details: { dir: this.dir }, cause: err });
      }
      this.#logger.info("journal compacted", { dir: this.dir, upToSeq: snapshot.upToSeq, entries: entries.length });
    });
    this.#tail = result.catch(() => undefined);
    return result;
  }

  /** Size of the log file in bytes (to decide when to compact). */
  async logBytes(): Promise<number> {
    return (await stat(join(this.dir, LOG_FILE))).size;
  }

  /** Waits for pending appends, closes the file and releases the lock. Idempotent. */
  async close(): Promise<void> {
    await this.#tail;
    const handle = this.#handle;
    if (!handle) return;
    this.#handle = undefined;
    await handle.close();
    await this.#lock.release();
  }
}

export function isJournalEntry(value: unknown): value is JournalEntry {
  return typeof value === "object" && value !== null && !Array.isArray(value) && typeof (value as { type?: unknown }).type === "string";
}

function isRecord(value: unknown, isEntry: (v: unknown) => boolean): value is JournalRecord {
  if (typeof value !== "object" || value === null) return false;
  const r = value as Partial<JournalRecord>;
  return Number.isSafeInteger(r.seq) && (r.seq as number) > 0 && typeof r.time === "string" && isEntry(r.entry);
}

async function readLog(
  path: string,
  isEntry: (v: unknown) => boolean,
): Promise<{ records: JournalRecord[]; tornTail?: { offset: number; bytes: number; reason: string } }> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { records: [] };
    throw new TvmxError("JOURNAL_IO", `cannot read the journal ${path}`, { details: { file: path }, cause: err });
  }
  const records: JournalRecord[] = [];
  let offset = 0;
  let lineNo = 0;
  while (offset < buf.length) {
    const nl = buf.indexOf(0x0a, offset);
    const end = nl === -1 ? buf.length : nl;
    const line = buf.subarray(offset, end).toString("utf8");
    lineNo++;
    const decoded = decodeLine(line);
    const isLast = nl === -1 || nl === buf.length - 1;
    const bad = !decoded.ok ? decoded.reason : !isRecord(decoded.value, isEntry) ? "not a journal record" : nl === -1 ? "no final newline" : undefined;
    if (bad !== undefined) {
      if (isLast) return { records, tornTail: { offset, bytes: buf.length - offset, reason: bad } };
      throw new TvmxError("JOURNAL_CORRUPT", `journal ${path} line ${lineNo} is damaged (${bad}) and later lines exist`, {
        details: { file: path, line: lineNo, offset, reason: bad },
      });
    }
    records.push((decoded as { value: JournalRecord }).value);
    offset = end + 1;
  }
  return { records };
}

async function readSnapshot(path: string, isEntry: (v: unknown) => boolean): Promise<SnapshotFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new TvmxError("JOURNAL_IO", `cannot read the journal snapshot ${path}`, { details: { file: path }, cause: err });
  }
  // The snapshot is replaced by an atomic rename, so it is never torn: any damage is corruption.
  const decoded = decodeLine(text.replace(/\n$/, ""));
  const snap = decoded.ok ? (decoded.value as Partial<SnapshotFile>) : undefined;
  if (!snap || snap.version !== 1 || !Number.isSafeInteger(snap.upToSeq) || !Array.isArray(snap.entries) || !snap.entries.every(isEntry)) {
    throw new TvmxError("JOURNAL_CORRUPT", `journal snapshot ${path} is damaged`, {
      details: { file: path, reason: decoded.ok ? "unexpected shape" : decoded.reason },
    });
  }
  return snap as SnapshotFile;
}

/** Writes `text` to `path` atomically and durably: temp file, fsync, rename. */
export async function writeFileDurably(path: string, text: string, mode = 0o600): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  const handle = await open(tmp, "w", mode);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
