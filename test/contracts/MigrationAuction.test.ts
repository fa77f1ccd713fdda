import { expect } from "chai";
import { AbiCoder, TypedDataEncoder, ZeroAddress, ZeroHash, id, keccak256 } from "ethers";
import { ADMISSION_TICKET_TYPES, auctionDomain } from "../../deploy/eip712.js";
import {
  AllocationState,
  AuctionState,
  BOND,
  BidStatus,
  ENDPOINT,
  PLATFORM,
  RESERVE,
  ethers,
  commit,
  commitmentOf,
  loadFixture,
  openAuction,
  receiptFor,
  reveal,
  runAuction,
  sealedBid,
  suiteFixture,
  ticketFor,
  time,
  tvmIdOf,
} from "./fixtures.js";
import type { Suite } from "./fixtures.js";

const coder = AbiCoder.defaultAbiCoder();
const MAX_UINT96 = 2n ** 96n - 1n;

function tieKey(auctionId: bigint, bidder: string): bigint {
  return BigInt(keccak256(coder.encode(["uint64", "address"], [auctionId, bidder])));
}

async function auctionBalance(s: Suite): Promise<bigint> {
  return ethers.provider.getBalance(s.suite.migrationAuction);
}

describe("MigrationAuction", () => {
  async function openFixture() {
    const s = await suiteFixture();
    const opened = await openAuction(s);
    return { ...s, ...opened };
  }

  describe("openAuction", () => {
    it("opens an auction in the Commit state with the reserve in escrow", async () => {
      const s = await loadFixture(suiteFixture);
      const now = BigInt(await time.latest());
      const params = {
        requestId: id("request 7"),
        tvmId: tvmIdOf(s.source.address, "tvm 7"),
        configHash: id("config 7"),
        tcb: { minTeeTcbSvn: "0x0a000000000000000000000000000000", minTdxModuleVersion: 0x0104 },
        commitDeadline: now + 50n,
        revealDeadline: now + 90n,
        bond: BOND,
      };
      await expect(s.migrationAuction.connect(s.source).openAuction(params, { value: RESERVE }))
        .to.emit(s.migrationAuction, "AuctionOpened")
        .withArgs(1n, params.requestId, params.tvmId, s.source.address, RESERVE, [
          params.requestId,
          params.tvmId,
          params.configHash,
          [params.tcb.minTeeTcbSvn, params.tcb.minTdxModuleVersion],
          params.commitDeadline,
          params.revealDeadline,
          params.bond,
        ]);
      const info = await s.migrationAuction.auctionInfo(1n);
      expect(info.state).to.equal(AuctionState.Commit);
      expect(info.source).to.equal(s.source.address);
      expect(info.commitDeadline).to.equal(params.commitDeadline);
      expect(info.revealDeadline).to.equal(params.revealDeadline);
      expect(info.reserve).to.equal(RESERVE);
      expect(info.bond).to.equal(BOND);
      expect(info.revealCount).to.equal(0n);
      expect(info.bestBidder).to.equal(ZeroAddress);
      expect(info.requestId).to.equal(params.requestId);
      expect(info.tvmId).to.equal(params.tvmId);
      expect(info.configHash).to.equal(params.configHash);
      expect(info.tcb.minTeeTcbSvn).to.equal(params.tcb.minTeeTcbSvn);
      expect(info.tcb.minTdxModuleVersion).to.equal(params.tcb.minTdxModuleVersion);
      expect(await s.migrationAuction.liveAuctionOf(params.tvmId)).to.equal(1n);
      expect(await s.migrationAuction.auctionCount()).to.equal(1n);
      expect(await auctionBalance(s)).to.equal(RESERVE);
    });

    it("rejects deadlines that are not now < commit < reveal", async () => {
      const s = await loadFixture(suiteFixture);
      const now = BigInt(await time.latest());
      const base = { requestId: id("r"), tvmId: tvmIdOf(s.source.address, "t"), configHash: id("c"), tcb: { minTeeTcbSvn: "0x" + "00".repeat(16), minTdxModuleVersion: 0 }, bond: BOND };
      const auction = s.migrationAuction.connect(s.source);
      await expect(auction.openAuction({ ...base, commitDeadline: now + 1n, revealDeadline: now + 5n }, { value: RESERVE }))
        .to.be.revertedWithCustomError(auction, "MigrationAuctionInvalidDeadlines")
        .withArgs(now + 1n, now + 5n, now + 1n);
      await expect(auction.openAuction({ ...base, commitDeadline: now + 10n, revealDeadline: now + 10n }, { value: RESERVE }))
        .to.be.revertedWithCustomError(auction, "MigrationAuctionInvalidDeadlines")
        .withArgs(now + 10n, now + 10n, now + 1n);
    });

    it("rejects a zero reserve and one that reaches the 96-bit sentinel", async () => {
      const s = await loadFixture(suiteFixture);
      await expect(openAuction(s, { reserve: 0n }))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionInvalidReserve")
        .withArgs(0n);
      await ethers.provider.send("hardhat_setBalance", [s.source.address, "0x" + (MAX_UINT96 * 2n).toString(16)]);
      await expect(openAuction(s, { reserve: MAX_UINT96 }))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionInvalidReserve")
        .withArgs(MAX_UINT96);
    });

    it("rejects a bond that is not a whole number of gwei below 2^48 gwei", async () => {
      const s = await loadFixture(suiteFixture);
      await expect(openAuction(s, { bond: BOND + 1n }))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionInvalidBond")
        .withArgs(BOND + 1n);
      const tooBig = 2n ** 48n * 10n ** 9n;
      await expect(openAuction(s, { bond: tooBig }))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionInvalidBond")
        .withArgs(tooBig);
    });

    it("rejects a second auction for a TVM that is already in one", async () => {
      const s = await loadFixture(openFixture);
      await expect(openAuction(s))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionTvmInAuction")
        .withArgs(tvmIdOf(s.source.address), 1n);
    });

    it("rejects an auction for a TVM with a live allocation, and from anyone but its holder afterwards", async () => {
      const s = await loadFixture(suiteFixture);
      const winner = s.hosts[0]!;
      const { allocationId } = await runAuction(s, [sealedBid(winner, 100n)]);
      await expect(openAuction(s))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionTvmAllocationLive")
        .withArgs(tvmIdOf(s.source.address), allocationId);
      const digest = id("state");
      await s.allocationRegistry.connect(winner).confirmMigration(allocationId, digest, await receiptFor(s, allocationId, tvmIdOf(s.source.address), digest));
      await expect(openAuction(s))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionNotTvmHolder")
        .withArgs(tvmIdOf(s.source.address), s.source.address, winner.address);
      // The new holder may move the TVM on.
      const now = BigInt(await time.latest());
      await expect(
        s.migrationAuction.connect(winner).openAuction(
          { requestId: id("r2"), tvmId: tvmIdOf(s.source.address), configHash: id("c"), tcb: { minTeeTcbSvn: "0x" + "00".repeat(16), minTdxModuleVersion: 0 }, commitDeadline: now + 40n, revealDeadline: now + 80n, bond: 0n },
          { value: 1n },
        ),
      ).to.emit(s.migrationAuction, "AuctionOpened");
    });

    it("rejects a first auction for a TVM from anyone but its origin, the address in the id's high 20 bytes", async () => {
      const s = await loadFixture(suiteFixture);
      const squatter = s.hosts[0]!;
      const theirs = tvmIdOf(s.source.address, "fresh");
      const params = await paramsFor(theirs);
      await expect(s.migrationAuction.connect(squatter).openAuction(params, { value: RESERVE }))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionNotTvmOrigin")
        .withArgs(theirs, squatter.address);
      // An id made of random bytes names no host that could open it either.
      const random = id("not made from any host");
      await expect(s.migrationAuction.connect(s.source).openAuction(await paramsFor(random), { value: RESERVE }))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionNotTvmOrigin")
        .withArgs(random, s.source.address);
      // Nothing was held: the origin opens its TVM's auction.
      expect(await s.migrationAuction.liveAuctionOf(theirs)).to.equal(0n);
      await expect(s.migrationAuction.connect(s.source).openAuction(params, { value: RESERVE })).to.emit(s.migrationAuction, "AuctionOpened");
    });

    it("lets only the current placement, no longer the origin, open an auction for a placed TVM", async () => {
      const s = await loadFixture(suiteFixture);
      const [winner, third] = [s.hosts[0]!, s.hosts[1]!];
      const tvmId = tvmIdOf(s.source.address);
      const { allocationId } = await runAuction(s, [sealedBid(winner, 100n)]);
      const digest = id("state");
      await s.allocationRegistry.connect(winner).confirmMigration(allocationId, digest, await receiptFor(s, allocationId, tvmId, digest));
      await expect(s.migrationAuction.connect(third).openAuction(await paramsFor(tvmId), { value: RESERVE }))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionNotTvmHolder")
        .withArgs(tvmId, third.address, winner.address);
      await expect(s.migrationAuction.connect(winner).openAuction(await paramsFor(tvmId), { value: RESERVE })).to.emit(s.migrationAuction, "AuctionOpened");
    });

    it("opens the same way whatever the number of acknowledging hosts", async () => {
      // Nothing about the ackers is stored: the same call serves 1 or 50 of them, and each gets a ticket.
      const s = await loadFixture(suiteFixture);
      await openAuction(s, { tvmId: tvmIdOf(s.source.address, "warm") });
      // Both calls carry the same deadlines, so that their calldata differs only in the ids (whose zero-byte
      // counts are fixed), never in a deadline that happens to end in a zero byte.
      const now = BigInt(await time.latest());
      const one = await (await s.migrationAuction.connect(s.source).openAuction(await paramsFor(tvmIdOf(s.source.address, "tvm-a"), now), { value: RESERVE })).wait();
      const many = await (await s.migrationAuction.connect(s.source).openAuction(await paramsFor(tvmIdOf(s.source.address, "tvm-b"), now), { value: RESERVE })).wait();
      expect(one!.gasUsed).to.equal(many!.gasUsed);
    });
  });

  async function paramsFor(tvmId: string, at?: bigint) {
    const now = at ?? BigInt(await time.latest());
    return {
      requestId: id(`request ${tvmId}`),
      tvmId,
      configHash: id("td config"),
      tcb: { minTeeTcbSvn: "0x" + "00".repeat(16), minTdxModuleVersion: 0 },
      commitDeadline: now + 100n,
      revealDeadline: now + 200n,
      bond: BOND,
    };
  }

  describe("cancelAuction", () => {
    it("cancels, credits the source and frees the TVM", async () => {
      const s = await loadFixture(openFixture);
      const cancel = s.migrationAuction.connect(s.source).cancelAuction(s.auctionId);
      await expect(cancel).to.emit(s.migrationAuction, "AuctionCancelled").withArgs(s.auctionId);
      await expect(cancel).to.emit(s.migrationAuction, "BalanceCredited").withArgs(s.source.address, s.auctionId, RESERVE);
      expect(await s.migrationAuction.state(s.auctionId)).to.equal(AuctionState.Cancelled);
      expect(await s.migrationAuction.balanceOf(s.source.address)).to.equal(RESERVE);
      expect(await s.migrationAuction.liveAuctionOf(tvmIdOf(s.source.address))).to.equal(0n);
      await expect(commit(s, s.auctionId, sealedBid(s.hosts[0]!, 1n)))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionUnexpectedState")
        .withArgs(s.auctionId, AuctionState.Cancelled, AuctionState.Commit);
    });

    it("returns the bond of a bidder that committed before the cancellation", async () => {
      const s = await loadFixture(openFixture);
      const bid = sealedBid(s.hosts[0]!, 1n);
      await commit(s, s.auctionId, bid);
      await s.migrationAuction.connect(s.source).cancelAuction(s.auctionId);
      const refund = s.migrationAuction.connect(bid.bidder).withdrawBond(s.auctionId);
      await expect(refund).to.emit(s.migrationAuction, "BondRefunded").withArgs(s.auctionId, bid.bidder.address, BOND);
      await expect(refund).to.changeEtherBalances(ethers, [bid.bidder, s.suite.migrationAuction], [BOND, -BOND]);
      expect((await s.migrationAuction.bidInfo(s.auctionId, bid.bidder.address)).status).to.equal(BidStatus.Refunded);
    });

    it("is the source's alone, and only during the commit phase", async () => {
      const s = await loadFixture(openFixture);
      await expect(s.migrationAuction.connect(s.hosts[0]!).cancelAuction(s.auctionId))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionNotSource")
        .withArgs(s.auctionId, s.hosts[0]!.address, s.source.address);
      await time.increaseTo(s.params.commitDeadline);
      await expect(s.migrationAuction.connect(s.source).cancelAuction(s.auctionId))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionUnexpectedState")
        .withArgs(s.auctionId, AuctionState.Reveal, AuctionState.Commit);
      await expect(s.migrationAuction.connect(s.source).cancelAuction(99n))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionUnexpectedState")
        .withArgs(99n, AuctionState.None, AuctionState.Commit);
    });
  });

  describe("commitBid", () => {
    it("records the commitment of an admitted, active host with its bond", async () => {
      const s = await loadFixture(openFixture);
      const bid = sealedBid(s.hosts[0]!, 500n);
      await expect(commit(s, s.auctionId, bid))
        .to.emit(s.migrationAuction, "BidCommitted")
        .withArgs(s.auctionId, bid.bidder.address);
      const info = await s.migrationAuction.bidInfo(s.auctionId, bid.bidder.address);
      expect(info.status).to.equal(BidStatus.Committed);
      // The low 248 bits of the commitment are stored.
      expect(info.commitment).to.equal(BigInt(commitmentOf(s, s.auctionId, bid)) & (2n ** 248n - 1n));
      expect(await auctionBalance(s)).to.equal(RESERVE + BOND);
    });

    it("rejects a commitment outside the commit phase", async () => {
      const s = await loadFixture(openFixture);
      await expect(commit(s, 99n, sealedBid(s.hosts[0]!, 1n)))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionUnexpectedState")
        .withArgs(99n, AuctionState.None, AuctionState.Commit);
      await time.increaseTo(s.params.commitDeadline);
      await expect(commit(s, s.auctionId, sealedBid(s.hosts[0]!, 1n)))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionUnexpectedState")
        .withArgs(s.auctionId, AuctionState.Reveal, AuctionState.Commit);
    });

    it("rejects the source bidding in its own auction", async () => {
      const s = await loadFixture(openFixture);
      await expect(commit(s, s.auctionId, sealedBid(s.source, 1n)))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionSourceCannotBid")
        .withArgs(s.auctionId, s.source.address);
    });

    it("rejects a wrong bond", async () => {
      const s = await loadFixture(openFixture);
      await expect(commit(s, s.auctionId, sealedBid(s.hosts[0]!, 1n), BOND - 1n))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionWrongBond")
        .withArgs(s.auctionId, BOND - 1n, BOND);
    });

    it("rejects a second commitment from the same bidder", async () => {
      const s = await loadFixture(openFixture);
      await commit(s, s.auctionId, sealedBid(s.hosts[0]!, 1n));
      await expect(commit(s, s.auctionId, sealedBid(s.hosts[0]!, 2n)))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionUnexpectedBidStatus")
        .withArgs(s.auctionId, s.hosts[0]!.address, BidStatus.Committed, BidStatus.None);
    });

    it("rejects a host without a ticket from the source", async () => {
      const s = await loadFixture(openFixture);
      const host = s.hosts[0]!;
      const commitment = commitmentOf(s, s.auctionId, sealedBid(host, 1n));
      const auction = s.migrationAuction.connect(host);
      // Signed by someone else (the host itself).
      const selfSigned = await ticketFor(s, s.auctionId, host.address, host);
      await expect(auction.commitBid(s.auctionId, commitment, selfSigned.r, selfSigned.vs, { value: BOND }))
        .to.be.revertedWithCustomError(auction, "MigrationAuctionInvalidTicket")
        .withArgs(s.auctionId, host.address, host.address);
      // The ticket of another host.
      const othersTicket = await ticketFor(s, s.auctionId, s.hosts[1]!.address);
      const wrongSigner = ethers.recoverAddress(
        await s.migrationAuction.admissionTicketDigest(s.auctionId, host.address),
        { r: othersTicket.r, yParityAndS: othersTicket.vs },
      );
      await expect(auction.commitBid(s.auctionId, commitment, othersTicket.r, othersTicket.vs, { value: BOND }))
        .to.be.revertedWithCustomError(auction, "MigrationAuctionInvalidTicket")
        .withArgs(s.auctionId, host.address, wrongSigner);
      // A ticket of another auction.
      const otherAuction = await ticketFor(s, s.auctionId + 1n, host.address);
      await expect(auction.commitBid(s.auctionId, commitment, otherAuction.r, otherAuction.vs, { value: BOND }))
        .to.be.revertedWithCustomError(auction, "MigrationAuctionInvalidTicket");
      // No signature at all.
      await expect(auction.commitBid(s.auctionId, commitment, ZeroHash, ZeroHash, { value: BOND }))
        .to.be.revertedWithCustomError(auction, "MigrationAuctionInvalidTicket")
        .withArgs(s.auctionId, host.address, ZeroAddress);
    });

    it("rejects a host whose registered platform is below the TVM's TCB requirement, before its bond moves", async () => {
      const s = await loadFixture(openFixture);
      const [low, old] = [s.hosts[0]!, s.hosts[1]!];
      const lowerComponent = { ...PLATFORM, teeTcbSvn: "0x0b010200000000000000000000000000" };
      const olderModule = { ...PLATFORM, tdxModuleVersion: 0x0104 };
      await s.hostRegistry.connect(low).update(ENDPOINT, id("channel key 0"), lowerComponent, 4);
      await s.hostRegistry.connect(old).update(ENDPOINT, id("channel key 1"), olderModule, 4);
      await expect(commit(s, s.auctionId, sealedBid(low, 1n)))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionTcbBelowRequirement")
        .withArgs(s.auctionId, low.address, lowerComponent.teeTcbSvn, PLATFORM.tdxModuleVersion);
      await expect(commit(s, s.auctionId, sealedBid(old, 1n)))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionTcbBelowRequirement")
        .withArgs(s.auctionId, old.address, PLATFORM.teeTcbSvn, 0x0104);
      expect((await s.migrationAuction.bidInfo(s.auctionId, low.address)).status).to.equal(BidStatus.None);
      await expect(commit(s, s.auctionId, sealedBid(s.hosts[2]!, 1n))).to.emit(s.migrationAuction, "BidCommitted");
    });

    it("rejects an admitted account that is not an active host", async () => {
      const s = await loadFixture(openFixture);
      await expect(commit(s, s.auctionId, sealedBid(s.outsider, 1n)))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionHostNotActive")
        .withArgs(s.auctionId, s.outsider.address);
      await s.hostRegistry.suspendHost(s.hosts[0]!.address);
      await expect(commit(s, s.auctionId, sealedBid(s.hosts[0]!, 1n)))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionHostNotActive")
        .withArgs(s.auctionId, s.hosts[0]!.address);
      await s.hostRegistry.connect(s.hosts[1]!).deregister();
      await expect(commit(s, s.auctionId, sealedBid(s.hosts[1]!, 1n)))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionHostNotActive")
        .withArgs(s.auctionId, s.hosts[1]!.address);
    });
  });

  describe("revealBid", () => {
    async function committedFixture() {
      const s = await openFixture();
      const bids = [sealedBid(s.hosts[0]!, 300n, 3n), sealedBid(s.hosts[1]!, 200n, 1n), sealedBid(s.hosts[2]!, 400n, 2n)];
      for (const bid of bids) await commit(s, s.auctionId, bid);
      return { ...s, bids };
    }

    it("refuses a bidder whose registered platform is below the TVM's TCB requirement (any SVN component, or the module version)", async () => {
      const s = await loadFixture(committedFixture);
      await time.increaseTo(s.params.commitDeadline);
      const [a, b, c] = s.bids;
      // The requirement equals PLATFORM (0b 01 03 00..., module 1.5): one component lower, or module 1.4, fails.
      const lowerComponent = { ...PLATFORM, teeTcbSvn: "0x0b010200000000000000000000000000" };
      const olderModule = { ...PLATFORM, tdxModuleVersion: 0x0104 };
      const higherElsewhere = { ...PLATFORM, teeTcbSvn: "0x0c010300000000000000000000000001" };
      await s.hostRegistry.connect(s.hosts[0]!).update(ENDPOINT, id("channel key 0"), lowerComponent, 4);
      await s.hostRegistry.connect(s.hosts[1]!).update(ENDPOINT, id("channel key 1"), olderModule, 4);
      await s.hostRegistry.connect(s.hosts[2]!).update(ENDPOINT, id("channel key 2"), higherElsewhere, 4);
      await expect(reveal(s, s.auctionId, a!))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionTcbBelowRequirement")
        .withArgs(s.auctionId, a!.bidder.address, lowerComponent.teeTcbSvn, PLATFORM.tdxModuleVersion);
      await expect(reveal(s, s.auctionId, b!))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionTcbBelowRequirement")
        .withArgs(s.auctionId, b!.bidder.address, PLATFORM.teeTcbSvn, 0x0104);
      // Every component at least the required one (some above): accepted.
      await expect(reveal(s, s.auctionId, c!)).to.emit(s.migrationAuction, "BidRevealed");
      expect((await s.migrationAuction.bidInfo(s.auctionId, a!.bidder.address)).status).to.equal(BidStatus.Committed);
    });

    it("reveals a matching bid and tracks the best two prices", async () => {
      const s = await loadFixture(committedFixture);
      await time.increaseTo(s.params.commitDeadline);
      const [a, b, c] = s.bids;
      await expect(reveal(s, s.auctionId, a!))
        .to.emit(s.migrationAuction, "BidRevealed")
        .withArgs(s.auctionId, a!.bidder.address, 300n, 3n);
      let info = await s.migrationAuction.auctionInfo(s.auctionId);
      expect([info.revealCount, info.bestBidder, info.bestPrice, info.secondPrice]).to.deep.equal([1n, a!.bidder.address, 300n, MAX_UINT96]);
      await reveal(s, s.auctionId, b!);
      info = await s.migrationAuction.auctionInfo(s.auctionId);
      expect([info.revealCount, info.bestBidder, info.bestPrice, info.secondPrice]).to.deep.equal([2n, b!.bidder.address, 200n, 300n]);
      await reveal(s, s.auctionId, c!);
      info = await s.migrationAuction.auctionInfo(s.auctionId);
      expect([info.revealCount, info.bestBidder, info.bestPrice, info.secondPrice]).to.deep.equal([3n, b!.bidder.address, 200n, 300n]);
      const bidInfo = await s.migrationAuction.bidInfo(s.auctionId, c!.bidder.address);
      expect([bidInfo.status, bidInfo.price, bidInfo.capacity, bidInfo.commitment]).to.deep.equal([BidStatus.Revealed, 400n, 2n, ZeroHash]);
    });

    it("rejects a reveal outside the reveal phase", async () => {
      const s = await loadFixture(committedFixture);
      await expect(reveal(s, s.auctionId, s.bids[0]!))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionUnexpectedState")
        .withArgs(s.auctionId, AuctionState.Commit, AuctionState.Reveal);
      await time.increaseTo(s.params.revealDeadline);
      await expect(reveal(s, s.auctionId, s.bids[0]!))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionUnexpectedState")
        .withArgs(s.auctionId, AuctionState.Ended, AuctionState.Reveal);
    });

    it("rejects a reveal without a commitment, and a second reveal", async () => {
      const s = await loadFixture(committedFixture);
      await time.increaseTo(s.params.commitDeadline);
      await expect(reveal(s, s.auctionId, sealedBid(s.hosts[3]!, 1n)))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionUnexpectedBidStatus")
        .withArgs(s.auctionId, s.hosts[3]!.address, BidStatus.None, BidStatus.Committed);
      await reveal(s, s.auctionId, s.bids[0]!);
      await expect(reveal(s, s.auctionId, s.bids[0]!))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionUnexpectedBidStatus")
        .withArgs(s.auctionId, s.hosts[0]!.address, BidStatus.Revealed, BidStatus.Committed);
    });

    it("rejects values that do not match the commitment", async () => {
      const s = await loadFixture(committedFixture);
      await time.increaseTo(s.params.commitDeadline);
      const bid = s.bids[0]!;
      for (const wrong of [
        { ...bid, price: bid.price - 1n },
        { ...bid, capacity: bid.capacity + 1n },
        { ...bid, salt: id("another salt") },
      ]) {
        await expect(reveal(s, s.auctionId, wrong))
          .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionCommitmentMismatch")
          .withArgs(s.auctionId, bid.bidder.address);
      }
    });

    it("rejects a price above the reserve and a zero capacity", async () => {
      const s = await loadFixture(openFixture);
      const tooExpensive = sealedBid(s.hosts[0]!, RESERVE + 1n);
      const noRoom = sealedBid(s.hosts[1]!, 1n, 0n);
      await commit(s, s.auctionId, tooExpensive);
      await commit(s, s.auctionId, noRoom);
      await time.increaseTo(s.params.commitDeadline);
      await expect(reveal(s, s.auctionId, tooExpensive))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionPriceAboveReserve")
        .withArgs(s.auctionId, RESERVE + 1n, RESERVE);
      await expect(reveal(s, s.auctionId, noRoom))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionZeroCapacity")
        .withArgs(s.auctionId, s.hosts[1]!.address);
    });
  });

  describe("finalize", () => {
    it("allocates to the lowest bidder at the second-lowest price", async () => {
      const s = await loadFixture(suiteFixture);
      const bids = [sealedBid(s.hosts[0]!, 300n), sealedBid(s.hosts[1]!, 200n), sealedBid(s.hosts[2]!, 250n)];
      const { auctionId, params } = await openAuction(s);
      for (const bid of bids) await commit(s, auctionId, bid);
      await time.increaseTo(params.commitDeadline);
      for (const bid of bids) await reveal(s, auctionId, bid);
      await time.increaseTo(params.revealDeadline);
      // Anyone may finalize.
      const tx = s.migrationAuction.connect(s.outsider).finalize(auctionId);
      await expect(tx)
        .to.emit(s.migrationAuction, "AuctionFinalized")
        .withArgs(auctionId, s.hosts[1]!.address, 1n, 200n, 250n);
      await expect(tx)
        .to.emit(s.allocationRegistry, "Allocated")
        .withArgs(params.tvmId, auctionId, s.source.address, s.hosts[1]!.address, 250n, params.configHash, 1n);
      await expect(tx).to.changeEtherBalances(ethers, [s.suite.migrationAuction, s.suite.allocationRegistry], [-RESERVE, RESERVE]);
      const info = await s.migrationAuction.auctionInfo(auctionId);
      expect(info.state).to.equal(AuctionState.Finalized);
      expect(info.allocationId).to.equal(1n);
      expect(await s.migrationAuction.liveAuctionOf(params.tvmId)).to.equal(0n);
      const allocation = await s.allocationRegistry.allocation(1n);
      expect(allocation.state).to.equal(AllocationState.Allocated);
      expect(allocation.deposit).to.equal(RESERVE);
    });

    it("pays a lone bidder its own price", async () => {
      const s = await loadFixture(suiteFixture);
      const { allocationId } = await runAuction(s, [sealedBid(s.hosts[0]!, 777n)]);
      const allocation = await s.allocationRegistry.allocation(allocationId);
      expect([allocation.destination, allocation.price]).to.deep.equal([s.hosts[0]!.address, 777n]);
    });

    it("breaks a tie by the smaller key(auctionId, bidder), whatever the order of reveals", async () => {
      const s = await loadFixture(suiteFixture);
      const [x, y] = [s.hosts[0]!, s.hosts[1]!];
      const expected = tieKey(1n, x.address) < tieKey(1n, y.address) ? x.address : y.address;
      const forward = await runAuction(s, [sealedBid(x, 100n), sealedBid(y, 100n)]);
      expect((await s.allocationRegistry.allocation(forward.allocationId)).destination).to.equal(expected);
      expect((await s.allocationRegistry.allocation(forward.allocationId)).price).to.equal(100n);

      const again = await loadFixture(suiteFixture);
      const backward = await runAuction(again, [sealedBid(y, 100n), sealedBid(x, 100n)]);
      expect((await again.allocationRegistry.allocation(backward.allocationId)).destination).to.equal(expected);
    });

    it("fails without any revealed bid and credits the reserve back to the source", async () => {
      const s = await loadFixture(openFixture);
      await commit(s, s.auctionId, sealedBid(s.hosts[0]!, 1n));
      await time.increaseTo(s.params.revealDeadline);
      const tx = s.migrationAuction.finalize(s.auctionId);
      await expect(tx).to.emit(s.migrationAuction, "AuctionFailed").withArgs(s.auctionId);
      await expect(tx).to.emit(s.migrationAuction, "BalanceCredited").withArgs(s.source.address, s.auctionId, RESERVE);
      expect(await s.migrationAuction.state(s.auctionId)).to.equal(AuctionState.Failed);
      expect(await s.migrationAuction.liveAuctionOf(tvmIdOf(s.source.address))).to.equal(0n);
      expect((await s.migrationAuction.auctionInfo(s.auctionId)).allocationId).to.equal(0n);
    });

    it("is refused before the reveal deadline and after settlement", async () => {
      const s = await loadFixture(openFixture);
      await expect(s.migrationAuction.finalize(s.auctionId))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionUnexpectedState")
        .withArgs(s.auctionId, AuctionState.Commit, AuctionState.Ended);
      await time.increaseTo(s.params.revealDeadline);
      await s.migrationAuction.finalize(s.auctionId);
      await expect(s.migrationAuction.finalize(s.auctionId))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionUnexpectedState")
        .withArgs(s.auctionId, AuctionState.Failed, AuctionState.Ended);
    });
  });

  describe("bonds", () => {
    async function endedFixture() {
      const s = await openFixture();
      const revealer = sealedBid(s.hosts[0]!, 100n);
      const silent = sealedBid(s.hosts[1]!, 50n);
      await commit(s, s.auctionId, revealer);
      await commit(s, s.auctionId, silent);
      await time.increaseTo(s.params.commitDeadline);
      await reveal(s, s.auctionId, revealer);
      return { ...s, revealer, silent };
    }

    it("returns the bond of a revealed bid that is not the best at once, once", async () => {
      const s = await loadFixture(endedFixture);
      const loser = s.revealer.bidder;
      const best = sealedBid(s.hosts[2]!, 60n);
      // A fresh auction with the best bid and another (endedFixture's revealer is the best alone).
      const second = await openAuction(s, { tvmId: tvmIdOf(s.source.address, "second") });
      const lose = sealedBid(loser, 100n);
      await commit(s, second.auctionId, lose);
      await commit(s, second.auctionId, best);
      await time.increaseTo(second.params.commitDeadline);
      await reveal(s, second.auctionId, lose);
      // While it is the best bid, its bond is held: it may yet win.
      await expect(s.migrationAuction.connect(loser).withdrawBond(second.auctionId))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionUnexpectedState")
        .withArgs(second.auctionId, AuctionState.Reveal, AuctionState.Finalized);
      await reveal(s, second.auctionId, best);
      // Displaced, it can never be the best again: refundable at once, in the reveal phase.
      const refund = s.migrationAuction.connect(loser).withdrawBond(second.auctionId);
      await expect(refund).to.emit(s.migrationAuction, "BondRefunded").withArgs(second.auctionId, loser.address, BOND);
      await expect(refund).to.changeEtherBalances(ethers, [loser], [BOND]);
      const info = await s.migrationAuction.bidInfo(second.auctionId, loser.address);
      expect([info.status, info.price]).to.deep.equal([BidStatus.Refunded, 100n]);
      await expect(s.migrationAuction.connect(loser).withdrawBond(second.auctionId))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionUnexpectedBidStatus")
        .withArgs(second.auctionId, loser.address, BidStatus.Refunded, BidStatus.Revealed);
      await time.increaseTo(second.params.revealDeadline);
      await expect(s.migrationAuction.connect(best.bidder).withdrawBond(second.auctionId))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionUnexpectedState")
        .withArgs(second.auctionId, AuctionState.Ended, AuctionState.Finalized);
    });

    it("holds the winner's bond while its allocation is live, and returns it once the allocation committed", async () => {
      const s = await loadFixture(openFixture);
      const win = sealedBid(s.hosts[0]!, 60n);
      const { auctionId, allocationId, params } = await runAuction(s, [win, sealedBid(s.hosts[1]!, 90n)], { tvmId: tvmIdOf(s.source.address, "won") });
      await expect(s.migrationAuction.connect(win.bidder).withdrawBond(auctionId))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionBondHeld")
        .withArgs(auctionId, win.bidder.address, allocationId, AllocationState.Allocated);
      const digest = id("state");
      await s.allocationRegistry.connect(win.bidder).confirmMigration(allocationId, digest, await receiptFor(s, allocationId, params.tvmId, digest));
      await expect(s.migrationAuction.connect(win.bidder).withdrawBond(auctionId)).to.changeEtherBalances(ethers, [win.bidder], [BOND]);
    });

    it("keeps the bond of an unrevealed bid in a live auction", async () => {
      const s = await loadFixture(endedFixture);
      await expect(s.migrationAuction.connect(s.silent.bidder).withdrawBond(s.auctionId))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionUnexpectedBidStatus")
        .withArgs(s.auctionId, s.silent.bidder.address, BidStatus.Committed, BidStatus.Revealed);
    });

    it("burns the bond of an unrevealed bid after the reveal deadline, paying nobody", async () => {
      const s = await loadFixture(endedFixture);
      const silent = s.silent.bidder.address;
      const burn = await s.migrationAuction.BURN_ADDRESS();
      expect(burn).to.equal("0x000000000000000000000000000000000000dEaD");
      await expect(s.migrationAuction.connect(s.outsider).forfeitBond(s.auctionId, silent))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionUnexpectedState")
        .withArgs(s.auctionId, AuctionState.Reveal, AuctionState.Ended);
      await time.increaseTo(s.params.revealDeadline);
      const sourceBefore = await s.migrationAuction.balanceOf(s.source.address);
      const tx = s.migrationAuction.connect(s.outsider).forfeitBond(s.auctionId, silent);
      await expect(tx).to.emit(s.migrationAuction, "BondForfeited").withArgs(s.auctionId, silent, BOND);
      await expect(tx).not.to.emit(s.migrationAuction, "BalanceCredited");
      await expect(tx).to.changeEtherBalances(ethers, [s.suite.migrationAuction, burn, s.source, s.outsider], [-BOND, BOND, 0n, 0n]);
      expect((await s.migrationAuction.bidInfo(s.auctionId, silent)).status).to.equal(BidStatus.Forfeited);
      await expect(s.migrationAuction.forfeitBond(s.auctionId, silent))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionUnexpectedBidStatus")
        .withArgs(s.auctionId, silent, BidStatus.Forfeited, BidStatus.Committed);
      await expect(s.migrationAuction.forfeitBond(s.auctionId, s.revealer.bidder.address))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionUnexpectedBidStatus")
        .withArgs(s.auctionId, s.revealer.bidder.address, BidStatus.Revealed, BidStatus.Committed);
      // Also after finalization: the source's credited balance never grows by a forfeit.
      await s.migrationAuction.finalize(s.auctionId);
      expect(await s.migrationAuction.balanceOf(s.source.address)).to.equal(sourceBefore);
    });

    it("forfeits nothing from a cancelled auction", async () => {
      const s = await loadFixture(openFixture);
      await commit(s, s.auctionId, sealedBid(s.hosts[0]!, 1n));
      await s.migrationAuction.connect(s.source).cancelAuction(s.auctionId);
      await expect(s.migrationAuction.forfeitBond(s.auctionId, s.hosts[0]!.address))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionUnexpectedState")
        .withArgs(s.auctionId, AuctionState.Cancelled, AuctionState.Ended);
    });

    it("reports a failed bond transfer and keeps the bond refundable", async () => {
      const s = await loadFixture(openFixture);
      const account = await (await ethers.getContractFactory("ProgrammableAccount", s.admin)).deploy();
      const accountAddress = await account.getAddress();
      const registry = s.hostRegistry.interface;
      await account.execute(s.suite.hostRegistry, registry.encodeFunctionData("register", ["tcp://h", id("k"), { ...PLATFORM, quoteHash: ZeroHash }, 1]), { value: 10n ** 18n });
      const bid = { bidder: { address: accountAddress }, price: 10n, capacity: 1n, salt: id("salt") };
      const ticket = await ticketFor(s, s.auctionId, accountAddress);
      const auction = s.migrationAuction.interface;
      await account.execute(s.suite.migrationAuction, auction.encodeFunctionData("commitBid", [s.auctionId, commitmentOf(s, s.auctionId, bid as never), ticket.r, ticket.vs]), { value: BOND });
      const lower = sealedBid(s.hosts[0]!, 5n);
      await commit(s, s.auctionId, lower);
      await time.increaseTo(s.params.commitDeadline);
      await account.execute(s.suite.migrationAuction, auction.encodeFunctionData("revealBid", [s.auctionId, 10n, 1n, id("salt")]));
      await reveal(s, s.auctionId, lower);
      // A lower bid is the best, so that the account's bond is refundable at once.
      await account.setRejecting(true);
      await expect(account.execute(s.suite.migrationAuction, auction.encodeFunctionData("withdrawBond", [s.auctionId])))
        .to.be.revertedWithCustomError(s.migrationAuction, "PullPaymentsTransferFailed")
        .withArgs(accountAddress, BOND);
      expect((await s.migrationAuction.bidInfo(s.auctionId, accountAddress)).status).to.equal(BidStatus.Revealed);
    });
  });

  describe("auction limits", () => {
    it("accepts terms exactly at the limits, and the admin's new limits apply to later openings", async () => {
      const s = await loadFixture(suiteFixture);
      const opensAt = BigInt(await time.latest()) + 10n;
      await time.setNextBlockTimestamp(opensAt);
      const atLimits = await openAuction(s, { commitIn: 46, revealIn: 82, bond: RESERVE, reserve: RESERVE });
      expect((await s.migrationAuction.auctionInfo(atLimits.auctionId)).state).to.equal(AuctionState.Commit);
      const auction = s.migrationAuction.connect(s.admin);
      const raised = { minCommitWindow: 60n, minRevealWindow: 120n, maxBond: BOND };
      await expect(auction.setAuctionLimits(raised))
        .to.emit(s.migrationAuction, "AuctionLimitsChanged")
        .withArgs([36n, 36n, 10n ** 18n], [60n, 120n, BOND]);
      expect(await s.migrationAuction.auctionLimits()).to.deep.equal([60n, 120n, BOND]);
      const later = tvmIdOf(s.source.address, "later");
      await expect(openAuction(s, { tvmId: later, commitIn: 100, revealIn: 200 }))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionRevealWindowTooShort");
      await expect(openAuction(s, { tvmId: later, commitIn: 100, revealIn: 220, bond: BOND + 10n ** 9n }))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionBondAboveCap")
        .withArgs(BOND + 10n ** 9n, BOND);
      const opened = await openAuction(s, { tvmId: later, commitIn: 100, revealIn: 220 });
      expect(opened.auctionId).to.equal(2n);
    });

    it("lets only the admin set the limits, never below the floors or above one day", async () => {
      const s = await loadFixture(suiteFixture);
      await expect(s.migrationAuction.connect(s.source).setAuctionLimits({ minCommitWindow: 36n, minRevealWindow: 36n, maxBond: 0n }))
        .to.be.revertedWithCustomError(s.migrationAuction, "AccessControlUnauthorizedAccount")
        .withArgs(s.source.address, ZeroHash);
      const auction = s.migrationAuction.connect(s.admin);
      await expect(auction.setAuctionLimits({ minCommitWindow: 35n, minRevealWindow: 36n, maxBond: 0n }))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionInvalidLimits")
        .withArgs(35n, 36n, 36n, 36n, 86_400n);
      await expect(auction.setAuctionLimits({ minCommitWindow: 36n, minRevealWindow: 86_401n, maxBond: 0n }))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionInvalidLimits")
        .withArgs(36n, 86_401n, 36n, 36n, 86_400n);
      expect(await s.migrationAuction.windowFloors()).to.deep.equal([36n, 36n]);
      expect(await s.migrationAuction.SLOT_SAFE_WINDOW()).to.equal(36n);
    });

    it("refuses a zero floor at deploy", async () => {
      const s = await loadFixture(suiteFixture);
      const factory = await ethers.getContractFactory("MigrationAuction");
      await expect(factory.deploy(s.admin.address, s.suite.hostRegistry, s.suite.allocationRegistry, 0n, 36n, BOND))
        .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionInvalidLimits")
        .withArgs(0n, 36n, 0n, 36n, 86_400n);
    });
  });

  describe("withdraw", () => {
    it("pays the credited balance once", async () => {
      const s = await loadFixture(openFixture);
      await s.migrationAuction.connect(s.source).cancelAuction(s.auctionId);
      const tx = s.migrationAuction.connect(s.source).withdraw();
      await expect(tx).to.emit(s.migrationAuction, "Withdrawn").withArgs(s.source.address, RESERVE);
      await expect(tx).to.changeEtherBalances(ethers, [s.source, s.suite.migrationAuction], [RESERVE, -RESERVE]);
      await expect(s.migrationAuction.connect(s.source).withdraw())
        .to.be.revertedWithCustomError(s.migrationAuction, "PullPaymentsNothingToWithdraw")
        .withArgs(s.source.address);
    });

    it("pays a re-entrant caller only once, and reports a refused transfer", async () => {
      const s = await loadFixture(suiteFixture);
      const account = await (await ethers.getContractFactory("ProgrammableAccount", s.admin)).deploy();
      const accountAddress = await account.getAddress();
      const auction = s.migrationAuction.interface;
      const params = await paramsFor(tvmIdOf(accountAddress, "tvm-reentry"));
      await account.execute(s.suite.migrationAuction, auction.encodeFunctionData("openAuction", [params]), { value: RESERVE });
      await account.execute(s.suite.migrationAuction, auction.encodeFunctionData("cancelAuction", [1n]));

      await account.setRejecting(true);
      await expect(account.execute(s.suite.migrationAuction, auction.encodeFunctionData("withdraw")))
        .to.be.revertedWithCustomError(s.migrationAuction, "PullPaymentsTransferFailed")
        .withArgs(accountAddress, RESERVE);
      await account.setRejecting(false);

      await account.setReentry(s.suite.migrationAuction, auction.encodeFunctionData("withdraw"));
      const tx = account.execute(s.suite.migrationAuction, auction.encodeFunctionData("withdraw"));
      await expect(tx).to.changeEtherBalances(ethers, [account, s.suite.migrationAuction], [RESERVE, -RESERVE]);
      expect(await account.lastReentrySucceeded()).to.equal(false);
      expect(await account.lastReentryResult()).to.equal(
        auction.encodeErrorResult("PullPaymentsNothingToWithdraw", [accountAddress]),
      );
    });
  });

  describe("views", () => {
    it("computes the commitment and the ticket digest as the off-chain code does", async () => {
      const s = await loadFixture(openFixture);
      const bid = sealedBid(s.hosts[0]!, 123n, 4n);
      expect(await s.migrationAuction.bidCommitment(s.auctionId, bid.bidder.address, bid.price, bid.capacity, bid.salt)).to.equal(
        commitmentOf(s, s.auctionId, bid),
      );
      const digest = TypedDataEncoder.hash(
        auctionDomain(s.chainId, s.suite.migrationAuction),
        { AdmissionTicket: [...ADMISSION_TICKET_TYPES.AdmissionTicket] },
        { auctionId: s.auctionId, host: bid.bidder.address },
      );
      expect(await s.migrationAuction.admissionTicketDigest(s.auctionId, bid.bidder.address)).to.equal(digest);
    });

    it("names its registries and reports unknown auctions and bids as empty", async () => {
      const s = await loadFixture(suiteFixture);
      expect(await s.migrationAuction.hostRegistry()).to.equal(s.suite.hostRegistry);
      expect(await s.migrationAuction.allocationRegistry()).to.equal(s.suite.allocationRegistry);
      expect(await s.migrationAuction.state(5n)).to.equal(AuctionState.None);
      expect((await s.migrationAuction.auctionInfo(5n)).source).to.equal(ZeroAddress);
      expect((await s.migrationAuction.bidInfo(5n, s.hosts[0]!.address)).status).to.equal(BidStatus.None);
      expect(await s.migrationAuction.balanceOf(s.outsider.address)).to.equal(0n);
    });
  });
});
