export { Journal, isJournalEntry, writeFileDurably, LOG_FILE, SNAPSHOT_FILE, LOCK_FILE } from "./journal.js";
export type { JournalEntry, JournalRecord, OpenedJournal, ReplayReport } from "./journal.js";
export { decodeLine, encodeLine } from "./codec.js";
export { acquireLock } from "./lock.js";
export type { DirLock } from "./lock.js";
export {
  applyHostEntry,
  emptyHostState,
  HOST_ENTRY_TYPES,
  isHostJournalEntry,
  replayHostState,
  snapshotHostState,
} from "./host-state.js";
export type {
  BidRecord,
  HostJournalEntry,
  HostState,
  MigrationOutcome,
  MigrationRecord,
  MirrorRecordEntry,
  MigrationRole,
  SourceAuctionRecord,
  TdRecord,
} from "./host-state.js";
export { HostJournal } from "./host-journal.js";
