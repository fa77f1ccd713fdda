/**
 * Finding 4 of issue 9, played step by step: a host commits while active, then deregisters (or is suspended),
 * and still reveals, wins and is allocated. Defence: {revealBid} checks the bidder's standing again (one slot of
 * the HostRegistry): a suspended or exiting host cannot reveal, so it cannot win; its bond is burned. A host that
 * leaves after its reveal, still the best bid, is not allocated either: {finalize} checks the winner's standing,
 * burns its bond and fails the auction, so the source gets its whole reserve back and may offer the TVM again.
 */
import { expect } from "chai";
import { id } from "ethers";
import {
  BOND,
  AuctionState,
  BidStatus,
  HostState,
  RESERVE,
  commit,
  ethers,
  loadFixture,
  openAuction,
  receiptFor,
  reveal,
  sealedBid,
  suiteFixture,
  time,
} from "../fixtures.js";

const MILLI = 10n ** 15n;

describe("attack: an inactive host revealing and winning", () => {
  for (const leave of ["deregisters", "is suspended"] as const) {
    it(`finding 4: a host that ${leave} after committing cannot reveal or win, and its bond is burned`, async () => {
      const s = await loadFixture(suiteFixture);
      const [leaver, honest] = [s.hosts[0]!, s.hosts[1]!];
      const { auctionId, params } = await openAuction(s);
      const cheap = sealedBid(leaver, 100n * MILLI);
      const fair = sealedBid(honest, 400n * MILLI);
      // Step 1: both commit while active.
      await commit(s, auctionId, cheap);
      await commit(s, auctionId, fair);
      // Step 2: the cheap bidder leaves the market (it would withdraw its stake after the delay).
      if (leave === "deregisters") await s.hostRegistry.connect(leaver).deregister();
      else await s.hostRegistry.connect(s.admin).suspendHost(leaver.address);
      const expected = leave === "deregisters" ? HostState.Exiting : HostState.Suspended;
      expect(await s.hostRegistry.hostState(leaver.address)).to.equal(expected);
      // Step 3: it tries to reveal its winning price; refused with its standing.
      await time.increaseTo(params.commitDeadline);
      await expect(reveal(s, auctionId, cheap))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionHostNotActive")
        .withArgs(auctionId, leaver.address);
      await reveal(s, auctionId, fair);
      // Step 4: the honest bidder wins at its own price; the leaver's bond is burned, not refunded.
      await time.increaseTo(params.revealDeadline);
      await s.migrationAuction.connect(s.outsider).finalize(auctionId);
      const info = await s.migrationAuction.auctionInfo(auctionId);
      expect([info.bestBidder, info.revealCount, info.secondPrice]).to.deep.equal([honest.address, 1n, 2n ** 96n - 1n]);
      const allocation = await s.allocationRegistry.allocation(info.allocationId);
      expect([allocation.destination, allocation.price, allocation.deposit]).to.deep.equal([honest.address, 400n * MILLI, RESERVE]);
      await expect(s.migrationAuction.connect(leaver).withdrawBond(auctionId))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionUnexpectedBidStatus")
        .withArgs(auctionId, leaver.address, BidStatus.Committed, BidStatus.Revealed);
      const burn = await s.migrationAuction.BURN_ADDRESS();
      await expect(s.migrationAuction.forfeitBond(auctionId, leaver.address)).to.changeEtherBalances(ethers, [burn, leaver], [BOND, 0n]);
      // The honest winner's bond comes back whole once its allocation settles (it accepted, then committed).
      await s.allocationRegistry.connect(honest).acceptAllocation(info.allocationId);
      const digest = id("state");
      await s.allocationRegistry.connect(honest).confirmMigration(info.allocationId, digest, await receiptFor(s, info.allocationId, params.tvmId, digest));
      await expect(s.migrationAuction.connect(honest).withdrawBond(auctionId)).to.changeEtherBalances(ethers, [honest], [BOND]);
    });
  }

  for (const leave of ["deregisters", "is suspended"] as const) {
    it(`a best bidder that ${leave} after its reveal is not allocated: its bond is burned, the source recovers the reserve`, async () => {
      const s = await loadFixture(suiteFixture);
      const [leaver, honest] = [s.hosts[0]!, s.hosts[1]!];
      const { auctionId, params } = await openAuction(s);
      const cheap = sealedBid(leaver, 100n * MILLI);
      const fair = sealedBid(honest, 400n * MILLI);
      await commit(s, auctionId, cheap);
      await commit(s, auctionId, fair);
      // Step 1: both reveal while active; the leaver's price is the best.
      await time.increaseTo(params.commitDeadline);
      await reveal(s, auctionId, cheap);
      await reveal(s, auctionId, fair);
      expect((await s.migrationAuction.auctionInfo(auctionId)).bestBidder).to.equal(leaver.address);
      // Step 2: it leaves the market before finalize (it would withdraw its stake after the delay).
      if (leave === "deregisters") await s.hostRegistry.connect(leaver).deregister();
      else await s.hostRegistry.connect(s.admin).suspendHost(leaver.address);
      // Step 3: finalize does not allocate it: the auction fails, its bond is burned, the reserve is the source's.
      await time.increaseTo(params.revealDeadline);
      const burn = await s.migrationAuction.BURN_ADDRESS();
      const finalize = s.migrationAuction.connect(s.outsider).finalize(auctionId);
      await expect(finalize).to.emit(s.migrationAuction, "AuctionWinnerIneligible").withArgs(auctionId, leaver.address, BOND);
      await expect(finalize).to.changeEtherBalances(ethers, [burn, s.migrationAuction], [BOND, -BOND]);
      expect(await s.migrationAuction.state(auctionId)).to.equal(AuctionState.Failed);
      expect(await s.allocationRegistry.allocationCount()).to.equal(0n);
      expect((await s.migrationAuction.bidInfo(auctionId, leaver.address)).status).to.equal(BidStatus.Forfeited);
      await expect(s.migrationAuction.connect(leaver).withdrawBond(auctionId))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionUnexpectedBidStatus")
        .withArgs(auctionId, leaver.address, BidStatus.Forfeited, BidStatus.Revealed);
      // Step 4: the honest bidder and the source lose nothing but gas; the TVM is free for a new auction.
      await expect(s.migrationAuction.connect(honest).withdrawBond(auctionId)).to.changeEtherBalances(ethers, [honest], [BOND]);
      await expect(s.migrationAuction.connect(s.source).withdraw()).to.changeEtherBalances(ethers, [s.source], [RESERVE]);
      expect(await ethers.provider.getBalance(await s.migrationAuction.getAddress())).to.equal(0n);
      expect(await s.migrationAuction.liveAuctionOf(params.tvmId)).to.equal(0n);
      const again = await openAuction(s);
      expect(await s.migrationAuction.state(again.auctionId)).to.equal(AuctionState.Commit);
    });
  }
});
