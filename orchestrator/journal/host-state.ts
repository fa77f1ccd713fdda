import type { JournalEntry } from "./journal.js";

/**
 * What a host journals, and the state those entries add up to. The reducer is pure: replaying the same
 * entries always gives the same state, which is what recovery after a crash relies on.
 *
 * Ordering rules the host follows (and the reason the journal exists):
 * - `bid.prepared` (with its salt) is durable BEFORE the commit transaction is sent, so a host that crashes
 *   after committing can still reveal.
 * - `auction.opened` is durable right after the open transaction is mined, so a restarted source still
 *   finalizes it and watches its allocation.
 * - `migration.started` is durable before the first page is sent; `migration.finished` after the outcome
 *   is confirmed on-chain.
 * - `migration.handover` (the source's signed hand-over) is durable on the source before it is sent, and on the
 *   destination before the import is committed.
 * - `migration.imported` is durable on the destination right after TDH.IMPORT.COMMIT: a restarted destination
 *   confirms with the hand-over only when both are there. A hand-over without it means the process died before it
 *   committed: the TD never ran here, so the destination aborts instead (confirming would put the chain's
 *   placement where the TD is not).
 * - `mirror.pending` is durable before the mirror transaction is first sent, `mirror.recorded` after it
 *   landed: a restarted host retries every mirror still pending (a mirror never changes the outcome).
 */

export type MigrationRole = "source" | "destination";
export type MigrationOutcome = "Committed" | "Aborted";

/** A TD this host runs. `spec` is the TD's creation parameters as the CPU model takes them. */
export interface TdRecord {
  tdId: string;
  tvmId: string;
  spec: Record<string, unknown>;
  /** Where it came from: created here, or imported by a migration (then the allocation id). */
  origin: { kind: "created" } | { kind: "imported"; allocationId: bigint; source: string };
}

/** An auction this host opened as the source. */
export interface SourceAuctionRecord {
  auctionId: bigint;
  tvmId: string;
  tdId: string;
  requestId: string;
  reserveWei: bigint;
  commitDeadline: number;
  revealDeadline: number;
  /** Hosts that acknowledged and passed the policy (they received admission tickets). */
  admitted: string[];
  txHash: string;
  status: "open" | "finalized" | "failed" | "cancelled";
  winner?: string;
  priceWei?: bigint;
  allocationId?: bigint;
}

/** A bid this host made as a destination. `salt` is secret until revealed. */
export interface BidRecord {
  auctionId: bigint;
  tvmId: string;
  source: string;
  priceWei: bigint;
  capacity: number;
  salt: string;
  revealDeadline: number;
  status: "prepared" | "committed" | "revealed" | "won" | "lost" | "forfeited" | "refunded";
  commitTx?: string;
  revealTx?: string;
}

/** A mirror record owed to this host's own chain (the fields of AllocationRegistry.recordMirror). */
export interface MirrorRecordEntry {
  allocationId: bigint;
  migrationId: string;
  sourceChainId: bigint;
  sourceTxHash: string;
  tvmId: string;
  source: string;
  destination: string;
  price: bigint;
  configHash: string;
  /** How the allocation settled (journals written before the field was added owe Committed mirrors only). */
  outcome?: "Committed" | "Aborted";
  status: "pending" | "recorded";
  txHash?: string;
}

/** A live migration this host takes part in. */
export interface MigrationRecord {
  allocationId: bigint;
  /** The host's 32-byte migration id (the auction's request id); absent in journals written before it was kept. */
  migrationId?: string;
  auctionId: bigint;
  tvmId: string;
  role: MigrationRole;
  peer: string;
  tdId: string;
  status: "running" | MigrationOutcome;
  reason?: number;
  stateDigest?: string;
  /** The source's hand-over (EIP-712 MigrationReceipt signature over `stateDigest`), once given or received. */
  handOver?: { stateDigest: string; signature: string };
  /** The destination committed the import (TDH.IMPORT.COMMIT returned): the TD ran here. */
  imported?: boolean;
}

export type HostJournalEntry =
  | ({ type: "td.added" } & TdRecord)
  | { type: "td.removed"; tdId: string; reason: string }
  | ({ type: "auction.opened" } & Omit<SourceAuctionRecord, "status" | "winner" | "priceWei" | "allocationId">)
  | { type: "auction.settled"; auctionId: bigint; status: "finalized" | "failed" | "cancelled"; winner?: string; priceWei?: bigint; allocationId?: bigint }
  | ({ type: "bid.prepared" } & Omit<BidRecord, "status" | "commitTx" | "revealTx">)
  | { type: "bid.committed"; auctionId: bigint; txHash: string }
  | { type: "bid.revealed"; auctionId: bigint; txHash: string }
  | { type: "bid.settled"; auctionId: bigint; status: "won" | "lost" | "forfeited" | "refunded" }
  | ({ type: "migration.started" } & Omit<MigrationRecord, "status" | "reason" | "stateDigest">)
  | { type: "migration.handover"; allocationId: bigint; stateDigest: string; signature: string }
  | { type: "migration.imported"; allocationId: bigint }
  | { type: "migration.finished"; allocationId: bigint; outcome: MigrationOutcome; reason?: number; stateDigest?: string }
  | { type: "cursor"; name: string; block: number }
  | ({ type: "mirror.pending" } & Omit<MirrorRecordEntry, "status" | "txHash">)
  | { type: "mirror.recorded"; allocationId: bigint; txHash: string };

export const HOST_ENTRY_TYPES = [
  "td.added", "td.removed", "auction.opened", "auction.settled", "bid.prepared", "bid.committed", "bid.revealed",
  "bid.settled", "migration.started", "migration.handover", "migration.imported", "migration.finished", "cursor", "mirror.pending", "mirror.recorded",
] as const satisfies readonly HostJournalEntry["type"][];

export interface HostState {
  tds: Map<string, TdRecord>;
  auctions: Map<bigint, SourceAuctionRecord>;
  bids: Map<bigint, BidRecord>;
  migrations: Map<bigint, MigrationRecord>;
  /** Last block each event watcher has fully processed. */
  cursors: Map<string, number>;
  /** Mirror records this host owes its own chain, by (source chain) allocation id. */
  mirrors: Map<bigint, MirrorRecordEntry>;
  /** Entries that did not apply (e.g. a bid.committed for an unknown auction), kept for the report. */
  anomalies: string[];
}

export function emptyHostState(): HostState {
  return { tds: new Map(), auctions: new Map(), bids: new Map(), migrations: new Map(), cursors: new Map(), mirrors: new Map(), anomalies: [] };
}

export function isHostJournalEntry(value: unknown): value is HostJournalEntry {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as JournalEntry).type === "string" &&
    (HOST_ENTRY_TYPES as readonly string[]).includes((value as JournalEntry).type)
  );
}

/** Applies one entry to the state (mutating it) and returns it. */
export function applyHostEntry(state: HostState, entry: HostJournalEntry): HostState {
  switch (entry.type) {
    case "td.added": {
      const { type: _t, ...td } = entry;
      state.tds.set(td.tdId, td);
      break;
    }
    case "td.removed":
      if (!state.tds.delete(entry.tdId)) state.anomalies.push(`td.removed for unknown TD ${entry.tdId}`);
      break;
    case "auction.opened": {
      const { type: _t, ...auction } = entry;
      state.auctions.set(auction.auctionId, { ...auction, status: "open" });
      break;
    }
    case "auction.settled": {
      const auction = state.auctions.get(entry.auctionId);
      if (!auction) {
        state.anomalies.push(`auction.settled for unknown auction ${entry.auctionId}`);
        break;
      }
      auction.status = entry.status;
      if (entry.winner !== undefined) auction.winner = entry.winner;
      if (entry.priceWei !== undefined) auction.priceWei = entry.priceWei;
      if (entry.allocationId !== undefined) auction.allocationId = entry.allocationId;
      break;
    }
    case "bid.prepared": {
      const { type: _t, ...bid } = entry;
      state.bids.set(bid.auctionId, { ...bid, status: "prepared" });
      break;
    }
    case "bid.committed":
    case "bid.revealed": {
      const bid = state.bids.get(entry.auctionId);
      if (!bid) {
        state.anomalies.push(`${entry.type} for unknown bid in auction ${entry.auctionId}`);
        break;
      }
      if (entry.type === "bid.committed") {
        bid.status = "committed";
        bid.commitTx = entry.txHash;
      } else {
        bid.status = "revealed";
        bid.revealTx = entry.txHash;
      }
      break;
    }
    case "bid.settled": {
      const bid = state.bids.get(entry.auctionId);
      if (!bid) state.anomalies.push(`bid.settled for unknown bid in auction ${entry.auctionId}`);
      else bid.status = entry.status;
      break;
    }
    case "migration.started": {
      const { type: _t, ...migration } = entry;
      state.migrations.set(migration.allocationId, { ...migration, status: "running" });
      break;
    }
    case "migration.handover": {
      const migration = state.migrations.get(entry.allocationId);
      if (!migration) state.anomalies.push(`migration.handover for unknown allocation ${entry.allocationId}`);
      else migration.handOver = { stateDigest: entry.stateDigest, signature: entry.signature };
      break;
    }
    case "migration.imported": {
      const migration = state.migrations.get(entry.allocationId);
      if (!migration) state.anomalies.push(`migration.imported for unknown allocation ${entry.allocationId}`);
      else migration.imported = true;
      break;
    }
    case "migration.finished": {
      const migration = state.migrations.get(entry.allocationId);
      if (!migration) {
        state.anomalies.push(`migration.finished for unknown allocation ${entry.allocationId}`);
        break;
      }
      migration.status = entry.outcome;
      if (entry.reason !== undefined) migration.reason = entry.reason;
      if (entry.stateDigest !== undefined) migration.stateDigest = entry.stateDigest;
      break;
    }
    case "mirror.pending": {
      const { type: _t, ...mirror } = entry;
      state.mirrors.set(mirror.allocationId, { ...mirror, status: "pending" });
      break;
    }
    case "mirror.recorded": {
      const mirror = state.mirrors.get(entry.allocationId);
      if (!mirror) {
        state.anomalies.push(`mirror.recorded for unknown allocation ${entry.allocationId}`);
        break;
      }
      mirror.status = "recorded";
      mirror.txHash = entry.txHash;
      break;
    }
    case "cursor":
      // Cursors only move forward: a late write from a slower watcher must not rewind one.
      if ((state.cursors.get(entry.name) ?? -1) < entry.block) state.cursors.set(entry.name, entry.block);
      break;
  }
  return state;
}

export function replayHostState(entries: readonly HostJournalEntry[]): HostState {
  const state = emptyHostState();
  for (const entry of entries) applyHostEntry(state, entry);
  return state;
}

/**
 * The entries that rebuild `state` (for compaction). Settled records that no longer matter for recovery
 * (bids refunded or lost, finished migrations, settled auctions) are kept only if `keepHistory` is true.
 */
export function snapshotHostState(state: HostState, keepHistory = false): HostJournalEntry[] {
  const out: HostJournalEntry[] = [];
  for (const td of state.tds.values()) out.push({ type: "td.added", ...td });
  for (const a of state.auctions.values()) {
    if (!keepHistory && a.status !== "open" && a.status !== "finalized") continue;
    const { status, winner, priceWei, allocationId, ...opened } = a;
    out.push({ type: "auction.opened", ...opened });
    if (status !== "open") {
      const settled: HostJournalEntry = { type: "auction.settled", auctionId: a.auctionId, status };
      if (winner !== undefined) settled.winner = winner;
      if (priceWei !== undefined) settled.priceWei = priceWei;
      if (allocationId !== undefined) settled.allocationId = allocationId;
      out.push(settled);
    }
  }
  for (const b of state.bids.values()) {
    if (!keepHistory && (b.status === "lost" || b.status === "refunded" || b.status === "forfeited")) continue;
    const { status, commitTx, revealTx, ...prepared } = b;
    out.push({ type: "bid.prepared", ...prepared });
    if (commitTx !== undefined) out.push({ type: "bid.committed", auctionId: b.auctionId, txHash: commitTx });
    if (revealTx !== undefined) out.push({ type: "bid.revealed", auctionId: b.auctionId, txHash: revealTx });
    if (status === "won" || status === "lost" || status === "forfeited" || status === "refunded") {
      out.push({ type: "bid.settled", auctionId: b.auctionId, status });
    }
  }
  for (const m of state.migrations.values()) {
    if (!keepHistory && m.status !== "running") continue;
    const { status, reason, stateDigest, handOver, imported, ...started } = m;
    out.push({ type: "migration.started", ...started });
    if (handOver) out.push({ type: "migration.handover", allocationId: m.allocationId, ...handOver });
    if (imported) out.push({ type: "migration.imported", allocationId: m.allocationId });
    if (status !== "running") {
      const finished: HostJournalEntry = { type: "migration.finished", allocationId: m.allocationId, outcome: status };
      if (reason !== undefined) finished.reason = reason;
      if (stateDigest !== undefined) finished.stateDigest = stateDigest;
      out.push(finished);
    }
  }
  for (const m of state.mirrors.values()) {
    if (!keepHistory && m.status !== "pending") continue;
    const { status, txHash, ...pending } = m;
    out.push({ type: "mirror.pending", ...pending });
    if (status === "recorded") out.push({ type: "mirror.recorded", allocationId: m.allocationId, txHash: txHash! });
  }
  for (const [name, block] of state.cursors) out.push({ type: "cursor", name, block });
  return out;
}
