/**
 * A source opening an auction on hostile terms (finding 1 of issue 9), played step by step.
 *
 * Finding 1: a source picks a reveal window so short that no block falls in it on a chain with 12 s slots (or a
 * commit window too short to commit in), or a bond far above what the migration is worth, so that honest bidders
 * post bonds they cannot get back. Defence: MigrationAuction.openAuction bounds the terms on-chain: a commit phase
 * of at least `minCommitWindow` seconds from the opening block, a reveal phase of at least `minRevealWindow`
 * seconds (both at least the floors fixed at deploy, 36 s = three 12 s slots in production), a bond at most the
 * reserve and at most the admin's cap. The hostile auction never opens, so no bidder can commit to it: no bidder's
 * balance moves.
 */
import { expect } from "chai";
import { id } from "ethers";
import { BOND, RESERVE, TCB, commit, ethers, loadFixture, sealedBid, suiteFixture, time, tvmIdOf } from "../fixtures.js";
import type { Suite } from "../fixtures.js";

/** Ether of each bidder plus what the auction contract holds: nothing of it may move. */
async function bidderBalances(s: Suite): Promise<bigint[]> {
  return [
    ...(await Promise.all(s.hosts.map((h) => ethers.provider.getBalance(h.address)))),
    await ethers.provider.getBalance(s.suite.migrationAuction),
  ];
}

/** The source's terms, opened in a block whose timestamp is `opensAt`. */
function termsAt(s: Suite, opensAt: bigint, commitWindow: bigint, revealWindow: bigint, bond: bigint) {
  return {
    requestId: id("hostile request"),
    tvmId: tvmIdOf(s.source.address, "hostile"),
    configHash: id("td config"),
    tcb: TCB,
    commitDeadline: opensAt + commitWindow,
    revealDeadline: opensAt + commitWindow + revealWindow,
    bond,
  };
}

/** Plays one hostile opening: it reverts with `error(args)`, no auction exists, and no bidder could commit. */
async function playHostileOpening(
  s: Suite,
  terms: { commitWindow: bigint; revealWindow: bigint; bond: bigint; reserve: bigint },
  error: string,
  args: (opensAt: bigint) => unknown[],
) {
  const before = await bidderBalances(s);
  // Step 1: the source opens with the hostile term, in a block at a known time.
  const opensAt = BigInt(await time.latest()) + 10n;
  await time.setNextBlockTimestamp(opensAt);
  const params = termsAt(s, opensAt, terms.commitWindow, terms.revealWindow, terms.bond);
  await expect(s.migrationAuction.connect(s.source).openAuction(params, { value: terms.reserve }))
    .to.be.revertedWithCustomError(s.migrationAuction, error)
    .withArgs(...args(opensAt));
  // Step 2: an honest bidder that got a ticket for "the" auction cannot post its bond: there is none.
  await expect(commit(s, 1n, sealedBid(s.hosts[0]!, 10n ** 15n), terms.bond))
    .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionUnexpectedState")
    .withArgs(1n, 0n, 1n);
  // Step 3: nothing moved: no auction, no reserve or bond held, every bidder's ether where it was.
  expect(await s.migrationAuction.auctionCount()).to.equal(0n);
  expect(await bidderBalances(s)).to.deep.equal(before);
}

describe("attack: a source opening an auction on hostile terms", () => {
  it("finding 1: a reveal window of one 12 s slot is refused at opening, and no bidder's balance moves", async () => {
    const s = await loadFixture(suiteFixture);
    const { minRevealWindow } = await s.migrationAuction.auctionLimits();
    expect(minRevealWindow).to.equal(36n);
    await playHostileOpening(s, { commitWindow: 100n, revealWindow: 12n, bond: BOND, reserve: RESERVE }, "MigrationAuctionRevealWindowTooShort", () => [12n, 36n]);
  });

  it("finding 1: a commit window no bidder can commit in is refused at opening, and no bidder's balance moves", async () => {
    const s = await loadFixture(suiteFixture);
    await playHostileOpening(s, { commitWindow: 35n, revealWindow: 100n, bond: BOND, reserve: RESERVE }, "MigrationAuctionCommitWindowTooShort", () => [35n, 36n]);
  });

  it("finding 1: a bond above the reserve is refused at opening, and no bidder's balance moves", async () => {
    const s = await loadFixture(suiteFixture);
    const reserve = 10n ** 15n;
    const bond = reserve + 10n ** 9n;
    await playHostileOpening(s, { commitWindow: 100n, revealWindow: 100n, bond, reserve }, "MigrationAuctionBondAboveReserve", () => [bond, reserve]);
  });

  it("finding 1: a bond above the admin's cap is refused at opening, even under a huge reserve, and no bidder's balance moves", async () => {
    const s = await loadFixture(suiteFixture);
    const { maxBond } = await s.migrationAuction.auctionLimits();
    const reserve = 10n * 10n ** 18n;
    const bond = maxBond + 10n ** 9n;
    await playHostileOpening(s, { commitWindow: 100n, revealWindow: 100n, bond, reserve }, "MigrationAuctionBondAboveCap", () => [bond, maxBond]);
  });

  it("finding 1: the admin cannot lower the minimum windows below the floors fixed at deploy", async () => {
    const s = await loadFixture(suiteFixture);
    const admin = s.migrationAuction.connect(s.admin);
    await expect(admin.setAuctionLimits({ minCommitWindow: 36n, minRevealWindow: 12n, maxBond: BOND }))
      .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionInvalidLimits")
      .withArgs(36n, 12n, 36n, 36n, 86_400n);
    // So a hostile source cannot get a one-slot reveal window through the admin either.
    await playHostileOpening(s, { commitWindow: 100n, revealWindow: 12n, bond: BOND, reserve: RESERVE }, "MigrationAuctionRevealWindowTooShort", () => [12n, 36n]);
  });
});
