/**
 * Finding 1 of issue 9, the TCB form, played step by step: a source sets the auction's TCB requirement above every
 * bidder's registered platform, so that every reveal would revert, and waits for the bonds. Defence: {commitBid}
 * checks the requirement against the bidder's registered platform, so the trap takes no bond at all; the honest
 * bidders are whole (they lose no wei but the gas of a transaction their client would not even send) and the source
 * gains nothing.
 */
import { expect } from "chai";
import { id } from "ethers";
import {
  AuctionState,
  BOND,
  BidStatus,
  ENDPOINT,
  PLATFORM,
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
} from "../fixtures.js";
import type { Suite } from "../fixtures.js";
import { wealth } from "./ledger.js";

/** One SVN component above PLATFORM's (0b 01 03 ...): no registered host meets it. */
const ABOVE_EVERY_PLATFORM = { minTeeTcbSvn: "0x0b010400000000000000000000000000", minTdxModuleVersion: PLATFORM.tdxModuleVersion };


async function openTrap(s: Suite) {
  const now = BigInt(await time.latest());
  const params = {
    requestId: id("request tcb trap"),
    tvmId: tvmIdOf(s.source.address, "tcb trap"),
    configHash: id("td config"),
    tcb: ABOVE_EVERY_PLATFORM,
    commitDeadline: now + 100n,
    revealDeadline: now + 200n,
    bond: BOND,
  };
  const receipt = await (await s.migrationAuction.connect(s.source).openAuction(params, { value: RESERVE })).wait();
  return { auctionId: await s.migrationAuction.auctionCount(), params, gas: receipt!.gasUsed * receipt!.gasPrice };
}

describe("attack: a source requiring a TCB above every bidder's platform", () => {
  it("takes no bond: every commit is refused with the bidder's platform, and the source ends as it started", async () => {
    const s = await loadFixture(suiteFixture);
    const sourceBefore = await wealth(s, s.source.address);
    const burn = await s.migrationAuction.BURN_ADDRESS();
    const burnedBefore = await ethers.provider.getBalance(burn);
    // Step 1: the source opens the trap (gas paid, reserve in escrow).
    const opened = await openTrap(s);
    let sourceGas = opened.gas;
    // Step 2: every honest bidder tries to commit; each is refused before its bond moves.
    const bidders = s.hosts;
    const before = await Promise.all(bidders.map((b) => ethers.provider.getBalance(b.address)));
    for (const bidder of bidders) {
      await expect(commit(s, opened.auctionId, sealedBid(bidder, 100n)))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionTcbBelowRequirement")
        .withArgs(opened.auctionId, bidder.address, PLATFORM.teeTcbSvn, PLATFORM.tdxModuleVersion);
      expect((await s.migrationAuction.bidInfo(opened.auctionId, bidder.address)).status).to.equal(BidStatus.None);
    }
    const after = await Promise.all(bidders.map((b) => ethers.provider.getBalance(b.address)));
    expect(after).to.deep.equal(before);
    // Step 3: the reveal window passes with nothing to reveal; the source finalizes, recovers its reserve and
    // has nothing to forfeit.
    await time.increaseTo(opened.params.revealDeadline);
    const finalized = await (await s.migrationAuction.connect(s.source).finalize(opened.auctionId)).wait();
    sourceGas += finalized!.gasUsed * finalized!.gasPrice;
    expect(await s.migrationAuction.state(opened.auctionId)).to.equal(AuctionState.Failed);
    await expect(s.migrationAuction.forfeitBond(opened.auctionId, bidders[0]!.address))
      .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionUnexpectedBidStatus")
      .withArgs(opened.auctionId, bidders[0]!.address, BidStatus.None, BidStatus.Committed);
    expect(await ethers.provider.getBalance(burn)).to.equal(burnedBefore);
    expect(await wealth(s, s.source.address)).to.equal(sourceBefore - sourceGas);
    expect(await ethers.provider.getBalance(await s.migrationAuction.getAddress())).to.equal(RESERVE);
  });

  it("a bidder that lowers its own registered platform after committing cannot reveal: its bond is burned (its own act)", async () => {
    const s = await loadFixture(suiteFixture);
    // The fixture's auction requires exactly PLATFORM, which every bidder registered.
    const { auctionId, params } = await openAuction(s, { tvmId: tvmIdOf(s.source.address, "platform change") });
    const bid = sealedBid(s.hosts[0]!, 100n);
    await commit(s, auctionId, bid);
    const older = { ...PLATFORM, tdxModuleVersion: 0x0104 };
    await s.hostRegistry.connect(s.hosts[0]!).update(ENDPOINT, id("channel key 0"), older, 4);
    await time.increaseTo(params.commitDeadline);
    await expect(reveal(s, auctionId, bid))
      .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionTcbBelowRequirement")
      .withArgs(auctionId, s.hosts[0]!.address, PLATFORM.teeTcbSvn, 0x0104);
    await time.increaseTo(params.revealDeadline);
    const burn = await s.migrationAuction.BURN_ADDRESS();
    await expect(s.migrationAuction.connect(s.outsider).forfeitBond(auctionId, s.hosts[0]!.address))
      .to.changeEtherBalances(ethers, [burn, s.source], [BOND, 0n]);
  });
});
