import { expect } from "chai";
import type { ChainConnection } from "../../orchestrator/chain/index.js";
import { ControlClient } from "../../orchestrator/control/index.js";
import { startHostCluster, type HostFactory } from "./helpers.js";

describe("host: the whole flow with real hosts in one process, on an in-process chain", function () {
  this.timeout(120_000);
  let chain: ChainConnection;
  let factory: HostFactory;

  before(async () => {
    ({ chain, factory } = await startHostCluster({ confirmationTimeout: 600n }));
  });
  after(async () => {
    await factory?.closeAll();
  });

  it("migrates a running TD to the cheapest acceptable host, refuses the out-of-date one, and records it all", async () => {
    const source = await factory.start("source");
    const roomy = await factory.start("roomy", { raw: { capacity: { tvmSlots: 8, memoryMiB: 4096 } } });
    const cramped = await factory.start("cramped", { raw: { capacity: { tvmSlots: 2, memoryMiB: 512 } } });
    const stale = await factory.start("stale", { platform: { teeTcbSvnRest: "0100000000000000000000000000" } });

    const client = await ControlClient.fromDataDir(source.config.dataDir, { timeoutMs: 90_000 });
    const status = (await client.get("/v1/status")) as { registration: string; address: string };
    expect(status).to.deep.include({ registration: "Active", address: source.wallet.address });

    const td = (await client.post("/v1/tds", { memoryMiB: 8, vcpus: 1, workload: { bytesPerSecond: 1_000_000, hotSetMiB: 2, seed: 7 } })) as { tdId: string; tvmId: string };
    const dump = () => {
      for (const h of factory.hosts) for (const r of h.log.records) if (r.level !== "debug") console.log(h.config.name, JSON.stringify(r, (_k, v) => (typeof v === "bigint" ? v.toString() : v)).slice(0, 600));
    };
    const summary = (await client.post(`/v1/tds/${td.tdId}/migrate`, {}).catch((e: unknown) => {
      dump();
      throw e;
    })) as {
      status: string;
      winner: string;
      refused: { host: string; reason: string }[];
      acknowledged: { host: string }[];
      bids: unknown[];
      priceWei: string;
      outcome: { digestMatch: boolean; downtimeMs: number; allocationTx: string; status: string };
    };
    if (summary.status !== "Committed") {
      for (const h of factory.hosts) for (const r of h.log.records) if (r.level !== "debug") console.log(h.config.name, JSON.stringify(r, (_k, v) => (typeof v === "bigint" ? v.toString() : v)).slice(0, 400));
    }
    expect(summary.status, JSON.stringify(summary)).to.equal("Committed");
    expect(summary.winner).to.equal(roomy.wallet.address);
    expect(summary.acknowledged.map((a) => a.host).sort()).to.deep.equal([roomy.wallet.address, cramped.wallet.address].sort());
    expect(summary.refused.map((r) => r.host)).to.deep.equal([stale.wallet.address]);
    expect(summary.bids).to.have.length(2);
    // once finalized, each bid as the chain has it: the bidder's endpoint, its status and its revealed price
    const bids = summary.bids as { host: string; endpoint: string; status: string; priceWei: string }[];
    for (const b of bids) {
      expect(b.endpoint, b.host).to.match(/^tvmx:\/\/127\.0\.0\.1:\d+/);
      expect(b.status, b.host).to.be.oneOf(["Revealed", "Refunded"]);
      expect(b.priceWei, b.host).to.match(/^[1-9][0-9]*$/);
    }
    expect(bids.find((b) => b.host === roomy.wallet.address)?.priceWei).to.equal((summary as unknown as { winningBidWei: string }).winningBidWei);
    expect(summary.outcome.digestMatch).to.equal(true);

    // The TD left the source and runs on the winner; the chain says so.
    expect(source.host.context.tds.list()).to.have.length(0);
    const imported = roomy.host.context.tds.list();
    expect(imported).to.have.length(1);
    expect(imported[0]).to.deep.include({ tvmId: td.tvmId, running: true });
    const placement = await roomy.host.context.market.allocations.currentPlacement(td.tvmId);
    expect(placement.host).to.equal(roomy.wallet.address);
    // The winner accepted its allocation on-chain before it committed the import (its performance bond depends on it).
    expect((await roomy.host.context.market.allocations.allocation(placement.allocationId)).accepted).to.equal(true);
    // Escrow goes back to whom it belongs: both bidders took their bonds back.
    const auctionId = BigInt((summary as unknown as { auctionId: string }).auctionId);
    for (const h of [roomy, cramped]) {
      const deadline = Date.now() + 10_000;
      while ((await source.host.context.market.auction.bid(auctionId, h.wallet.address)).status !== "Refunded" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect((await source.host.context.market.auction.bid(auctionId, h.wallet.address)).status).to.equal("Refunded");
    }
    // Every log line of the migration carries its id.
    const migrationLines = source.log.records.filter((r) => r.role === "source" && r.step !== undefined);
    expect(migrationLines.length).to.be.greaterThan(3);
    for (const r of migrationLines) expect(r.migrationId).to.match(/^0x[0-9a-f]{64}$/);
  });
});
