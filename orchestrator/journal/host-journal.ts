import type { Logger } from "../log/index.js";
import { Journal, type ReplayReport } from "./journal.js";
import { applyHostEntry, isHostJournalEntry, replayHostState, snapshotHostState, type HostJournalEntry, type HostState } from "./host-state.js";

/**
 * The host's journal: the generic crash-safe log plus the host state it adds up to. `record(entry)`
 * resolves once the entry is durable and applied to `state`.
 */
export class HostJournal {
  readonly #journal: Journal<HostJournalEntry>;
  readonly state: HostState;
  readonly report: ReplayReport;
  readonly #compactAboveBytes: number;

  private constructor(journal: Journal<HostJournalEntry>, state: HostState, report: ReplayReport, compactAboveBytes: number) {
    this.#journal = journal;
    this.state = state;
    this.report = report;
    this.#compactAboveBytes = compactAboveBytes;
  }

  /** Opens the journal in `dataDir`, replays it, and compacts it when the log has grown past `compactAboveBytes`. */
  static async open(dataDir: string, options: { logger?: Logger; compactAboveBytes?: number } = {}): Promise<HostJournal> {
    const opened = await Journal.open<HostJournalEntry>(dataDir, { isEntry: isHostJournalEntry, ...(options.logger ? { logger: options.logger } : {}) });
    const state = replayHostState(opened.entries);
    for (const anomaly of state.anomalies) options.logger?.warn("journal: entry did not apply", { anomaly });
    const journal = new HostJournal(opened.journal, state, opened.report, options.compactAboveBytes ?? 4 * 1024 * 1024);
    await journal.compactIfLarge();
    return journal;
  }

  get dir(): string {
    return this.#journal.dir;
  }

  /** Persists `entry` (fdatasync) and applies it to `state`. */
  async record(entry: HostJournalEntry): Promise<void> {
    await this.#journal.append(entry);
    applyHostEntry(this.state, entry);
  }

  /** Rewrites the journal as a snapshot of the current state when the log is larger than the threshold. */
  async compactIfLarge(): Promise<boolean> {
    if ((await this.#journal.logBytes()) <= this.#compactAboveBytes) return false;
    await this.#journal.compact(snapshotHostState(this.state));
    return true;
  }

  close(): Promise<void> {
    return this.#journal.close();
  }
}
