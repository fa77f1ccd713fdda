// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IAllocationRegistry} from "../../contracts/interfaces/IAllocationRegistry.sol";
import {IMigrationAuction} from "../../contracts/interfaces/IMigrationAuction.sol";
import {AllocationId, AuctionId} from "../../contracts/types/Ids.sol";
import {MarketBase} from "./MarketBase.sol";
import {MarketHandler} from "./MarketHandler.sol";

/// @notice Invariants of the escrow: every wei deposited is still held or was withdrawn exactly once, each
/// contract holds exactly what it owes, no TVM ever has two live allocations, and only a TVM's origin (never
/// placed) or its placement may open an auction for it.
contract MarketInvariantTest is MarketBase {
    MarketHandler internal handler;

    function setUp() public {
        deploySuite();
        address[] memory bidders = new address[](4);
        for (uint256 i = 0; i < bidders.length; i++) {
            bidders[i] = address(uint160(0xB000 + i));
            registerHost(bidders[i]);
        }
        handler = new MarketHandler(auction, allocationRegistry, SOURCE_KEY, bidders);
    }

    /// @notice Only the handler is called by the invariant fuzzer.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @notice The handler's actions chain into a settled migration (the fuzzer explores from here).
    function test_handler_drivesAnAuctionToASettledMigration() public {
        handler.open(1 ether);
        handler.commit(0, 0, 0.5 ether);
        handler.commit(0, 1, 0.7 ether);
        handler.wait(50);
        handler.reveal(0, 0);
        handler.reveal(0, 1);
        handler.wait(55);
        handler.finalize(0);
        assertEq(allocationRegistry.allocationCount(), 1, "allocated");
        handler.confirm(0);
        handler.withdrawFromRegistry(0);
        handler.withdrawFromRegistry(4);
        handler.withdrawBond(0, 0);
        handler.withdrawBond(0, 1);
        assertEq(address(allocationRegistry).balance, 0, "registry settled");
        assertEq(address(auction).balance, 0, "auction settled");
        assertEq(handler.ghostWithdrawn(), handler.ghostDeposited(), "everything withdrawn");
    }

    /// hardhat-config: invariant.runs = 32
    /// hardhat-config: invariant.depth = 150
    function invariant_everyWeiIsHeldOrWithdrawnOnce() public view {
        (uint256 accounted, uint256 deposited) = handler.escrowAccount();
        assertEq(accounted, deposited, "held + withdrawn + burned == deposited");
    }

    /// hardhat-config: invariant.runs = 32
    /// hardhat-config: invariant.depth = 150
    function invariant_auctionHoldsExactlyWhatItOwes() public view {
        uint256 owed;
        uint256 bidders = handler.bidderCount();
        for (uint256 i = 0; i < handler.auctionCount(); i++) {
            AuctionId id = handler.auctionAt(i);
            IMigrationAuction.AuctionInfo memory info = auction.auctionInfo(id);
            if (
                info.state == IMigrationAuction.AuctionState.Commit || info.state == IMigrationAuction.AuctionState.Reveal
                    || info.state == IMigrationAuction.AuctionState.Ended
            ) owed += info.reserve;
            for (uint256 j = 0; j < bidders; j++) {
                IMigrationAuction.BidStatus status = auction.bidInfo(id, handler.bidderAt(j)).status;
                if (status == IMigrationAuction.BidStatus.Committed || status == IMigrationAuction.BidStatus.Revealed) {
                    owed += info.bond;
                }
            }
        }
        for (uint256 j = 0; j < bidders; j++) {
            owed += auction.balanceOf(handler.bidderAt(j));
        }
        owed += auction.balanceOf(handler.source());
        assertEq(address(auction).balance, owed, "auction balance == obligations");
    }

    /// hardhat-config: invariant.runs = 32
    /// hardhat-config: invariant.depth = 150
    function invariant_registryHoldsExactlyWhatItOwes() public view {
        uint256 owed;
        uint256 count = allocationRegistry.allocationCount();
        for (uint64 i = 1; i <= count; i++) {
            IAllocationRegistry.Allocation memory a = allocationRegistry.allocation(AllocationId.wrap(i));
            if (a.state == IAllocationRegistry.AllocationState.Allocated) owed += a.deposit;
            assertTrue(a.price <= a.deposit, "price within the deposit");
        }
        for (uint256 j = 0; j < handler.bidderCount(); j++) {
            owed += allocationRegistry.balanceOf(handler.bidderAt(j));
        }
        owed += allocationRegistry.balanceOf(handler.source());
        assertEq(address(allocationRegistry).balance, owed, "registry balance == obligations");
    }

    /// hardhat-config: invariant.runs = 32
    /// hardhat-config: invariant.depth = 150
    function invariant_noHostOffersATvmThatIsNotItsToOffer() public view {
        assertEq(handler.ghostSquats(), 0, "auctions opened by neither the origin nor the placement");
    }

    /// hardhat-config: invariant.runs = 32
    /// hardhat-config: invariant.depth = 150
    function invariant_noTvmHasTwoLiveAllocations() public view {
        uint256 count = allocationRegistry.allocationCount();
        for (uint256 t = 0; t < 3; t++) {
            bytes32 tvmId = handler.tvmIdAt(t);
            uint256 live;
            AllocationId last;
            for (uint64 i = 1; i <= count; i++) {
                IAllocationRegistry.Allocation memory a = allocationRegistry.allocation(AllocationId.wrap(i));
                if (a.tvmId == tvmId && a.state == IAllocationRegistry.AllocationState.Allocated) {
                    live++;
                    last = a.id;
                }
            }
            assertTrue(live <= 1, "at most one live allocation");
            assertEq(AllocationId.unwrap(allocationRegistry.liveAllocation(tvmId)), AllocationId.unwrap(last), "live id");
        }
    }
}
