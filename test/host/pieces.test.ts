import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Signature, Wallet } from "ethers";
import { tvmOriginOf } from "../../orchestrator/chain/index.js";
import { TvmxError } from "../../orchestrator/errors/index.js";
import { compatibilityProblem } from "../../orchestrator/host/destination-flow.js";
import { formatEndpoint, parseEndpoint } from "../../orchestrator/host/endpoint.js";
import { setupPlatform } from "../../orchestrator/host/platform-setup.js";
import { checkSpec, TdManager } from "../../orchestrator/host/td-manager.js";
import { decodeTicket, engineMigrationId, ticketBlob } from "../../orchestrator/host/peer-messages.js";
import { HostJournal } from "../../orchestrator/journal/index.js";
import { MemoryLogger } from "../../orchestrator/log/index.js";
import { createHostMetrics } from "../../orchestrator/metrics/index.js";
import { ATTRIBUTES } from "../../orchestrator/tdx/index.js";

const MID = `0x${"ab".repeat(32)}`;
const ORIGIN = Wallet.createRandom().address;

describe("host/endpoint", () => {
  it("round-trips the published endpoint", () => {
    const e = { host: "127.0.0.1", channelPort: 7001, migrationPort: 7002 };
    expect(formatEndpoint(e)).to.equal("tvmx://127.0.0.1:7001?migration=7002");
    expect(parseEndpoint(formatEndpoint(e))).to.deep.equal(e);
  });

  it("refuses endpoints of another form", () => {
    for (const bad of ["tcp://127.0.0.1:7001", "tvmx://127.0.0.1:0?migration=1", "tvmx://h:70000?migration=1", "tvmx://h:1?migration="]) {
      expect(() => parseEndpoint(bad), bad).to.throw(TvmxError);
    }
  });
});

describe("host/wire formats", () => {
  const source = Wallet.createRandom();

  it("carries an admission ticket in ADMISSION_TICKET", async () => {
    const sig = Signature.from(await source.signMessage("x"));
    const ticket = { auctionId: 7n, host: source.address, r: sig.r, vs: sig.yParityAndS };
    expect(decodeTicket({ type: "ADMISSION_TICKET", migrationId: MID, auctionId: "7", ticket: ticketBlob(ticket, source.address) })).to.deep.equal(ticket);
  });

  it("refuses a ticket for another auction than the message names, and ticket blobs of the wrong size", async () => {
    const sig = Signature.from(await source.signMessage("x"));
    const blob = ticketBlob({ auctionId: 7n, host: source.address, r: sig.r, vs: sig.yParityAndS }, source.address);
    expect(() => decodeTicket({ type: "ADMISSION_TICKET", migrationId: MID, auctionId: "8", ticket: blob })).to.throw(TvmxError, "ticket is for auction 7");
    expect(() => decodeTicket({ type: "ADMISSION_TICKET", migrationId: MID, auctionId: "7", ticket: { ...blob, bytes: "0x1234" } })).to.throw(
      TvmxError,
      "the ticket blob is 2 bytes, an admission ticket is 64",
    );
    // A receipt's 96-byte encoding is no longer accepted as anything in an ADMISSION_TICKET.
    const receiptSized = { ...blob, bytes: `0x${"00".repeat(96)}` };
    expect(() => decodeTicket({ type: "ADMISSION_TICKET", migrationId: MID, auctionId: "7", ticket: receiptSized })).to.throw(TvmxError, "is 96 bytes");
    expect(() => decodeTicket({ type: "ADMISSION_TICKET", migrationId: MID, auctionId: "7", ticket: { ...blob, signature: sig.serialized } })).to.throw(
      TvmxError,
      "signature is 65 bytes, it must be 64",
    );
  });

  it("names a migration for the engine by the first 16 bytes of its id", () => {
    expect(engineMigrationId(`0x${"AB".repeat(16)}${"cd".repeat(16)}`)).to.equal("ab".repeat(16));
  });
});

describe("host/TD manager", () => {
  let dir: string;
  let journal: HostJournal;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "tvmx-tds-"));
    journal = await HostJournal.open(dir);
  });
  afterEach(async () => {
    await journal.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("creates TDs until the capacity is used, counting reservations, and journals them", async () => {
    const { platform } = await setupPlatform({ authoritySeed: "a", platformSeed: "p" });
    const metrics = createHostMetrics();
    const tds = new TdManager(ORIGIN, platform, journal, { tvmSlots: 2, memoryMiB: 64 }, new MemoryLogger(), metrics);
    const a = await tds.create({ memoryMiB: 16, vcpus: 1 });
    // The TVM id commits to this host as its origin: its address, then 12 random bytes.
    expect(a.tvmId).to.match(/^0x[0-9a-f]{64}$/);
    expect(tvmOriginOf(a.tvmId)).to.equal(ORIGIN);
    expect(tds.capacity()).to.deep.equal({ tvmSlots: 2, memoryMiB: 64, usedSlots: 1, usedMemoryMiB: 16 });
    tds.reserve("m1", 32);
    const err = await tds.create({ memoryMiB: 8, vcpus: 1 }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(TvmxError).with.property("code", "HOST_NO_CAPACITY");
    tds.release("m1");
    await tds.create({ memoryMiB: 8, vcpus: 1 });
    expect(metrics.freeSlots.get()).to.equal(0);
    expect(journal.state.tds.size).to.equal(2);
    await tds.remove(a.tdId, "test");
    expect(tds.list()).to.have.length(1);
    expect(() => tds.get(a.tdId)).to.throw(TvmxError).with.property("code", "HOST_TD_NOT_FOUND");
    tds.stopAll();
  });

  it("reserves for an incoming migration only while a slot and the memory are free (a host that won more auctions than it has room for)", async () => {
    const { platform } = await setupPlatform({ authoritySeed: "a", platformSeed: "p" });
    const tds = new TdManager(ORIGIN, platform, journal, { tvmSlots: 2, memoryMiB: 64 }, new MemoryLogger());
    await tds.create({ memoryMiB: 16, vcpus: 1 });
    expect(tds.tryReserve("m1", 16)).to.equal(true);
    // the second slot is taken: a third TD has no room, whatever its size
    expect(tds.tryReserve("m2", 1)).to.equal(false);
    expect(tds.reservedMiB("m2")).to.equal(undefined);
    // the reservation a migration already holds counts as its own
    expect(tds.tryReserve("m1", 16)).to.equal(true);
    tds.release("m1");
    // a free slot but not enough memory
    expect(tds.tryReserve("m3", 49)).to.equal(false);
    expect(tds.tryReserve("m3", 48)).to.equal(true);
    expect(tds.capacity()).to.deep.include({ usedSlots: 2, usedMemoryMiB: 64 });
    tds.stopAll();
  });

  it("reports the TDs of a previous process as lost", async () => {
    const { platform } = await setupPlatform({ authoritySeed: "a", platformSeed: "p" });
    const log = new MemoryLogger();
    await new TdManager(ORIGIN, platform, journal, { tvmSlots: 2, memoryMiB: 64 }, log).create({ memoryMiB: 4, vcpus: 1 });
    const next = new TdManager(ORIGIN, platform, journal, { tvmSlots: 2, memoryMiB: 64 }, log);
    expect(await next.reconcileAfterRestart()).to.have.length(1);
    expect(journal.state.tds.size).to.equal(0);
    expect(log.find("TD lost: it ran in the previous process, whose memory is gone")).to.have.length(1);
  });

  it("does not report as lost a TD whose outgoing migration journaled the source's hand-over", async () => {
    const { platform } = await setupPlatform({ authoritySeed: "a", platformSeed: "p" });
    const log = new MemoryLogger();
    const first = new TdManager(ORIGIN, platform, journal, { tvmSlots: 2, memoryMiB: 64 }, log);
    const handed = await first.create({ memoryMiB: 4, vcpus: 1 });
    const kept = await first.create({ memoryMiB: 4, vcpus: 1 });
    await journal.record({ type: "migration.started", allocationId: 7n, migrationId: `0x${"11".repeat(32)}`, auctionId: 3n, tvmId: handed.tvmId, role: "source", peer: ORIGIN, tdId: handed.tdId });
    await journal.record({ type: "migration.handover", allocationId: 7n, stateDigest: `0x${"22".repeat(32)}`, signature: `0x${"33".repeat(65)}` });
    // an outgoing migration cut before its hand-over: that TD was lost
    await journal.record({ type: "migration.started", allocationId: 8n, migrationId: `0x${"44".repeat(32)}`, auctionId: 4n, tvmId: kept.tvmId, role: "source", peer: ORIGIN, tdId: kept.tdId });
    const next = new TdManager(ORIGIN, platform, journal, { tvmSlots: 2, memoryMiB: 64 }, log);
    expect(await next.reconcileAfterRestart()).to.deep.equal([kept.tdId]);
    expect(journal.state.tds.size).to.equal(0);
    expect(log.find("TD lost: it ran in the previous process, whose memory is gone").map((r) => r.tdId)).to.deep.equal([kept.tdId]);
    const handedOver = log.find("TD handed over before the previous process ended: the allocation's outcome on-chain says where it runs");
    expect(handedOver.map((r) => [r.tdId, r.allocationId])).to.deep.equal([[handed.tdId, 7n]]);
  });

  it("names the bad field of a TD spec", () => {
    const bad = (spec: unknown, field: string) => {
      try {
        checkSpec(spec);
        expect.fail("accepted");
      } catch (err) {
        expect((err as TvmxError).code).to.equal("CONTROL_BAD_REQUEST");
        expect((err as TvmxError).details.field).to.equal(field);
      }
    };
    bad(undefined, "(body)");
    bad({ memoryMiB: 0, vcpus: 1 }, "memoryMiB");
    bad({ memoryMiB: 8, vcpus: 1.5 }, "vcpus");
    bad({ memoryMiB: 8, vcpus: 1, workload: { bytesPerSecond: 1, hotSetMiB: 9, seed: 1 } }, "workload.hotSetMiB");
    bad({ memoryMiB: 8, vcpus: 1, workload: { bytesPerSecond: -1, hotSetMiB: 1, seed: 1 } }, "workload.bytesPerSecond");
  });
});

describe("host/compatibility of a request with this platform", () => {
  it("accepts a TD from an equal platform and names what a weaker one lacks", async () => {
    const strong = await setupPlatform({ authoritySeed: "a", platformSeed: "strong" });
    const td = strong.platform.createTd({ memoryBytes: 16 * 4096, attributes: ATTRIBUTES.MIGRATABLE });
    const init = strong.platform.module.migInitiate(td);
    const d = init.descriptor!;
    expect(compatibilityProblem({ hp: strong }, d)).to.equal(undefined);
    const stale = await setupPlatform({ authoritySeed: "a", platformSeed: "stale", teeTcbSvnRest: "0100000000000000000000000000" });
    expect(compatibilityProblem({ hp: stale }, d)).to.match(/TEE_TCB_SVN .* below the TD's capability/);
    const old = await setupPlatform({ authoritySeed: "a", platformSeed: "old", migrationVersions: { importMin: 2, importMax: 2 } });
    expect(compatibilityProblem({ hp: old }, d)).to.match(/migration versions/);
  });
});

describe("host/platform file", () => {
  it("refuses a platform file without its seeds or with a malformed field", async () => {
    const { readPlatformFile } = await import("../../orchestrator/host/platform-setup.js");
    const dir = await mkdtemp(join(tmpdir(), "tvmx-pf-"));
    const { writeFile } = await import("node:fs/promises");
    try {
      await writeFile(join(dir, "a.json"), JSON.stringify({ platformSeed: "x" }));
      expect(await readPlatformFile(join(dir, "a.json")).catch((e: unknown) => (e as TvmxError).code)).to.equal("CONFIG_INVALID");
      await writeFile(join(dir, "b.json"), JSON.stringify({ authoritySeed: "a", platformSeed: "x", fmspc: "zz" }));
      expect(await readPlatformFile(join(dir, "b.json")).catch((e: unknown) => (e as TvmxError).code)).to.equal("CONFIG_INVALID");
      expect(await readPlatformFile(join(dir, "none.json")).catch((e: unknown) => (e as TvmxError).code)).to.equal("CONFIG_NOT_FOUND");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
