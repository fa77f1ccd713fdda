import { expect } from "chai";
import { startHostCluster, type HostFactory } from "./helpers.js";

/**
 * A bid holds the capacity it promises, from its commit until it is lost or its allocation starts: a destination
 * with one free slot that bids in one of two concurrent auctions does not bid in the other, so it never wins a TD
 * it has no room for (and never has to decline an allocation, which would cost it its performance bond).
 */
describe("host: bids hold capacity", function () {
  this.timeout(240_000);
  let factory: HostFactory;

  before(async () => {
    ({ factory } = await startHostCluster({ confirmationTimeout: 60n, sameTimestampBlocks: true }));
  });
  after(async () => {
    await factory?.closeAll();
  });

  it("bids in one of two concurrent auctions when it has one slot, and runs the TD it won", async () => {
    const auction = { auction: { commitWindowSec: 4, revealWindowSec: 3, ackTimeoutMs: 5000 }, migration: { onFailure: "none" } };
    const [first, second] = [await factory.start("first-source", { raw: auction }), await factory.start("second-source", { raw: auction })];
    const destination = await factory.start("one-slot", { raw: { capacity: { tvmSlots: 1, memoryMiB: 1024 } } });
    const tds = await Promise.all([first, second].map((s) => s.host.context.tds.create({ memoryMiB: 16, vcpus: 1 })));
    const results = await Promise.allSettled([first, second].map((s, i) => s.host.migrate({ tdId: tds[i]!.tdId, only: [destination.wallet.address] })));
    const committed = results.filter((r) => r.status === "fulfilled" && r.value.status === "Committed");
    expect(committed, JSON.stringify(results.map((r) => (r.status === "fulfilled" ? r.value.status : String(r.reason))))).to.have.length(1);
    // It declined the other auction at the price step, for want of a free slot, instead of winning it.
    const declined = destination.log.find("not bidding").filter((r) => r.reason === "no-free-slot");
    expect(declined).to.have.length(1);
    expect(destination.log.find("won an allocation with no room left (concurrent auctions); aborting it")).to.have.length(0);
    expect(destination.host.context.tds.list()).to.have.length(1);
    // Its hold became the migration's reservation and is gone with it: the slot is the running TD's.
    expect(destination.host.context.tds.capacity()).to.deep.include({ tvmSlots: 1, usedSlots: 1 });
  });
});
