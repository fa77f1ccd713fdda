// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {AllocationRegistry} from "../../contracts/AllocationRegistry.sol";
import {MigrationAuction} from "../../contracts/MigrationAuction.sol";
import {IAllocationRegistry} from "../../contracts/interfaces/IAllocationRegistry.sol";
import {IMigrationAuction} from "../../contracts/interfaces/IMigrationAuction.sol";
import {AllocationId, AuctionId} from "../../contracts/types/Ids.sol";
import {CheatcodeTest} from "./Vm.sol";

/// @notice What the invariant handlers share: the market, the source (a known key) and its bidders, the auctions
/// opened so far, the count of every wei in and out, and the pickers that find an auction or allocation to act on.
abstract contract HandlerBase is CheatcodeTest {
    MigrationAuction public immutable auction;
    AllocationRegistry public immutable registry;
    uint256 internal immutable _sourceKey;
    address public immutable source;

    address[] internal _bidders;
    AuctionId[] internal _auctions;

    /// @notice Wei sent into the auction and the registry from outside.
    uint256 public ghostDeposited;
    /// @notice Wei paid out of them to the participants.
    uint256 public ghostWithdrawn;
    /// @notice Wei of forfeited bonds sent to the burn address (never to a participant).
    uint256 public ghostBurned;

    constructor(MigrationAuction auction_, AllocationRegistry registry_, uint256 sourceKey, address[] memory bidders) {
        auction = auction_;
        registry = registry_;
        _sourceKey = sourceKey;
        source = vm.addr(sourceKey);
        _bidders = bidders;
    }

    /// @notice Escrow conservation, the one statement both invariant suites assert: every wei deposited into the auction
    /// and the registry is still held by one of them, or was withdrawn or burned exactly once.
    /// @return accounted held + withdrawn + burned
    /// @return deposited what came in
    function escrowAccount() external view returns (uint256 accounted, uint256 deposited) {
        accounted = address(auction).balance + address(registry).balance + ghostWithdrawn + ghostBurned;
        deposited = ghostDeposited;
    }

    function auctionCount() external view returns (uint256) {
        return _auctions.length;
    }

    function auctionAt(uint256 i) external view returns (AuctionId) {
        return _auctions[i];
    }

    function bidderCount() external view returns (uint256) {
        return _bidders.length;
    }

    function bidderAt(uint256 i) external view returns (address) {
        return _bidders[i];
    }

    function _pick(uint256 a) internal view returns (AuctionId id, bool ok) {
        if (_auctions.length == 0) return (id, false);
        return (_auctions[a % _auctions.length], true);
    }

    /// @dev The first auction in `state`, scanning from a random index.
    function _pickIn(uint256 a, IMigrationAuction.AuctionState state) internal view returns (AuctionId id, bool ok) {
        uint256 n = _auctions.length;
        for (uint256 i = 0; i < n; i++) {
            id = _auctions[(a + i) % n];
            if (auction.state(id) == state) return (id, true);
        }
        return (id, false);
    }

    /// @dev The first live allocation, scanning the auctions from a random index.
    function _liveAllocation(uint256 a) internal view returns (AllocationId id, bool ok) {
        uint256 n = _auctions.length;
        for (uint256 i = 0; i < n; i++) {
            id = auction.auctionInfo(_auctions[(a + i) % n]).allocationId;
            if (AllocationId.unwrap(id) != 0 && registry.state(id) == IAllocationRegistry.AllocationState.Allocated) {
                return (id, true);
            }
        }
        return (id, false);
    }

    /// @dev A bidder, or the source.
    function _actor(uint256 who) internal view returns (address) {
        uint256 i = who % (_bidders.length + 1);
        return i == _bidders.length ? source : _bidders[i];
    }

    /// @dev Calls `target` as `account` and counts what `account` received.
    function _paid(address account, address target, bytes memory data) internal {
        uint256 before = account.balance;
        vm.prank(account);
        (bool ok, bytes memory result) = target.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(result, 32), mload(result))
            }
        }
        ghostWithdrawn += account.balance - before;
    }
}
