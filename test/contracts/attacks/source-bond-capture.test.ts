/**
 * Attacks of a source on the bidders' bonds (findings 1 and 2 of issue 9), played step by step.
 *
 * Finding 1: a source makes honest bids unrevealable and collects the forfeited bonds. Defence (this stage): a
 * forfeited bond is burned, never credited to the source, so the source's wealth does not grow whoever caused it.
 *
 * Finding 2: the source admits its own sybils, commits a ladder of prices, reveals only the rung just above the
 * lowest honest price, and recovers the unrevealed rungs as forfeits. Defence: every unrevealed rung is burned,
 * so the ladder costs the source one bond per rung it withholds.
 */
import { expect } from "chai";
import { id } from "ethers";
import {
  BOND,
  BidStatus,
  PLATFORM,
  RESERVE,
  commit,
  ethers,
  loadFixture,
  receiptFor,
  reveal,
  sealedBid,
  suiteFixture,
  time,
  tvmIdOf,
} from "../fixtures.js";
import type { Suite } from "../fixtures.js";
import { wealth } from "./ledger.js";

const MILLI = 10n ** 15n;


/** Opens an auction for the source's TVM with `tcb`; returns its id and deadlines. */
async function openWith(s: Suite, tcb: { minTeeTcbSvn: string; minTdxModuleVersion: number }, label: string) {
  const now = BigInt(await time.latest());
  const params = {
    requestId: id(`request ${label}`),
    tvmId: tvmIdOf(s.source.address, label),
    configHash: id("td config"),
    tcb,
    commitDeadline: now + 100n,
    revealDeadline: now + 200n,
    bond: BOND,
  };
  await s.migrationAuction.connect(s.source).openAuction(params, { value: RESERVE });
  return { auctionId: await s.migrationAuction.auctionCount(), params };
}

describe("attack: a source capturing the bidders' bonds", () => {
  it("finding 1: a bond that is forfeited anyway is burned, so the source's wealth does not grow", async () => {
    const s = await loadFixture(suiteFixture);
    const [honest, kept] = [s.hosts[0]!, s.hosts[1]!];
    const { auctionId, params } = await openWith(s, { minTeeTcbSvn: PLATFORM.teeTcbSvn, minTdxModuleVersion: PLATFORM.tdxModuleVersion }, "kept-from-revealing");
    await commit(s, auctionId, sealedBid(honest, 100n * MILLI));
    await commit(s, auctionId, sealedBid(kept, 200n * MILLI));
    // Step 1: neither bidder reveals (kept from it, by a network attack say); the reveal window closes.
    await time.increaseTo(params.revealDeadline);
    const sourceBefore = await wealth(s, s.source.address);
    const burn = await s.migrationAuction.BURN_ADDRESS();
    const burnedBefore = await ethers.provider.getBalance(burn);
    // Step 2: anyone (here the source itself, paying gas) forfeits both unrevealed bonds.
    let gas = 0n;
    for (const bidder of [honest, kept]) {
      const tx = await s.migrationAuction.connect(s.source).forfeitBond(auctionId, bidder.address);
      const receipt = await tx.wait();
      gas += receipt!.gasUsed * receipt!.gasPrice;
    }
    // Step 3: the bonds went to the burn address; the source only paid gas.
    expect(await ethers.provider.getBalance(burn)).to.equal(burnedBefore + 2n * BOND);
    expect(await wealth(s, s.source.address)).to.equal(sourceBefore - gas);
  });

  it("finding 2: a shill ladder of sybil bids costs the source every rung it withholds", async () => {
    const s = await loadFixture(suiteFixture);
    const [honestLow, honestHigh, sybilLow, sybilHigh] = s.hosts as [Suite["source"], Suite["source"], Suite["source"], Suite["source"]];
    const { auctionId, params } = await openWith(s, { minTeeTcbSvn: PLATFORM.teeTcbSvn, minTdxModuleVersion: PLATFORM.tdxModuleVersion }, "ladder");
    const honest = [sealedBid(honestLow, 300n * MILLI), sealedBid(honestHigh, 500n * MILLI)];
    // Step 1: the source signs tickets for its own sybils, which commit a ladder between the honest prices.
    const ladder = [sealedBid(sybilLow, 310n * MILLI), sealedBid(sybilHigh, 450n * MILLI)];
    for (const bid of honest) await commit(s, auctionId, bid);
    const attackers = [s.source.address, sybilLow.address, sybilHigh.address];
    const attackersBefore = (await Promise.all(attackers.map((a) => wealth(s, a)))).reduce((x, y) => x + y, 0n);
    let gas = 0n;
    const spend = async (p: Promise<{ wait(): Promise<{ gasUsed: bigint; gasPrice: bigint } | null> }>) => {
      const receipt = await (await p).wait();
      gas += receipt!.gasUsed * receipt!.gasPrice;
    };
    for (const bid of ladder) await spend(commit(s, auctionId, bid));
    // Step 2: the honest bids are revealed; the source sees them and reveals only the rung just above the lowest.
    await time.increaseTo(params.commitDeadline);
    for (const bid of honest) await reveal(s, auctionId, bid);
    await spend(reveal(s, auctionId, ladder[0]!));
    await spend(s.migrationAuction.connect(sybilLow).withdrawBond(auctionId));
    await time.increaseTo(params.revealDeadline);
    // Step 3: the withheld rung is forfeited (by the source, to try to collect it) and finalization pays the
    // honest winner the manipulated second price.
    await spend(s.migrationAuction.connect(s.source).forfeitBond(auctionId, sybilHigh.address));
    await s.migrationAuction.connect(s.outsider).finalize(auctionId);
    const info = await s.migrationAuction.auctionInfo(auctionId);
    expect([info.bestBidder, info.secondPrice]).to.deep.equal([honestLow.address, 310n * MILLI]);
    // The withheld rung was burned, not credited: the attackers as a group are down by exactly one bond (and gas).
    const attackersAfter = (await Promise.all(attackers.map((a) => wealth(s, a)))).reduce((x, y) => x + y, 0n);
    expect(attackersAfter).to.equal(attackersBefore - BOND - gas);
    expect(await s.migrationAuction.balanceOf(s.source.address)).to.equal(0n);
    // The honest bidders get their whole bonds back: the winner's once its allocation settles (it accepted and
    // committed), the other's at once.
    await s.allocationRegistry.connect(honestLow).acceptAllocation(info.allocationId);
    const digest = id("state");
    await s.allocationRegistry.connect(honestLow).confirmMigration(info.allocationId, digest, await receiptFor(s, info.allocationId, info.tvmId, digest));
    for (const bid of honest) {
      await expect(s.migrationAuction.connect(bid.bidder).withdrawBond(auctionId)).to.changeEtherBalances(ethers, [bid.bidder], [BOND]);
    }
  });
});
