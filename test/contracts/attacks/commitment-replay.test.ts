/**
 * Replaying a sealed-bid commitment across deployments (finding 8 of issue 9), played step by step.
 *
 * Finding 8: the commitment was `keccak256(abi.encode(auctionId, bidder, price, capacity, salt))`, so the same
 * commitment, and the reveal that opens it, meant the same bid in auction 1 of every deployment on every chain (a
 * testnet and a mainnet deployment, or a redeployed suite, share auction ids). A bid revealed on one of them (its
 * price and salt public there) could be opened on the other, and a bid meant for one deployment counted on
 * another. Defence: the commitment also binds `block.chainid` and `address(this)`; one computed for another chain
 * or another contract never matches, the bid stays sealed and its bond stays in escrow.
 */
import { expect } from "chai";
import { id } from "ethers";
import { bidCommitment } from "../../../deploy/eip712.js";
import { deploySuite, SLOT_SAFE_AUCTION_LIMITS } from "../../../deploy/deploy-suite.js";
import { BOND, BidStatus, ENDPOINT, PARAMS, PLATFORM, RESERVE, ethers, loadFixture, openAuction, reveal, sealedBid, suiteFixture, ticketFor, time } from "../fixtures.js";
import type { SealedBid, Suite } from "../fixtures.js";

/** Commits `bid` to auction `auctionId` of `s` with the commitment computed for (`chainId`, `migrationAuction`). */
async function commitFor(s: Suite, auctionId: bigint, bid: SealedBid, chainId: bigint, migrationAuction: string) {
  const ticket = await ticketFor(s, auctionId, bid.bidder.address);
  const commitment = bidCommitment({ chainId, migrationAuction }, auctionId, bid.bidder.address, bid.price, bid.capacity, bid.salt);
  await s.migrationAuction.connect(bid.bidder).commitBid(auctionId, commitment, ticket.r, ticket.vs, { value: BOND });
}

/** The reveal fails with CommitmentMismatch, and the bid stays sealed with its bond in escrow. */
async function expectStillSealed(s: Suite, auctionId: bigint, bid: SealedBid) {
  const held = await ethers.provider.getBalance(s.suite.migrationAuction);
  const bidderBefore = await ethers.provider.getBalance(bid.bidder.address);
  await expect(reveal(s, auctionId, bid))
    .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionCommitmentMismatch")
    .withArgs(auctionId, bid.bidder.address);
  expect((await s.migrationAuction.bidInfo(auctionId, bid.bidder.address)).status).to.equal(BidStatus.Committed);
  expect((await s.migrationAuction.auctionInfo(auctionId)).revealCount).to.equal(0n);
  expect(await ethers.provider.getBalance(s.suite.migrationAuction)).to.equal(held);
  expect(held).to.equal(RESERVE + BOND);
  // Nothing was paid out: the refused reveal was not even mined (estimation failed), so the bidder did not move.
  expect(await ethers.provider.getBalance(bid.bidder.address)).to.equal(bidderBefore);
  await expect(s.migrationAuction.connect(bid.bidder).withdrawBond(auctionId))
    .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionUnexpectedBidStatus")
    .withArgs(auctionId, bid.bidder.address, BidStatus.Committed, BidStatus.Revealed);
}

describe("attack: a commitment replayed from another chain or deployment", () => {
  it("finding 8: a commitment computed for another chain id does not reveal here; the bid stays sealed and its bond in escrow", async () => {
    const s = await loadFixture(suiteFixture);
    const bid = sealedBid(s.hosts[0]!, 100n);
    const { auctionId, params } = await openAuction(s);
    // Step 1: the commitment of the very same bid on another chain (same contract address, same auction id).
    await commitFor(s, auctionId, bid, s.chainId + 1n, s.suite.migrationAuction);
    await time.increaseTo(params.commitDeadline);
    // Step 2: the values that open it on that chain do not open it here.
    await expectStillSealed(s, auctionId, bid);
  });

  it("finding 8: a commitment computed for another deployment on the same chain does not reveal here", async () => {
    const s = await loadFixture(suiteFixture);
    // Step 1: a second deployment of the suite on the same chain, where auction 1 also exists.
    const other = await deploySuite(s.admin, { ...PARAMS, auctionLimits: SLOT_SAFE_AUCTION_LIMITS });
    const bidder = s.hosts[1]!;
    await other.contracts.hostRegistry.connect(bidder).register(ENDPOINT, id("channel key other"), PLATFORM, 4, { value: PARAMS.minStake });
    const bid = sealedBid(bidder, 100n);
    const { auctionId, params } = await openAuction(s);
    expect(auctionId).to.equal(1n);
    // Step 2: the bidder commits here the commitment of its bid in auction 1 of the other deployment.
    await commitFor(s, auctionId, bid, s.chainId, other.migrationAuction);
    await time.increaseTo(params.commitDeadline);
    // Step 3: it does not open here: the bid stays sealed, its bond stays in escrow.
    await expectStillSealed(s, auctionId, bid);
  });

  it("the commitment computed for this chain and this contract reveals, and the bond comes back", async () => {
    const s = await loadFixture(suiteFixture);
    const bid = sealedBid(s.hosts[2]!, 100n);
    const { auctionId, params } = await openAuction(s);
    await commitFor(s, auctionId, bid, s.chainId, s.suite.migrationAuction);
    await time.increaseTo(params.commitDeadline);
    await expect(reveal(s, auctionId, bid)).to.emit(s.migrationAuction, "BidRevealed").withArgs(auctionId, bid.bidder.address, bid.price, bid.capacity);
    // It won alone: its bond, the winner's performance bond, comes back once it accepted and the allocation settled.
    await time.increaseTo(params.revealDeadline);
    await s.migrationAuction.finalize(auctionId);
    const { allocationId } = await s.migrationAuction.auctionInfo(auctionId);
    await s.allocationRegistry.connect(bid.bidder).acceptAllocation(allocationId);
    await s.allocationRegistry.connect(bid.bidder).abortMigration(allocationId, 1);
    await expect(s.migrationAuction.connect(bid.bidder).withdrawBond(auctionId)).to.changeEtherBalances(ethers, [bid.bidder], [BOND]);
  });
});
