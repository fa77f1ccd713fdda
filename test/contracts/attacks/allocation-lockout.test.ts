/**
 * Finding 7 of issue 9, the lock-out form, played step by step: an admin revokes the auction's allocator role (or
 * pauses the AllocationRegistry) during an auction, so that `finalize` reverts for ever and the reserve, the bonds
 * and the TVM's one live auction are held. Defence: reveals and refunds never depend on the registry, and an auction
 * not finalized within RESCUE_GRACE after its reveal deadline can be rescued by anyone: every wei comes back to
 * whoever put it in.
 */
import { expect } from "chai";
import {
  AuctionState,
  BOND,
  RESERVE,
  commit,
  ethers,
  loadFixture,
  openAuction,
  reveal,
  sealedBid,
  suiteFixture,
  time,
} from "../fixtures.js";
import type { Suite } from "../fixtures.js";
import { gasOf, wealth } from "./ledger.js";



const locks = {
  "revokes the auction's allocator role": async (s: Suite) => {
    await s.allocationRegistry.revokeRole(await s.allocationRegistry.ALLOCATOR_ROLE(), s.suite.migrationAuction);
    return "AccessControlUnauthorizedAccount";
  },
  "pauses the AllocationRegistry and never unpauses it": async (s: Suite) => {
    await s.allocationRegistry.pause();
    return "EnforcedPause";
  },
} as const;

describe("attack: an admin locking an auction out of its allocation", () => {
  for (const [how, lock] of Object.entries(locks)) {
    it(`${how}: every wei comes back after the rescue grace`, async () => {
      const s = await loadFixture(suiteFixture);
      const { auctionId, params } = await openAuction(s);
      const bidders = [s.hosts[0]!, s.hosts[1]!];
      const bids = bidders.map((b, i) => sealedBid(b, 100n * BigInt(i + 1)));
      for (const bid of bids) await commit(s, auctionId, bid);
      const parties = [s.source.address, ...bidders.map((b) => b.address)];
      // What each party holds or has in escrow here: the reserve for the source, a bond for each bidder.
      const escrowed = [RESERVE, BOND, BOND];
      const before = await Promise.all(parties.map(async (a, i) => (await wealth(s, a)) + escrowed[i]!));
      const gas = new Map<string, bigint>(parties.map((a) => [a, 0n]));
      const spend = async (who: string, p: Promise<{ wait(): Promise<{ gasUsed: bigint; gasPrice: bigint } | null> }>) => gas.set(who, gas.get(who)! + await gasOf(p));
      await time.increaseTo(params.commitDeadline);
      for (const bid of bids) await spend(bid.bidder.address, reveal(s, auctionId, bid));
      // Step 1: the admin locks the registry; finalize now reverts.
      const error = await lock(s);
      await time.increaseTo(params.revealDeadline);
      const registryError = s.allocationRegistry.interface.getError(error)!;
      await expect(s.migrationAuction.connect(s.source).finalize(auctionId)).to.be.revertedWithCustomError(s.allocationRegistry, registryError.name);
      // Step 2: the bond of the bid that is not the best comes back at once: it never depended on the registry. The
      // best bid's is held, since it would be the winner's performance bond.
      await spend(bids[1]!.bidder.address, s.migrationAuction.connect(bids[1]!.bidder).withdrawBond(auctionId));
      await expect(s.migrationAuction.connect(bids[0]!.bidder).withdrawBond(auctionId))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionUnexpectedState")
        .withArgs(auctionId, AuctionState.Ended, AuctionState.Finalized);
      // Step 3: after the grace, anyone (here the source) rescues the auction and withdraws the reserve; the best bid's
      // bond comes back too.
      await time.increaseTo(params.revealDeadline + (await s.migrationAuction.RESCUE_GRACE()));
      await spend(s.source.address, s.migrationAuction.connect(s.source).rescue(auctionId));
      await spend(bids[0]!.bidder.address, s.migrationAuction.connect(bids[0]!.bidder).withdrawBond(auctionId));
      await spend(s.source.address, s.migrationAuction.connect(s.source).withdraw());
      expect(await s.migrationAuction.state(auctionId)).to.equal(AuctionState.Failed);
      const after = await Promise.all(parties.map((a) => wealth(s, a)));
      for (const [i, party] of parties.entries()) expect(after[i]).to.equal(before[i]! - gas.get(party)!);
      expect(await ethers.provider.getBalance(s.suite.migrationAuction)).to.equal(0n);
      expect(await s.migrationAuction.liveAuctionOf(params.tvmId)).to.equal(0n);
    });
  }
});
