import { expect } from "chai";
import type { AuctionInfo } from "../../orchestrator/chain/index.js";
import { auctionTermsProblem, tcbMeets } from "../../orchestrator/host/auction-terms.js";

const SOURCE = "0x1111111111111111111111111111111111111111";
const REQUEST = `0x${"ab".repeat(32)}`;
const CONFIG = `0x${"cd".repeat(32)}`;
const TCB = { minTeeTcbSvn: "0x0b010300000000000000000000000000", minTdxModuleVersion: 0x0105 };
const PLATFORM = { teeTcbSvn: "0x0b010300000000000000000000000000", tdxModuleVersion: 0x0105 };
const LIMITS = { maxBondWei: 10n ** 16n, minCommitTimeLeftSec: 24, minRevealWindowSec: 36 };
const NOW = 1_000;

function auction(over: Partial<AuctionInfo> = {}): AuctionInfo {
  return {
    auctionId: 1n, state: "Commit", source: SOURCE, commitDeadline: NOW + 60, revealDeadline: NOW + 120, reserve: 10n ** 17n,
    bond: 10n ** 15n, revealCount: 0, bestBidder: SOURCE, bestPrice: 0n, secondPrice: 0n, allocationId: 0n,
    requestId: REQUEST, tvmId: REQUEST, configHash: CONFIG, tcb: TCB, ...over,
  };
}
const acknowledged = { source: SOURCE, requestId: REQUEST, configHash: CONFIG, tcb: TCB };

describe("auction terms a destination checks before it posts a bond", () => {
  it("accepts terms equal to what it acknowledged and within its limits", () => {
    expect(auctionTermsProblem(auction(), acknowledged, LIMITS, PLATFORM, NOW)).to.equal(undefined);
  });

  it("refuses each term a source can weaponise, naming it", () => {
    const cases: [Partial<AuctionInfo>, RegExp][] = [
      [{ source: "0x2222222222222222222222222222222222222222" }, /auction source .* is not the acknowledged/],
      [{ requestId: `0x${"00".repeat(32)}` }, /auction request .* is not the acknowledged/],
      [{ configHash: `0x${"ee".repeat(32)}` }, /configuration hash .* is not the acknowledged descriptor's/],
      [{ tcb: { ...TCB, minTdxModuleVersion: 0x0106 } }, /TCB requirement differs/],
      [{ bond: 10n ** 16n + 1n }, /bond 10000000000000001 wei above this host's maximum 10000000000000000/],
      [{ bond: 10n ** 16n, reserve: 10n ** 16n - 1n }, /above the reserve/],
      [{ revealDeadline: NOW + 60 + 35 }, /reveal window 35 s shorter than this host's minimum 36 s/],
      [{ commitDeadline: NOW + 23, revealDeadline: NOW + 100 }, /23 s left to commit, less than this host's minimum 24 s/],
    ];
    for (const [over, reason] of cases) expect(auctionTermsProblem(auction(over), acknowledged, LIMITS, PLATFORM, NOW)).to.match(reason);
  });

  it("refuses a TCB requirement its registered platform does not meet, even when it matches the acknowledged one", () => {
    const demanding = { minTeeTcbSvn: "0x0b010400000000000000000000000000", minTdxModuleVersion: 0x0105 };
    expect(auctionTermsProblem(auction({ tcb: demanding }), { ...acknowledged, tcb: demanding }, LIMITS, PLATFORM, NOW))
      .to.match(/registered platform .* is below the auction's TCB requirement/);
  });

  it("compares the TCB as the contract does: every SVN component and the module version", () => {
    expect(tcbMeets(PLATFORM, TCB)).to.equal(true);
    expect(tcbMeets({ ...PLATFORM, teeTcbSvn: "0x0c010300000000000000000000000001" }, TCB)).to.equal(true);
    expect(tcbMeets({ ...PLATFORM, teeTcbSvn: "0x0c010200000000000000000000000001" }, TCB)).to.equal(false);
    expect(tcbMeets({ ...PLATFORM, tdxModuleVersion: 0x0104 }, TCB)).to.equal(false);
  });
});
