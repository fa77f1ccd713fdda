import { expect } from "chai";
import { alive, tvmx } from "./helpers.js";

describe("e2e: the demo, run as a user runs it", function () {
  this.timeout(240_000);

  it("migrates the TD to the roomier host, refuses the out-of-date one, verifies both chains and stops every process", async () => {
    const r = await tvmx(["demo", "--json"], { timeoutMs: 230_000 });
    expect(r.code, r.stderr.slice(-3000)).to.equal(0);
    const s = JSON.parse(r.stdout) as Record<string, unknown> & {
      refused: { name: string; reason: string }[];
      bids: { name: string; priceWei: string }[];
      acks: { name: string }[];
      checks: { check: string; ok: boolean }[];
      transactions: { label: string; gasUsed: string }[];
      processes: { name: string; pid: number }[];
    };
    expect(s.status).to.equal("Committed");
    expect(s.winnerName).to.equal("dest-roomy");
    expect(s.digestMatch).to.equal(true);
    expect(s.refused.map((x) => x.name)).to.deep.equal(["dest-stale"]);
    expect(s.refused[0]!.reason).to.contain("OutOfDate");
    expect(s.acks.map((a) => a.name).sort()).to.deep.equal(["dest-cramped", "dest-roomy"]);
    // the roomier host bid less; the winner is paid the second price, the cramped host's bid
    const price = Object.fromEntries(s.bids.map((b) => [b.name, BigInt(b.priceWei)]));
    expect(price["dest-roomy"]! < price["dest-cramped"]!).to.equal(true);
    expect(s.pricePaid).to.equal(price["dest-cramped"]!.toString());
    for (const key of ["allocationTx", "mirrorTx"]) expect(s[key]).to.match(/^0x[0-9a-f]{64}$/);
    expect(s.allocationBlock).to.be.a("number");
    expect(s.mirrorBlock).to.be.a("number");
    expect(s.downtimeMs as number).to.be.greaterThan(0);
    expect(s.totalMs as number).to.be.at.least(s.downtimeMs as number);
    expect(s.checks.filter((c) => !c.ok)).to.deep.equal([]);
    const labels = s.transactions.map((t) => t.label);
    for (const l of ["MigrationAuction.openAuction", "MigrationAuction.commitBid", "MigrationAuction.revealBid", "MigrationAuction.finalize", "AllocationRegistry.confirmMigration", "AllocationRegistry.recordMirror"]) {
      expect(labels).to.include(l);
    }
    for (const t of s.transactions) expect(BigInt(t.gasUsed) > 0n).to.equal(true);
    // two chains and four hosts, all gone
    expect(s.processes).to.have.length(6);
    for (const p of s.processes) expect(alive(p.pid), `${p.name} (pid ${p.pid}) still running`).to.equal(false);
  });
});
