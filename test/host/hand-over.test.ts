import { expect } from "chai";
import { TvmxError } from "../../orchestrator/errors/index.js";
import { startHostCluster, until, type HostFactory, type TestHost } from "./helpers.js";

/**
 * The source's hand-over (its signed MigrationReceipt at the end of the blackout) travels with the engine's COMMIT:
 * the destination commits only with it, and then confirms on-chain with it alone.
 */
describe("host: the source's hand-over before the destination commits", function () {
  this.timeout(240_000);
  let factory: HostFactory;

  before(async () => {
    // A short confirmation timeout: the source may ask to abort alone soon, and its dispute window is as short.
    ({ factory } = await startHostCluster({ confirmationTimeout: 5n, sameTimestampBlocks: true }));
  });
  after(async () => {
    await factory?.closeAll();
  });

  const AUCTION = { auction: { commitWindowSec: 4, revealWindowSec: 3, ackTimeoutMs: 5000 } };

  async function pair(name: string): Promise<{ source: TestHost; destination: TestHost; td: { tdId: string; tvmId: string } }> {
    const source = await factory.start(`${name}-source`, { raw: { ...AUCTION, migration: { onFailure: "none", peerTimeoutMs: 20_000 } } });
    const destination = await factory.start(`${name}-destination`);
    const td = await source.host.context.tds.create({ memoryMiB: 16, vcpus: 1, workload: { bytesPerSecond: 500_000, hotSetMiB: 2, seed: 5 } });
    return { source, destination, td };
  }

  function handedOver(host: TestHost): boolean {
    return [...host.host.context.journal.state.migrations.values()].some((m) => m.role === "destination" && m.handOver !== undefined);
  }

  it("does not commit without the hand-over: the TD stays on the source and the allocation aborts cleanly", async () => {
    const { source, destination, td } = await pair("lost");
    // The source's hand-over is lost: what reaches the destination with COMMIT is empty.
    source.host.context.market.allocations.signReceipt = async () => "";
    const summary = await source.host.migrate({ tdId: td.tdId, only: [destination.wallet.address] });
    expect(summary.winner).to.equal(destination.wallet.address);
    expect(summary.status).to.equal("Aborted");
    expect(destination.log.find("incoming migration failed").length).to.equal(1);
    // The engine refused the commit: the import was aborted with the hand-over's refusal as its status.
    expect(destination.log.find("import aborted").map((r) => r.status)).to.deep.equal(["MIGRATION_HANDOVER_REFUSED"]);
    expect(destination.log.find("hand-over accepted")).to.have.length(0);
    expect(handedOver(destination)).to.equal(false);
    // No fork: the TD runs on the source only.
    expect(source.host.context.tds.list().map((t) => t.tvmId)).to.deep.equal([td.tvmId]);
    expect(source.host.context.tds.get(td.tdId).td.isRunning).to.equal(true);
    expect(destination.host.context.tds.list()).to.have.length(0);
    const allocations = source.host.context.market.allocations;
    expect((await allocations.allocation(summary.allocationId!)).state).to.equal("Aborted");
    expect((await allocations.currentPlacement(td.tvmId)).host).to.equal("0x0000000000000000000000000000000000000000");
    expect(await allocations.balanceOf(destination.wallet.address)).to.equal(0n);
  });

  it("does not commit while its acceptance of the allocation is not on-chain: the TD stays on the source", async () => {
    const { source, destination, td } = await pair("unaccepted");
    // The winner's acceptance never lands (its transactions fail); the chain says the allocation is not accepted.
    destination.host.context.market.allocations.accept = async () => {
      throw new TvmxError("CHAIN_TX_FAILED", "acceptance dropped by the test");
    };
    const summary = await source.host.migrate({ tdId: td.tdId, only: [destination.wallet.address] });
    expect(summary.winner).to.equal(destination.wallet.address);
    expect(summary.status).to.equal("Aborted");
    expect(destination.log.find("import aborted").map((r) => r.status)).to.deep.equal(["MIGRATION_HANDOVER_REFUSED"]);
    expect(handedOver(destination)).to.equal(false);
    expect(source.host.context.tds.list().map((t) => t.tvmId)).to.deep.equal([td.tvmId]);
    expect(source.host.context.tds.get(td.tdId).td.isRunning).to.equal(true);
    expect(destination.host.context.tds.list()).to.have.length(0);
    const a = await source.host.context.market.allocations.allocation(summary.allocationId!);
    expect([a.state, a.accepted]).to.deep.equal(["Aborted", false]);
  });

  it("commits and confirms alone when the source is killed right after sending the hand-over", async () => {
    const { source, destination, td } = await pair("killed");
    const migration = source.host.migrate({ tdId: td.tdId, only: [destination.wallet.address] });
    migration.catch(() => undefined);
    await until(() => handedOver(destination), "the hand-over on the destination", 120_000, 1);
    // The source dies the moment its hand-over is in: nothing more comes from it (no COMMITTED read, no receipt).
    await source.host.close();
    await until(() => destination.log.find("migration confirmed on-chain").length > 0, "the destination's confirmation", 60_000);
    const allocations = destination.host.context.market.allocations;
    const allocationId = [...destination.host.context.journal.state.migrations.keys()].at(-1)!;
    const a = await allocations.allocation(allocationId);
    expect(a.state).to.equal("Committed");
    expect((await allocations.currentPlacement(td.tvmId)).host).to.equal(destination.wallet.address);
    expect(destination.host.context.tds.list().map((t) => t.tvmId)).to.deep.equal([td.tvmId]);
    await until(() => destination.host.context.journal.state.migrations.get(allocationId)?.status === "Committed", "the journaled outcome");
  });

  it("confirms from its journal after a restart when it committed with the hand-over but could not confirm yet", async () => {
    const { source, destination, td } = await pair("restarted");
    // The destination's confirmations fail (its RPC is down) until it restarts.
    destination.host.context.market.allocations.confirm = async () => {
      throw new TvmxError("CHAIN_TX_FAILED", "the RPC is down");
    };
    const migration = source.host.migrate({ tdId: td.tdId, only: [destination.wallet.address] });
    migration.catch(() => undefined);
    await until(() => destination.log.find("confirmation failed; retrying").length > 0, "a failed confirmation", 120_000);
    expect(handedOver(destination)).to.equal(true);
    await destination.host.close();
    const again = await factory.start("restarted-destination", { wallet: destination.wallet, dir: destination.dir });
    await until(() => again.log.find("migration confirmed on-chain").length > 0, "the confirmation from the journal", 60_000);
    const summary = await migration;
    expect(summary.status, summary.outcome?.reason).to.equal("Committed");
    const allocations = again.host.context.market.allocations;
    expect((await allocations.allocation(summary.allocationId!)).state).to.equal("Committed");
    expect((await allocations.currentPlacement(td.tvmId)).host).to.equal(destination.wallet.address);
    expect(again.host.context.journal.state.migrations.get(summary.allocationId!)?.status).to.equal("Committed");
    // The source never resumed the TD and paid only the price: the change is credited back to it.
    expect(source.host.context.tds.list()).to.have.length(0);
  });
});
