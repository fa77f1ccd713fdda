/**
 * Finding 4 of issue 9, played step by step: a host commits while active, then deregisters (or is suspended),
 * and still reveals, wins and is allocated. Defence: {revealBid} checks the bidder's standing again (one slot of
 * the HostRegistry): a suspended or exiting host cannot reveal, so it cannot win; its bond is burned.
 */
import { expect } from "chai";
import { id } from "ethers";
import {
  BOND,
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
});
