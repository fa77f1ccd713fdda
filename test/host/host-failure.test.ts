import { expect } from "chai";
import type { ChainConnection } from "../../orchestrator/chain/index.js";
import { startHostCluster, until, type HostFactory } from "./helpers.js";

describe("host: a destination that dies during the migration", function () {
  this.timeout(180_000);
  let chain: ChainConnection;
  let factory: HostFactory;

  before(async () => {
    // Blocks may share a timestamp here, so the chain's clock follows the wall clock and short windows suffice.
    // A short confirmation timeout: the source may abort alone soon after a silent destination.
    ({ chain, factory } = await startHostCluster({ confirmationTimeout: 5n, sameTimestampBlocks: true }));
  });
  after(async () => {
    await factory?.closeAll();
  });

  it("leaves the TD running on the source, records Aborted, then gives it to the runner-up", async () => {
    const source = await factory.start("source", { raw: { migration: { onFailure: "runner-up", peerTimeoutMs: 20_000 }, auction: { commitWindowSec: 4, revealWindowSec: 3, ackTimeoutMs: 5000 } } });
    const winner = await factory.start("winner", { raw: { capacity: { tvmSlots: 8, memoryMiB: 4096 } } });
    const runner = await factory.start("runner", { raw: { capacity: { tvmSlots: 2, memoryMiB: 1024 } } });
    const created = await source.host.context.tds.create({ memoryMiB: 128, vcpus: 2, workload: { bytesPerSecond: 4_000_000, hotSetMiB: 8, seed: 3 } });

    const first = source.host.migrate({ tdId: created.tdId });
    first.catch(() => undefined); // awaited below; no unhandled rejection meanwhile
    // Kill the winner as soon as the stream starts.
    await until(() => source.log.find("allocated: starting the live migration").length > 0, "the allocation").catch((e: unknown) => {
      for (const h of factory.hosts) for (const r of h.log.records) if (r.level !== "debug" && r.msg !== "tx mined") console.log(h.config.name, JSON.stringify(r, (_k, v) => (typeof v === "bigint" ? v.toString() : v)).slice(0, 500));
      throw e;
    });
    await winner.host.close();
    const summary = await first;
    expect(summary.winner).to.equal(winner.wallet.address);
    expect(summary.status).to.equal("Aborted");
    if (summary.outcome?.followUp !== "runner-up") for (const r of source.log.records) if (r.level !== "debug" && r.msg !== "tx mined") console.log(JSON.stringify(r, (_k, v) => (typeof v === "bigint" ? v.toString() : v)).slice(0, 500));
    expect(summary.outcome?.followUp).to.equal("runner-up");
    const aborted = await source.host.context.market.allocations.allocation(summary.allocationId!);
    expect(aborted.state).to.equal("Aborted");

    // The TD never stopped being the source's until the runner-up took it.
    await until(() => source.log.find("follow-up migration finished").length > 0, "the runner-up migration", 120_000);
    const followUp = source.log.find("follow-up migration finished")[0]!;
    if (followUp.status !== "Committed") for (const h of factory.hosts) for (const r of h.log.records) if (r.level !== "debug" && r.msg !== "tx mined" && r.time > (source.log.find("offering the TD again")[0]!.time as string)) console.log(h.config.name, JSON.stringify(r, (_k, v) => (typeof v === "bigint" ? v.toString() : v)).slice(0, 500));
    expect(followUp).to.deep.include({ status: "Committed", winner: runner.wallet.address });
    expect(runner.host.context.tds.list().map((t) => t.tvmId)).to.deep.equal([created.tvmId]);
    expect(source.host.context.tds.list()).to.have.length(0);
    expect((await source.host.context.market.allocations.currentPlacement(created.tvmId)).host).to.equal(runner.wallet.address);
  });
});
