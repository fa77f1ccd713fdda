// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IAllocationRegistry} from "../../contracts/interfaces/IAllocationRegistry.sol";
import {IMigrationAuction} from "../../contracts/interfaces/IMigrationAuction.sol";
import {AllocationId, AuctionId} from "../../contracts/types/Ids.sol";
import {HostileMarketHandler} from "./HostileMarketHandler.sol";
import {MarketBase} from "./MarketBase.sol";

/// @notice Issue 9's guarantees under the parties of its threat model (see {HostileMarketHandler}): escrow is
/// conserved; an honest bidder that commits and reveals in time never loses its bond; a trap takes no bond; no
/// forfeit pays the source; an honest destination that confirms with the holder's hand-over is paid; a TVM never has
/// two live allocations; and a placement moves only by a confirmation backed by the holder's hand-over, never by an
/// allocator's say-so.
contract HostileMarketInvariantTest is MarketBase {
    HostileMarketHandler internal handler;

    function setUp() public {
        deploySuite();
        address[] memory bidders = new address[](4);
        for (uint256 i = 0; i < bidders.length; i++) {
            bidders[i] = address(uint160(0xC000 + i));
            registerHost(bidders[i]);
        }
        handler = new HostileMarketHandler(auction, allocationRegistry, SOURCE_KEY, address(this), bidders);
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @notice The handler's hostile actions chain as intended: a trap gets no commit, an admin's lock-out is
    /// rescued, a rogue allocation is refused, and an honest bidder's reveal is made for it.
    function test_handler_playsTheAttacks() public {
        handler.open(1 ether, true);
        handler.commit(0, 1, 0.5 ether);
        handler.commit(0, 0, 0.5 ether);
        assertEq(handler.ghostTrapCommits(), 0, "trap commits");
        handler.open(1 ether, false);
        handler.commit(1, 0, 0.4 ether);
        handler.commit(1, 2, 0.6 ether);
        handler.toggleAllocatorRole();
        handler.wait(49); // 50 s: the commit deadline, where the honest bidder's client reveals
        handler.wait(59); // 60 s more: past the reveal deadline
        assertEq(uint8(auction.bidInfo(AuctionId.wrap(2), handler.honest()).status), uint8(IMigrationAuction.BidStatus.Revealed), "honest revealed");
        handler.finalize(1);
        handler.rescue(1);
        assertEq(uint8(auction.state(AuctionId.wrap(2))), uint8(IMigrationAuction.AuctionState.Failed), "rescued");
        handler.rogueAllocate(1, 1, true);
        handler.rogueAllocate(1, 1, false);
        assertEq(handler.ghostRogueAllocations(), 0, "rogue allocations");
        handler.forfeitBond(1, 2);
        assertEq(handler.ghostForfeitsPaidToSource(), 0, "forfeits paid to the source");
        assertEq(handler.ghostHonestLosses(), 0, "honest losses");
    }

    /// @notice A griefing sybil wins and never accepts: the source aborts at the acceptance deadline and the winner's
    /// bond is burned; the honest bidder's bond (not the best) comes back. An honest winner accepts at once, so the
    /// same steps burn nothing of it.
    function test_handler_griefingWinnerLosesItsBondAndAnHonestWinnerDoesNot() public {
        handler.open(1 ether, false);
        handler.commit(0, 1, 0.1 ether); // sybil, the lowest price
        handler.commit(0, 0, 0.5 ether); // honest
        handler.wait(49); // the commit deadline: the honest bidder's client reveals
        handler.revealSybil(0, 0);
        handler.wait(59);
        handler.finalize(0);
        AllocationId griefed = auction.auctionInfo(AuctionId.wrap(1)).allocationId;
        assertTrue(!allocationRegistry.allocation(griefed).accepted, "the griefer did not accept");
        uint256 burnedBefore = handler.ghostBurned();
        handler.abort(0, true);
        assertEq(uint8(allocationRegistry.state(griefed)), uint8(IAllocationRegistry.AllocationState.Aborted), "aborted at once");
        handler.forfeitWinnerBond(0);
        assertEq(handler.ghostBurned(), burnedBefore + handler.BOND(), "the griefer's bond burned");
        handler.withdrawBond(0, 0);
        assertEq(uint8(auction.bidInfo(AuctionId.wrap(1), handler.honest()).status), uint8(IMigrationAuction.BidStatus.Refunded), "honest refunded");

        handler.open(1 ether, false);
        handler.commit(1, 0, 0.2 ether); // honest, the lowest price this time
        handler.wait(49);
        handler.wait(59);
        handler.finalize(1);
        AllocationId honestWin = auction.auctionInfo(AuctionId.wrap(2)).allocationId;
        assertTrue(allocationRegistry.allocation(honestWin).accepted, "the honest winner accepted");
        handler.abort(1, false); // the honest destination gives up (the source never streamed)
        handler.forfeitWinnerBond(1);
        handler.withdrawBond(1, 0);
        assertEq(uint8(auction.bidInfo(AuctionId.wrap(2), handler.honest()).status), uint8(IMigrationAuction.BidStatus.Refunded), "honest winner refunded");
        assertEq(handler.ghostHonestLosses(), 0, "honest losses");
    }

    /// hardhat-config: invariant.runs = 32
    /// hardhat-config: invariant.depth = 150
    function invariant_everyWeiIsHeldOrWithdrawnOnce() public view {
        (uint256 accounted, uint256 deposited) = handler.escrowAccount();
        assertEq(accounted, deposited, "held + withdrawn + burned == deposited");
    }

    /// hardhat-config: invariant.runs = 32
    /// hardhat-config: invariant.depth = 150
    function invariant_anHonestBidderNeverLosesItsBond() public view {
        assertEq(handler.ghostHonestLosses(), 0, "honest bonds forfeited");
        address honest = handler.honest();
        for (uint256 i = 0; i < handler.auctionCount(); i++) {
            AuctionId id = handler.auctionAt(i);
            IMigrationAuction.AuctionState state = auction.state(id);
            bool pastReveal = state == IMigrationAuction.AuctionState.Ended
                || state == IMigrationAuction.AuctionState.Finalized || state == IMigrationAuction.AuctionState.Failed;
            IMigrationAuction.BidStatus status = auction.bidInfo(id, honest).status;
            assertTrue(!(pastReveal && status == IMigrationAuction.BidStatus.Committed), "honest bid left unrevealed");
            assertTrue(status != IMigrationAuction.BidStatus.Forfeited, "honest bid forfeited");
        }
    }

    /// hardhat-config: invariant.runs = 32
    /// hardhat-config: invariant.depth = 150
    function invariant_noTrapTakesABondAndNoForfeitPaysTheSource() public view {
        assertEq(handler.ghostTrapCommits(), 0, "commits into a TCB trap");
        assertEq(handler.ghostForfeitsPaidToSource(), 0, "forfeits credited to the source");
    }

    /// hardhat-config: invariant.runs = 32
    /// hardhat-config: invariant.depth = 150
    function invariant_anHonestDestinationThatConfirmedIsPaid() public view {
        assertEq(handler.ghostUnpaidConfirmations(), 0, "confirmations that did not pay the price");
    }

    /// hardhat-config: invariant.runs = 32
    /// hardhat-config: invariant.depth = 150
    function invariant_placementsMoveOnlyByTheHoldersHandOver() public view {
        assertEq(handler.ghostRogueAllocations(), 0, "allocations from a host the TVM does not run on");
        for (uint256 t = 0; t < handler.TVMS(); t++) {
            bytes32 tvmId = handler.tvmIdAt(t);
            (address host,) = allocationRegistry.currentPlacement(tvmId);
            assertEq(host, handler.expectedHostOf(tvmId), "placement");
        }
    }

    /// hardhat-config: invariant.runs = 32
    /// hardhat-config: invariant.depth = 150
    function invariant_noTvmHasTwoLiveAllocations() public view {
        uint256 count = allocationRegistry.allocationCount();
        for (uint256 t = 0; t < handler.TVMS(); t++) {
            bytes32 tvmId = handler.tvmIdAt(t);
            uint256 live;
            for (uint64 i = 1; i <= count; i++) {
                IAllocationRegistry.Allocation memory a = allocationRegistry.allocation(AllocationId.wrap(i));
                if (a.tvmId == tvmId && a.state == IAllocationRegistry.AllocationState.Allocated) live++;
            }
            assertTrue(live <= 1, "at most one live allocation");
        }
    }
}
