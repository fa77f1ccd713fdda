import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  HostJournal,
  isHostJournalEntry,
  replayHostState,
  snapshotHostState,
  type HostJournalEntry,
} from "../../orchestrator/journal/index.js";

const SRC = "0x00000000000000000000000000000000000000a1";
const DST = "0x00000000000000000000000000000000000000b2";
const TVM = `0x${"11".repeat(32)}`;
const SALT = `0x${"5a".repeat(32)}`;

const lifecycle: HostJournalEntry[] = [
  { type: "td.added", tdId: "td-1", tvmId: TVM, spec: { memoryMiB: 64 }, origin: { kind: "created" } },
  { type: "bid.prepared", auctionId: 7n, tvmId: TVM, source: SRC, priceWei: 10n ** 16n, capacity: 3, salt: SALT, revealDeadline: 1_700_000_000 },
  { type: "bid.committed", auctionId: 7n, txHash: "0xc0" },
  { type: "auction.opened", auctionId: 9n, tvmId: TVM, tdId: "td-1", requestId: "0x01", reserveWei: 10n ** 17n, commitDeadline: 1, revealDeadline: 2, admitted: [DST], txHash: "0xa0" },
  { type: "cursor", name: "auction", block: 10 },
  { type: "cursor", name: "auction", block: 8 },
];

describe("journal/host state", () => {
  it("adds up the entries of a host", () => {
    const state = replayHostState(lifecycle);
    expect(state.tds.get("td-1")?.spec).to.deep.equal({ memoryMiB: 64 });
    expect(state.bids.get(7n)).to.deep.include({ status: "committed", salt: SALT, commitTx: "0xc0", priceWei: 10n ** 16n });
    expect(state.auctions.get(9n)).to.deep.include({ status: "open", admitted: [DST] });
    expect(state.cursors.get("auction")).to.equal(10); // never rewound
    expect(state.anomalies).to.deep.equal([]);
  });

  it("follows a bid through reveal and settlement, and a migration to its outcome", () => {
    const state = replayHostState([
      ...lifecycle,
      { type: "bid.revealed", auctionId: 7n, txHash: "0xd0" },
      { type: "bid.settled", auctionId: 7n, status: "won" },
      { type: "migration.started", allocationId: 3n, auctionId: 7n, tvmId: TVM, role: "destination", peer: SRC, tdId: "td-2" },
      { type: "migration.finished", allocationId: 3n, outcome: "Committed", stateDigest: "0xdd" },
      { type: "auction.settled", auctionId: 9n, status: "finalized", winner: DST, priceWei: 5n, allocationId: 4n },
      { type: "td.removed", tdId: "td-1", reason: "migrated" },
    ]);
    expect(state.bids.get(7n)).to.deep.include({ status: "won", revealTx: "0xd0" });
    expect(state.migrations.get(3n)).to.deep.include({ status: "Committed", stateDigest: "0xdd" });
    expect(state.auctions.get(9n)).to.deep.include({ status: "finalized", winner: DST, priceWei: 5n, allocationId: 4n });
    expect(state.tds.size).to.equal(0);
  });

  it("notes entries that refer to records it never saw", () => {
    const state = replayHostState([
      { type: "bid.committed", auctionId: 1n, txHash: "0x" },
      { type: "migration.finished", allocationId: 2n, outcome: "Aborted", reason: 701 },
      { type: "td.removed", tdId: "ghost", reason: "x" },
      { type: "auction.settled", auctionId: 5n, status: "failed" },
      { type: "bid.settled", auctionId: 1n, status: "lost" },
    ]);
    expect(state.anomalies).to.have.length(5);
  });

  it("rebuilds the same state from its snapshot", () => {
    const entries: HostJournalEntry[] = [
      ...lifecycle,
      { type: "bid.revealed", auctionId: 7n, txHash: "0xd0" },
      { type: "migration.started", allocationId: 3n, auctionId: 7n, tvmId: TVM, role: "destination", peer: SRC, tdId: "td-2" },
      { type: "auction.settled", auctionId: 9n, status: "finalized", winner: DST, priceWei: 5n, allocationId: 4n },
      { type: "mirror.pending", allocationId: 3n, migrationId: "0x01", sourceChainId: 1n, sourceTxHash: "0xa1", tvmId: TVM, source: SRC, destination: DST, price: 5n, configHash: "0xc1" },
    ];
    const state = replayHostState(entries);
    expect(state.mirrors.get(3n)?.status).to.equal("pending");
    expect(replayHostState(snapshotHostState(state))).to.deep.equal(state);
    expect(replayHostState(snapshotHostState(state, true))).to.deep.equal(state);
  });

  it("tells a destination that committed with the hand-over from one that only received it, across snapshots", () => {
    const started: HostJournalEntry = { type: "migration.started", allocationId: 3n, auctionId: 7n, tvmId: TVM, role: "destination", peer: SRC, tdId: "" };
    const handOver: HostJournalEntry = { type: "migration.handover", allocationId: 3n, stateDigest: "0xdd", signature: "0x5151" };
    const received = replayHostState([started, handOver]);
    expect(received.migrations.get(3n)).to.deep.include({ status: "running", handOver: { stateDigest: "0xdd", signature: "0x5151" } });
    expect(received.migrations.get(3n)?.imported).to.equal(undefined);
    const committed = replayHostState([started, handOver, { type: "migration.imported", allocationId: 3n }]);
    expect(committed.migrations.get(3n)?.imported).to.equal(true);
    // What recovery reads survives the compact snapshot (the migration is still running).
    expect(replayHostState(snapshotHostState(committed))).to.deep.equal(committed);
    expect(replayHostState(snapshotHostState(received))).to.deep.equal(received);
    expect(replayHostState([{ type: "migration.imported", allocationId: 9n }]).anomalies).to.have.length(1);
  });

  it("drops settled history from a compact snapshot but keeps what recovery needs", () => {
    const state = replayHostState([
      ...lifecycle,
      { type: "bid.settled", auctionId: 7n, status: "lost" },
      { type: "migration.started", allocationId: 3n, auctionId: 8n, tvmId: TVM, role: "source", peer: DST, tdId: "td-1" },
      { type: "migration.finished", allocationId: 3n, outcome: "Aborted", reason: 702 },
    ]);
    const compact = replayHostState(snapshotHostState(state));
    expect(compact.bids.size).to.equal(0);
    expect(compact.migrations.size).to.equal(0);
    expect(compact.auctions.size).to.equal(1);
    expect(compact.tds.size).to.equal(1);
    expect(compact.cursors.get("auction")).to.equal(10);
  });

  it("keeps a pending mirror in a compact snapshot and drops a recorded one", () => {
    const owed = { sourceChainId: 1n, tvmId: TVM, source: SRC, destination: DST, price: 5n, configHash: "0xc1" };
    const state = replayHostState([
      { type: "mirror.pending", allocationId: 3n, migrationId: "0x01", sourceTxHash: "0xa1", ...owed },
      { type: "mirror.pending", allocationId: 2n, migrationId: "0x02", sourceTxHash: "0xa2", ...owed },
      { type: "mirror.recorded", allocationId: 2n, txHash: "0xf2" },
    ]);
    expect(state.mirrors.get(2n)).to.deep.include({ status: "recorded", txHash: "0xf2" });
    expect([...replayHostState(snapshotHostState(state)).mirrors.keys()]).to.deep.equal([3n]);
    expect(replayHostState(snapshotHostState(state, true))).to.deep.equal(state);
  });

  it("recognises only host entries", () => {
    expect(isHostJournalEntry({ type: "bid.prepared" })).to.equal(true);
    expect(isHostJournalEntry({ type: "bid.eaten" })).to.equal(false);
    expect(isHostJournalEntry(null)).to.equal(false);
  });
});

describe("journal/HostJournal", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "tvmx-hj-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("recovers a prepared bid's salt after a restart", async () => {
    const a = await HostJournal.open(dir);
    for (const e of lifecycle.slice(0, 2)) await a.record(e);
    await a.close();
    const b = await HostJournal.open(dir);
    expect(b.state.bids.get(7n)).to.deep.include({ status: "prepared", salt: SALT });
    await b.close();
  });

  it("compacts a large log on open and keeps the state", async () => {
    const a = await HostJournal.open(dir);
    for (let block = 1; block <= 200; block++) await a.record({ type: "cursor", name: "w", block });
    await a.record(lifecycle[1]!);
    await a.close();
    const b = await HostJournal.open(dir, { compactAboveBytes: 1024 });
    expect(b.report.fromLog).to.equal(201);
    await b.close();
    const c = await HostJournal.open(dir, { compactAboveBytes: 1024 });
    expect(c.report.fromLog).to.equal(0);
    expect(c.report.fromSnapshot).to.equal(2);
    expect(c.state.cursors.get("w")).to.equal(200);
    expect(c.state.bids.get(7n)?.salt).to.equal(SALT);
    await c.close();
  });
});
