import { expect } from "chai";
import type { ChainConnection } from "../../orchestrator/chain/index.js";
import { startHostCluster, until, type HostFactory } from "./helpers.js";

describe("host: a bidder restarted between commit and reveal", function () {
  this.timeout(180_000);
  let chain: ChainConnection;
  let factory: HostFactory;

  before(async () => {
    // Blocks may share a timestamp here, so the chain's clock follows the wall clock and short windows suffice.
    ({ chain, factory } = await startHostCluster({ confirmationTimeout: 600n, sameTimestampBlocks: true }));
  });
  after(async () => {
    await factory?.closeAll();
  });

  it("reveals from its journal after the restart, wins, and imports the TD over a fresh session", async () => {
    const source = await factory.start("source", { raw: { auction: { commitWindowSec: 8, revealWindowSec: 4, ackTimeoutMs: 5000 } } });
    const bidder = await factory.start("bidder");
    const td = await source.host.context.tds.create({ memoryMiB: 16, vcpus: 1, workload: { bytesPerSecond: 500_000, hotSetMiB: 2, seed: 11 } });

    const migration = source.host.migrate({ tdId: td.tdId });
    migration.catch(() => undefined);
    await until(() => bidder.log.find("bid committed").length > 0, "the commit");
    // The bidder goes down after its commit, before the reveal, and comes back with the same key and data dir.
    await bidder.host.close();
    expect(bidder.log.find("bid revealed")).to.have.length(0);
    const again = await factory.start("bidder", { wallet: bidder.wallet, dir: bidder.dir });
    await until(() => again.log.find("bid revealed").length > 0, "the reveal after the restart");

    const summary = await migration;
    expect(summary.winner).to.equal(bidder.wallet.address);
    expect(summary.status, summary.outcome?.reason).to.equal("Committed");
    expect(again.host.context.tds.list().map((t) => t.tvmId)).to.deep.equal([td.tvmId]);
    expect(again.log.records.some((r) => r.msg === "protected session established" && r.fresh === true)).to.equal(true);
  });
});
