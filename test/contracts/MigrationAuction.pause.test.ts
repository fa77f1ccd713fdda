/** MigrationAuction's emergency stop and rescue path: what stops, what goes on, and who may call them. */
import { expect } from "chai";
import { id } from "ethers";
import {
  AuctionState,
  BOND,
  BidStatus,
  RESERVE,
  commit,
  ethers,
  loadFixture,
  openAuction,
  reveal,
  sealedBid,
  suiteFixture,
  time,
  tvmIdOf,
} from "./fixtures.js";

describe("MigrationAuction: emergency stop and rescue", () => {
  async function committedFixture() {
    const s = await suiteFixture();
    const { auctionId, params } = await openAuction(s);
    const bids = [sealedBid(s.hosts[0]!, 100n), sealedBid(s.hosts[1]!, 200n)];
    for (const bid of bids) await commit(s, auctionId, bid);
    return { ...s, auctionId, params, bids };
  }

  describe("pause", () => {
    it("is reserved to PAUSER_ROLE, held by the admin", async () => {
      const s = await loadFixture(suiteFixture);
      const role = await s.migrationAuction.PAUSER_ROLE();
      expect(await s.migrationAuction.hasRole(role, s.admin.address)).to.equal(true);
      await expect(s.migrationAuction.connect(s.outsider).pause())
        .to.be.revertedWithCustomError(s.migrationAuction, "AccessControlUnauthorizedAccount")
        .withArgs(s.outsider.address, role);
      await expect(s.migrationAuction.pause()).to.emit(s.migrationAuction, "Paused").withArgs(s.admin.address);
      await expect(s.migrationAuction.connect(s.outsider).unpause())
        .to.be.revertedWithCustomError(s.migrationAuction, "AccessControlUnauthorizedAccount");
      await expect(s.migrationAuction.unpause()).to.emit(s.migrationAuction, "Unpaused").withArgs(s.admin.address);
    });

    it("stops openings; an auction already open still takes commits", async () => {
      const s = await loadFixture(committedFixture);
      await s.migrationAuction.pause();
      const now = BigInt(await time.latest());
      await expect(s.migrationAuction.connect(s.source).openAuction({
        ...s.params, tvmId: tvmIdOf(s.source.address, "second"), commitDeadline: now + 100n, revealDeadline: now + 200n,
      }, { value: RESERVE })).to.be.revertedWithCustomError(s.migrationAuction, "EnforcedPause");
      await expect(commit(s, s.auctionId, sealedBid(s.hosts[2]!, 1n))).to.emit(s.migrationAuction, "BidCommitted");
      expect((await s.migrationAuction.bidInfo(s.auctionId, s.hosts[2]!.address)).status).to.equal(BidStatus.Committed);
    });

    it("lets every committed bidder reveal, the auction finalize and every wei come back while paused", async () => {
      const s = await loadFixture(committedFixture);
      await s.migrationAuction.pause();
      await time.increaseTo(s.params.commitDeadline);
      for (const bid of s.bids) await reveal(s, s.auctionId, bid);
      await time.increaseTo(s.params.revealDeadline);
      await expect(s.migrationAuction.finalize(s.auctionId)).to.emit(s.migrationAuction, "AuctionFinalized");
      // The winner's bond is its performance bond: it comes back once its allocation settles (here the winner accepts,
      // then aborts); the other bond at once.
      const { allocationId } = await s.migrationAuction.auctionInfo(s.auctionId);
      await s.allocationRegistry.connect(s.bids[0]!.bidder).acceptAllocation(allocationId);
      await s.allocationRegistry.connect(s.bids[0]!.bidder).abortMigration(allocationId, 1);
      for (const bid of s.bids) {
        await expect(s.migrationAuction.connect(bid.bidder).withdrawBond(s.auctionId)).to.changeEtherBalances(ethers, [bid.bidder], [BOND]);
      }
      expect(await ethers.provider.getBalance(s.suite.migrationAuction)).to.equal(0n);
    });

    it("lets the source cancel and withdraw while paused", async () => {
      const s = await loadFixture(committedFixture);
      await s.migrationAuction.pause();
      await s.migrationAuction.connect(s.source).cancelAuction(s.auctionId);
      await expect(s.migrationAuction.connect(s.source).withdraw()).to.changeEtherBalances(ethers, [s.source], [RESERVE]);
      await expect(s.migrationAuction.connect(s.hosts[0]!).withdrawBond(s.auctionId)).to.changeEtherBalances(ethers, [s.hosts[0]!], [BOND]);
    });
  });

  describe("rescue", () => {
    it("is refused before the reveal deadline plus RESCUE_GRACE, and for an auction that is not Ended", async () => {
      const s = await loadFixture(committedFixture);
      const grace = await s.migrationAuction.RESCUE_GRACE();
      await expect(s.migrationAuction.rescue(s.auctionId))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionUnexpectedState")
        .withArgs(s.auctionId, AuctionState.Commit, AuctionState.Ended);
      await time.increaseTo(s.params.revealDeadline);
      const rescueAt = s.params.revealDeadline + grace;
      await time.setNextBlockTimestamp(rescueAt - 1n);
      await expect(s.migrationAuction.connect(s.outsider).rescue(s.auctionId))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionRescueTooEarly")
        .withArgs(s.auctionId, rescueAt, rescueAt - 1n);
    });

    it("cannot undo a finalized auction", async () => {
      const s = await loadFixture(committedFixture);
      await time.increaseTo(s.params.commitDeadline);
      await reveal(s, s.auctionId, s.bids[0]!);
      await time.increaseTo(s.params.revealDeadline);
      await s.migrationAuction.finalize(s.auctionId);
      await time.increase(await s.migrationAuction.RESCUE_GRACE());
      await expect(s.migrationAuction.rescue(s.auctionId))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionUnexpectedState")
        .withArgs(s.auctionId, AuctionState.Finalized, AuctionState.Ended);
    });

    it("after the grace, fails the auction, credits the reserve to the source and frees the TVM", async () => {
      const s = await loadFixture(committedFixture);
      await time.increaseTo(s.params.commitDeadline);
      await reveal(s, s.auctionId, s.bids[0]!);
      await time.increaseTo(s.params.revealDeadline + (await s.migrationAuction.RESCUE_GRACE()));
      const tx = s.migrationAuction.connect(s.outsider).rescue(s.auctionId);
      await expect(tx).to.emit(s.migrationAuction, "AuctionRescued").withArgs(s.auctionId, s.outsider.address);
      await expect(tx).to.emit(s.migrationAuction, "BalanceCredited").withArgs(s.source.address, s.auctionId, RESERVE);
      expect(await s.migrationAuction.state(s.auctionId)).to.equal(AuctionState.Failed);
      expect(await s.migrationAuction.liveAuctionOf(s.params.tvmId)).to.equal(0n);
      await expect(s.migrationAuction.finalize(s.auctionId))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionUnexpectedState")
        .withArgs(s.auctionId, AuctionState.Failed, AuctionState.Ended);
      // The TVM can be offered again.
      const now = BigInt(await time.latest());
      await expect(s.migrationAuction.connect(s.source).openAuction({
        ...s.params, requestId: id("again"), commitDeadline: now + 100n, revealDeadline: now + 200n,
      }, { value: RESERVE })).to.emit(s.migrationAuction, "AuctionOpened");
    });
  });
});
