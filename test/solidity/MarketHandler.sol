// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {AllocationRegistry} from "../../contracts/AllocationRegistry.sol";
import {MigrationAuction} from "../../contracts/MigrationAuction.sol";
import {IAllocationRegistry} from "../../contracts/interfaces/IAllocationRegistry.sol";
import {IMigrationAuction} from "../../contracts/interfaces/IMigrationAuction.sol";
import {AllocationId, AuctionId} from "../../contracts/types/Ids.sol";
import {tvmIdOf} from "./TvmId.sol";
import {HandlerBase} from "./HandlerBase.sol";

/// @notice Drives the market with random but well-formed actions for the invariant tests, and counts every wei
/// that enters (reserves, bonds) and leaves (withdrawals, refunds) the auction and the allocation registry (the
/// counters and pickers are {HandlerBase}'s).
contract MarketHandler is HandlerBase {
    uint256 public constant MAX_AUCTIONS = 6;
    uint96 public constant BOND = 0.01 ether;

    mapping(AuctionId => mapping(address => uint96)) private _prices;
    /// @notice Auctions opened by a host for a TVM that was not its to offer (neither its origin nor its placement).
    uint256 public ghostSquats;

    constructor(MigrationAuction auction_, AllocationRegistry registry_, uint256 sourceKey, address[] memory bidders)
        HandlerBase(auction_, registry_, sourceKey, bidders)
    {}

    // ----- views for the invariants

    /// @notice The `t`-th of the source's three TVMs (ids whose origin is the source, as the auction requires).
    function tvmIdAt(uint256 t) public view returns (bytes32) {
        return tvmIdOf(source, uint96(t + 1));
    }

    // ----- actions

    function open(uint96 reserve) external {
        if (_auctions.length >= MAX_AUCTIONS) return;
        reserve = uint96(bound(reserve, 1, 5 ether));
        bytes32 tvmId = tvmIdAt(_auctions.length % 3);
        if (AuctionId.unwrap(auction.liveAuctionOf(tvmId)) != 0) return;
        if (AllocationId.unwrap(registry.liveAllocation(tvmId)) != 0) return;
        (address holder,) = registry.currentPlacement(tvmId);
        if (holder != address(0)) return; // the TVM moved to a bidder; the source no longer holds it
        IMigrationAuction.AuctionParams memory params = IMigrationAuction.AuctionParams({
            requestId: keccak256(abi.encode("request", _auctions.length)),
            tvmId: tvmId,
            configHash: keccak256("config"),
            tcb: IMigrationAuction.TcbRequirement(bytes16(0), 0),
            commitDeadline: uint48(block.timestamp + 50),
            revealDeadline: uint48(block.timestamp + 100),
            bond: BOND
        });
        vm.deal(source, source.balance + reserve);
        vm.prank(source);
        _auctions.push(auction.openAuction{value: reserve}(params));
        ghostDeposited += reserve;
    }

    /// @notice A bidder tries to open an auction for one of the source's TVMs that is not its to offer.
    function squat(uint256 b, uint256 t) external {
        address squatter = _bidders[b % _bidders.length];
        bytes32 tvmId = tvmIdAt(t % 3);
        (address holder,) = registry.currentPlacement(tvmId);
        if (holder == squatter) return; // placed on it: it may offer the TVM
        IMigrationAuction.AuctionParams memory params = IMigrationAuction.AuctionParams({
            requestId: keccak256(abi.encode("squat", b, t)),
            tvmId: tvmId,
            configHash: keccak256("config"),
            tcb: IMigrationAuction.TcbRequirement(bytes16(0), 0),
            commitDeadline: uint48(block.timestamp + 50),
            revealDeadline: uint48(block.timestamp + 100),
            bond: BOND
        });
        vm.deal(squatter, squatter.balance + 1 ether);
        vm.prank(squatter);
        try auction.openAuction{value: 1 ether}(params) {
            ghostSquats++;
            ghostDeposited += 1 ether; // held in escrow like any reserve: the accounting invariants stay about accounting
        } catch {} // refused, as it must be (the invariant counts the successes)
    }

    function cancel(uint256 a) external {
        (AuctionId id, bool ok) = _pickIn(a, IMigrationAuction.AuctionState.Commit);
        if (!ok) return;
        vm.prank(source);
        auction.cancelAuction(id);
    }

    function commit(uint256 a, uint256 b, uint96 price) external {
        (AuctionId id, bool ok) = _pickIn(a, IMigrationAuction.AuctionState.Commit);
        if (!ok) return;
        address bidder = _bidders[b % _bidders.length];
        if (auction.bidInfo(id, bidder).status != IMigrationAuction.BidStatus.None) return;
        // Some prices exceed the reserve: such bids cannot be revealed and their bonds are forfeited.
        price = uint96(bound(price, 0, 6 ether));
        _prices[id][bidder] = price;
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(_sourceKey, auction.admissionTicketDigest(id, bidder));
        bytes32 commitment = auction.bidCommitment(id, bidder, price, 1, bytes32(uint256(uint160(bidder))));
        vm.deal(bidder, bidder.balance + BOND);
        vm.prank(bidder);
        auction.commitBid{value: BOND}(id, commitment, r, bytes32((uint256(v - 27) << 255) | uint256(s)));
        ghostDeposited += BOND;
    }

    function reveal(uint256 a, uint256 b) external {
        (AuctionId id, bool ok) = _pickIn(a, IMigrationAuction.AuctionState.Reveal);
        if (!ok) return;
        // The first committed bidder from a random starting point.
        address bidder;
        for (uint256 i = 0; i < _bidders.length; i++) {
            address candidate = _bidders[(b + i) % _bidders.length];
            if (auction.bidInfo(id, candidate).status == IMigrationAuction.BidStatus.Committed) {
                bidder = candidate;
                break;
            }
        }
        if (bidder == address(0)) return;
        uint96 price = _prices[id][bidder];
        if (price > auction.auctionInfo(id).reserve) return;
        vm.prank(bidder);
        auction.revealBid(id, price, 1, bytes32(uint256(uint160(bidder))));
    }

    function wait(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, 60));
    }

    function finalize(uint256 a) external {
        (AuctionId id, bool ok) = _pickIn(a, IMigrationAuction.AuctionState.Ended);
        if (!ok) return;
        auction.finalize(id);
    }

    function withdrawBond(uint256 a, uint256 b) external {
        (AuctionId id, bool ok) = _pick(a);
        if (!ok) return;
        address bidder = _bidders[b % _bidders.length];
        IMigrationAuction.BidStatus status = auction.bidInfo(id, bidder).status;
        bool refundable = status == IMigrationAuction.BidStatus.Revealed
            || (status == IMigrationAuction.BidStatus.Committed
                && auction.state(id) == IMigrationAuction.AuctionState.Cancelled);
        if (!refundable) return;
        _paid(bidder, address(auction), abi.encodeCall(auction.withdrawBond, (id)));
    }

    function forfeitBond(uint256 a, uint256 b) external {
        (AuctionId id, bool ok) = _pick(a);
        if (!ok) return;
        IMigrationAuction.AuctionState state = auction.state(id);
        if (
            state != IMigrationAuction.AuctionState.Ended && state != IMigrationAuction.AuctionState.Finalized
                && state != IMigrationAuction.AuctionState.Failed
        ) return;
        address bidder = _bidders[b % _bidders.length];
        if (auction.bidInfo(id, bidder).status != IMigrationAuction.BidStatus.Committed) return;
        address burn = auction.BURN_ADDRESS();
        uint256 sourceBalance = auction.balanceOf(source);
        uint256 before = burn.balance;
        auction.forfeitBond(id, bidder);
        ghostBurned += burn.balance - before;
        // A forfeit never pays the source.
        assert(auction.balanceOf(source) == sourceBalance);
    }

    function withdrawFromAuction(uint256 who) external {
        address account = _actor(who);
        if (auction.balanceOf(account) == 0) return;
        _paid(account, address(auction), abi.encodeCall(auction.withdraw, ()));
    }

    function confirm(uint256 a) external {
        (AllocationId id, bool ok) = _liveAllocation(a);
        if (!ok) return;
        IAllocationRegistry.Allocation memory al = registry.allocation(id);
        bytes32 digest = keccak256(abi.encode("state", id));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(_sourceKey, registry.receiptDigest(id, digest));
        vm.prank(al.destination);
        registry.confirmMigration(id, digest, abi.encodePacked(r, s, v));
    }

    function abort(uint256 a, bool bySource) external {
        (AllocationId id, bool ok) = _liveAllocation(a);
        if (!ok) return;
        IAllocationRegistry.Allocation memory al = registry.allocation(id);
        if (bySource) {
            // The source's lone abort is a request; the abort settles after its dispute window.
            if (block.timestamp < al.confirmDeadline) vm.warp(al.confirmDeadline);
            if (al.abortSettleAt == 0) {
                vm.prank(al.source);
                registry.abortMigration(id, 1);
                al = registry.allocation(id);
            }
            if (block.timestamp < al.abortSettleAt) vm.warp(al.abortSettleAt);
            registry.settleAbort(id);
        } else {
            vm.prank(al.destination);
            registry.abortMigration(id, 1);
        }
    }

    function withdrawFromRegistry(uint256 who) external {
        address account = _actor(who);
        if (registry.balanceOf(account) == 0) return;
        _paid(account, address(registry), abi.encodeCall(registry.withdraw, ()));
    }
}
