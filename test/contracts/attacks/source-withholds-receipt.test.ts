/**
 * Finding 3 of issue 9, played step by step: the source hands the TVM over (the destination committed the import and
 * runs it), then withholds its countersigned receipt, waits out the confirmation timeout and aborts alone, to get its
 * whole deposit back and keep the placement (so that it could even auction the TVM again).
 *
 * Defence: the source signs the hand-over — EIP-712 MigrationReceipt(allocationId, tvmId, stateDigest) — at the end of
 * its blackout, *before* the destination commits the import (the destination refuses to commit without it), so a
 * destination that runs the TVM always holds it; and the source's lone abort is only a request that opens a dispute
 * window, one confirmation timeout long, during which the destination confirms with the hand-over. Only after the
 * window may anyone settle the abort.
 */
import { expect } from "chai";
import { id, recoverAddress } from "ethers";
import { AllocationState, PARAMS, RESERVE, ethers, loadFixture, receiptFor, runAuction, sealedBid, suiteFixture, time } from "../fixtures.js";
import type { Suite } from "../fixtures.js";
import { gasOf, wealth } from "./ledger.js";

const DIGEST = id("TD state at pause");



/** An auction won by hosts[0] at the second price 300 (hosts[1] bid 300), allocated; the source signed the hand-over. */
async function handedOverFixture() {
  const s = await suiteFixture();
  const destination = s.hosts[0]!;
  const { allocationId, params } = await runAuction(s, [sealedBid(destination, 100n), sealedBid(s.hosts[1]!, 300n)]);
  const price = (await s.allocationRegistry.allocation(allocationId)).price;
  // End of the source's blackout: the TD is paused at DIGEST, the source signs the hand-over and sends it with the
  // commit. The destination checks it, commits the import and runs the TD.
  const handOver = await receiptFor(s, allocationId, params.tvmId, DIGEST);
  return { ...s, destination, allocationId, tvmId: params.tvmId, price, handOver };
}

describe("attack: a source that withholds the receipt after the TD runs on the destination (finding 3)", () => {
  it("cannot abort over the destination's hand-over: the destination is paid the price, the source gets only the change, the placement is the destination's", async () => {
    const s = await loadFixture(handedOverFixture);
    expect(s.price).to.equal(300n);
    const sourceBefore = await wealth(s, s.source.address);
    const destinationBefore = await wealth(s, s.destination.address);
    const held = await ethers.provider.getBalance(s.suite.allocationRegistry);

    // Step 1: the source sends no receipt after the commit and waits out the confirmation timeout (the destination is
    // slow to confirm: it was restarting, say).
    const { confirmDeadline } = await s.allocationRegistry.allocation(s.allocationId);
    await time.increaseTo(confirmDeadline);
    // Step 2: the source aborts alone. Before the fix this settled at once, crediting it the whole deposit.
    const sourceGas = await gasOf(s.allocationRegistry.connect(s.source).abortMigration(s.allocationId, 7));
    const requested = await s.allocationRegistry.allocation(s.allocationId);
    expect(requested.state).to.equal(AllocationState.Allocated);
    expect(requested.abortSettleAt).to.equal(BigInt(await time.latest()) + PARAMS.confirmationTimeout);
    expect(await s.allocationRegistry.balanceOf(s.source.address)).to.equal(0n);
    // Step 3: nobody can settle the abort during the dispute window...
    await expect(s.allocationRegistry.connect(s.source).settleAbort(s.allocationId))
      .to.be.revertedWithCustomError(s.allocationRegistry, "AllocationRegistryAbortDisputeOpen")
      .withArgs(s.allocationId, requested.abortSettleAt, BigInt(await time.latest()) + 1n);
    // ...and the destination, seeing MigrationAbortRequested, confirms with the hand-over it got before committing.
    await time.increaseTo(requested.abortSettleAt - 2n);
    const confirm = s.allocationRegistry.connect(s.destination).confirmMigration(s.allocationId, DIGEST, s.handOver);
    await expect(confirm).to.emit(s.allocationRegistry, "MigrationCommitted").withArgs(s.allocationId, s.tvmId, s.destination.address, DIGEST);
    const destinationGas = await gasOf(confirm);
    // Step 4: once the window is over the source tries to settle its abort: the allocation is Committed.
    await time.increaseTo(requested.abortSettleAt);
    await expect(s.allocationRegistry.connect(s.source).settleAbort(s.allocationId))
      .to.be.revertedWithCustomError(s.allocationRegistry, "AllocationRegistryUnexpectedState")
      .withArgs(s.allocationId, AllocationState.Committed, AllocationState.Allocated);
    await expect(s.allocationRegistry.connect(s.source).abortMigration(s.allocationId, 7))
      .to.be.revertedWithCustomError(s.allocationRegistry, "AllocationRegistryUnexpectedState")
      .withArgs(s.allocationId, AllocationState.Committed, AllocationState.Allocated);

    // Balances: the destination is owed exactly the price, the source exactly the change, nothing else moved.
    expect(await s.allocationRegistry.balanceOf(s.destination.address)).to.equal(s.price);
    expect(await s.allocationRegistry.balanceOf(s.source.address)).to.equal(RESERVE - s.price);
    expect(await wealth(s, s.destination.address)).to.equal(destinationBefore + s.price - destinationGas);
    expect(await wealth(s, s.source.address)).to.equal(sourceBefore + RESERVE - s.price - sourceGas);
    expect(await ethers.provider.getBalance(s.suite.allocationRegistry)).to.equal(held);
    // The placement is the destination's, so only the destination may offer the TVM again.
    expect(await s.allocationRegistry.currentPlacement(s.tvmId)).to.deep.equal([s.destination.address, s.allocationId]);
    expect(await s.allocationRegistry.liveAllocation(s.tvmId)).to.equal(0n);
    await expect(s.migrationAuction.connect(s.source).openAuction({
      requestId: id("again"), tvmId: s.tvmId, configHash: id("td config"), tcb: { minTeeTcbSvn: `0x${"00".repeat(16)}`, minTdxModuleVersion: 0 },
      commitDeadline: BigInt(await time.latest()) + 100n, revealDeadline: BigInt(await time.latest()) + 200n, bond: 10n ** 16n,
    }, { value: RESERVE }))
      .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionNotTvmHolder")
      .withArgs(s.tvmId, s.source.address, s.destination.address);
  });

  it("still lets an honest source recover its deposit when no hand-over was given (the TD never left it)", async () => {
    const s = await loadFixture(handedOverFixture);
    const sourceBefore = await wealth(s, s.source.address);
    const { confirmDeadline } = await s.allocationRegistry.allocation(s.allocationId);
    await time.increaseTo(confirmDeadline);
    let gas = await gasOf(s.allocationRegistry.connect(s.source).abortMigration(s.allocationId, 7));
    const { abortSettleAt } = await s.allocationRegistry.allocation(s.allocationId);
    await time.increaseTo(abortSettleAt);
    gas += await gasOf(s.allocationRegistry.connect(s.source).settleAbort(s.allocationId));
    expect(await s.allocationRegistry.state(s.allocationId)).to.equal(AllocationState.Aborted);
    expect(await wealth(s, s.source.address)).to.equal(sourceBefore + RESERVE - gas);
    expect(await s.allocationRegistry.balanceOf(s.destination.address)).to.equal(0n);
    expect((await s.allocationRegistry.currentPlacement(s.tvmId))[0]).to.equal(ethers.ZeroAddress);
  });

  it("refuses, during the dispute window, a hand-over signed by anyone but the source or presented with another digest", async () => {
    const s = await loadFixture(handedOverFixture);
    const { confirmDeadline } = await s.allocationRegistry.allocation(s.allocationId);
    await time.increaseTo(confirmDeadline);
    await s.allocationRegistry.connect(s.source).abortMigration(s.allocationId, 7);
    const forged = await receiptFor(s, s.allocationId, s.tvmId, DIGEST, s.destination);
    await expect(s.allocationRegistry.connect(s.destination).confirmMigration(s.allocationId, DIGEST, forged))
      .to.be.revertedWithCustomError(s.allocationRegistry, "AllocationRegistryInvalidReceipt")
      .withArgs(s.allocationId, s.destination.address, s.source.address);
    // The source's real hand-over, presented with another digest, recovers to some other signer.
    const other = id("another state");
    const recovered = recoverAddress(await s.allocationRegistry.receiptDigest(s.allocationId, other), s.handOver);
    expect(recovered).not.to.equal(s.source.address);
    await expect(s.allocationRegistry.connect(s.destination).confirmMigration(s.allocationId, other, s.handOver))
      .to.be.revertedWithCustomError(s.allocationRegistry, "AllocationRegistryInvalidReceipt")
      .withArgs(s.allocationId, recovered, s.source.address);
    expect(await s.allocationRegistry.state(s.allocationId)).to.equal(AllocationState.Allocated);
  });
});
