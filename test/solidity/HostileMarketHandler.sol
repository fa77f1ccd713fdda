// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {AllocationRegistry} from "../../contracts/AllocationRegistry.sol";
import {MigrationAuction} from "../../contracts/MigrationAuction.sol";
import {IAllocationRegistry} from "../../contracts/interfaces/IAllocationRegistry.sol";
import {IMigrationAuction} from "../../contracts/interfaces/IMigrationAuction.sol";
import {AllocationId, AuctionId} from "../../contracts/types/Ids.sol";
import {tvmIdOf} from "./TvmId.sol";
import {HandlerBase} from "./HandlerBase.sol";

/// @notice Drives the market with the parties of issue 9's threat model for the invariant tests:
/// - a malicious source: opens auctions with honest terms or with a TCB requirement no bidder meets (a trap),
///   cancels, withholds or gives hand-overs, requests an abort alone after the timeout and settles it after the
///   dispute window (a destination holding the hand-over may still confirm in between);
/// - one honest bidder: commits only on terms it meets, at a price within the reserve, and always reveals in its
///   window (an honest client's reveal is scheduled by {_advance}, whatever time the fuzzer skips);
/// - sybil bidders: any price, revealing or withholding at random (a shill ladder's rungs);
/// - a griefing winner: the destination may never accept its allocation nor confirm (the honest bidder, when it
///   wins, accepts at once, as its client does on `Allocated`);
/// - an admin: pauses and unpauses both contracts, revokes and re-grants the auction's allocator role, and tries
///   to allocate TVMs from hosts they do not run on.
/// Every wei entering and leaving the contracts is counted, and every violation of a party's guarantee is counted
/// in a ghost variable the invariants require to stay zero.
contract HostileMarketHandler is HandlerBase {
    uint256 public constant MAX_AUCTIONS = 6;
    uint96 public constant BOND = 0.01 ether;
    uint256 public constant TVMS = 3;

    address public immutable admin;
    address public immutable honest;

    mapping(AuctionId => bool) private _isTrap;
    mapping(AuctionId => mapping(address => uint96)) private _prices;
    /// @dev Where each TVM runs by the confirmations the handler made with its holder's hand-over.
    mapping(bytes32 => address) private _expectedHost;

    /// @notice Bonds the honest bidder lost (forfeited, or left unrefundable).
    uint256 public ghostHonestLosses;
    /// @notice Commits that succeeded into an auction whose TCB requirement no bidder meets.
    uint256 public ghostTrapCommits;
    /// @notice Allocations an allocator made from a host the TVM did not run on.
    uint256 public ghostRogueAllocations;
    /// @notice Confirmations with the holder's hand-over that did not pay the destination its price.
    uint256 public ghostUnpaidConfirmations;
    /// @notice Forfeits that credited the source anything.
    uint256 public ghostForfeitsPaidToSource;

    constructor(
        MigrationAuction auction_,
        AllocationRegistry registry_,
        uint256 sourceKey,
        address admin_,
        address[] memory bidders
    ) HandlerBase(auction_, registry_, sourceKey, bidders) {
        admin = admin_;
        honest = bidders[0];
    }

    // ----- views for the invariants

    function tvmIdAt(uint256 t) public view returns (bytes32) {
        return tvmIdOf(source, uint96(t + 1));
    }

    function expectedHostOf(bytes32 tvmId) external view returns (address) {
        return _expectedHost[tvmId];
    }

    // ----- the source

    /// @notice Opens an auction with honest terms, or (`trap`) with a TCB requirement above every platform.
    function open(uint96 reserve, bool trap) external {
        if (_auctions.length >= MAX_AUCTIONS || auction.paused()) return;
        reserve = uint96(bound(reserve, BOND, 5 ether));
        bytes32 tvmId = tvmIdAt(_auctions.length % TVMS);
        if (AuctionId.unwrap(auction.liveAuctionOf(tvmId)) != 0) return;
        if (AllocationId.unwrap(registry.liveAllocation(tvmId)) != 0) return;
        (address holder,) = registry.currentPlacement(tvmId);
        if (holder != address(0)) return;
        IMigrationAuction.AuctionParams memory params = IMigrationAuction.AuctionParams({
            requestId: keccak256(abi.encode("request", _auctions.length)),
            tvmId: tvmId,
            configHash: keccak256("config"),
            // The bidders register module version 1.5; a trap asks for 9.9.
            tcb: IMigrationAuction.TcbRequirement(bytes16(0), trap ? 0x0909 : 0x0105),
            commitDeadline: uint48(block.timestamp + 50),
            revealDeadline: uint48(block.timestamp + 100),
            bond: BOND
        });
        vm.deal(source, source.balance + reserve);
        vm.prank(source);
        AuctionId id = auction.openAuction{value: reserve}(params);
        _auctions.push(id);
        _isTrap[id] = trap;
        ghostDeposited += reserve;
    }

    function cancel(uint256 a) external {
        (AuctionId id, bool ok) = _pickIn(a, IMigrationAuction.AuctionState.Commit);
        if (!ok) return;
        vm.prank(source);
        auction.cancelAuction(id);
    }

    /// @notice The destination of a live allocation confirms with the source's hand-over (`withHandOver`), or a
    /// griefing winner / withholding source leaves it (nothing happens; the timeout runs).
    function confirm(uint256 a, bool withHandOver) external {
        (AllocationId id, bool ok) = _liveAllocation(a);
        if (!ok || !withHandOver) return;
        IAllocationRegistry.Allocation memory al = registry.allocation(id);
        bytes32 digest = keccak256(abi.encode("state", id));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(_sourceKey, registry.receiptDigest(id, digest));
        uint256 before = registry.balanceOf(al.destination);
        vm.prank(al.destination);
        registry.confirmMigration(id, digest, abi.encodePacked(r, s, v));
        if (registry.balanceOf(al.destination) != before + al.price) ghostUnpaidConfirmations++;
        _expectedHost[al.tvmId] = al.destination;
    }

    /// @notice A griefing winner accepts its allocation late, or never (then this is not called).
    function accept(uint256 a) external {
        (AllocationId id, bool ok) = _liveAllocation(a);
        if (!ok) return;
        IAllocationRegistry.Allocation memory al = registry.allocation(id);
        if (al.accepted) return;
        vm.prank(al.destination);
        registry.acceptAllocation(id);
    }

    /// @notice The source aborts alone: at once from the acceptance deadline when the winner has not accepted;
    /// otherwise after the timeout, and only as a request (it opens the dispute window, in which {confirm} may still
    /// win). Or the destination aborts.
    function abort(uint256 a, bool bySource) external {
        (AllocationId id, bool ok) = _liveAllocation(a);
        if (!ok) return;
        IAllocationRegistry.Allocation memory al = registry.allocation(id);
        if (bySource) {
            if (al.abortSettleAt != 0) return; // requested already
            uint256 from = al.accepted ? al.confirmDeadline : al.acceptDeadline;
            if (block.timestamp < from) _advance(from);
            vm.prank(al.source);
        } else {
            vm.prank(al.destination);
        }
        registry.abortMigration(id, 1);
    }

    /// @notice Anyone settles a source's abort request once its dispute window is over.
    function settleAbort(uint256 a) external {
        (AllocationId id, bool ok) = _liveAllocation(a);
        if (!ok) return;
        uint256 settleAt = registry.allocation(id).abortSettleAt;
        if (settleAt == 0) return;
        if (block.timestamp < settleAt) _advance(settleAt);
        registry.settleAbort(id);
    }

    // ----- the bidders

    /// @notice Bidder `b` commits. The honest bidder commits only on terms it meets, at a price within the reserve;
    /// a sybil commits anything, traps included.
    function commit(uint256 a, uint256 b, uint96 price) external {
        (AuctionId id, bool ok) = _pickIn(a, IMigrationAuction.AuctionState.Commit);
        if (!ok) return;
        address bidder = _bidders[b % _bidders.length];
        if (auction.bidInfo(id, bidder).status != IMigrationAuction.BidStatus.None) return;
        IMigrationAuction.AuctionInfo memory info = auction.auctionInfo(id);
        if (bidder == honest) {
            if (_isTrap[id]) return; // its client checks the TCB requirement against its platform
            price = uint96(bound(price, 0, info.reserve));
        } else {
            price = uint96(bound(price, 0, 6 ether));
        }
        _prices[id][bidder] = price;
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(_sourceKey, auction.admissionTicketDigest(id, bidder));
        bytes32 commitment = auction.bidCommitment(id, bidder, price, 1, _salt(bidder));
        vm.deal(bidder, bidder.balance + BOND);
        vm.prank(bidder);
        try auction.commitBid{value: BOND}(id, commitment, r, bytes32((uint256(v - 27) << 255) | uint256(s))) {
            ghostDeposited += BOND;
            if (_isTrap[id]) ghostTrapCommits++;
        } catch {}
    }

    /// @notice A sybil reveals (the honest bidder's reveals are scheduled by {_advance}).
    function revealSybil(uint256 a, uint256 b) external {
        (AuctionId id, bool ok) = _pickIn(a, IMigrationAuction.AuctionState.Reveal);
        if (!ok) return;
        address bidder = _bidders[1 + b % (_bidders.length - 1)];
        if (auction.bidInfo(id, bidder).status != IMigrationAuction.BidStatus.Committed) return;
        uint96 price = _prices[id][bidder];
        if (price > auction.auctionInfo(id).reserve) return;
        vm.prank(bidder);
        auction.revealBid(id, price, 1, _salt(bidder));
    }

    /// @notice Bidder `b` takes its bond back where the auction lets it: revealed once the auction settled (the
    /// winner's once its allocation committed, or aborted after its acceptance), or committed to a cancelled auction.
    function withdrawBond(uint256 a, uint256 b) external {
        (AuctionId id, bool ok) = _pick(a);
        if (!ok) return;
        address bidder = _bidders[b % _bidders.length];
        IMigrationAuction.BidStatus status = auction.bidInfo(id, bidder).status;
        IMigrationAuction.AuctionState state = auction.state(id);
        bool refundable;
        if (status == IMigrationAuction.BidStatus.Revealed) {
            if (state == IMigrationAuction.AuctionState.Failed) {
                refundable = true;
            } else if (state == IMigrationAuction.AuctionState.Finalized) {
                IMigrationAuction.AuctionInfo memory info = auction.auctionInfo(id);
                if (bidder != info.bestBidder) {
                    refundable = true;
                } else {
                    (IAllocationRegistry.AllocationState s, bool accepted) = registry.settlementOf(info.allocationId);
                    refundable = s == IAllocationRegistry.AllocationState.Committed
                        || (s == IAllocationRegistry.AllocationState.Aborted && accepted);
                }
            }
        } else {
            refundable =
                status == IMigrationAuction.BidStatus.Committed && state == IMigrationAuction.AuctionState.Cancelled;
        }
        if (!refundable) return;
        _paid(bidder, address(auction), abi.encodeCall(auction.withdrawBond, (id)));
    }

    /// @notice Anyone (here, the source) burns the performance bond of a winner whose allocation was aborted without
    /// its acceptance.
    function forfeitWinnerBond(uint256 a) external {
        (AuctionId id, bool ok) = _pickIn(a, IMigrationAuction.AuctionState.Finalized);
        if (!ok) return;
        IMigrationAuction.AuctionInfo memory info = auction.auctionInfo(id);
        if (auction.bidInfo(id, info.bestBidder).status != IMigrationAuction.BidStatus.Revealed) return;
        (IAllocationRegistry.AllocationState s, bool accepted) = registry.settlementOf(info.allocationId);
        if (s != IAllocationRegistry.AllocationState.Aborted || accepted) return;
        address burn = auction.BURN_ADDRESS();
        uint256 sourceBalance = auction.balanceOf(source) + source.balance;
        uint256 before = burn.balance;
        vm.prank(source);
        auction.forfeitBond(id, info.bestBidder);
        ghostBurned += burn.balance - before;
        if (info.bestBidder == honest) ghostHonestLosses += BOND;
        if (auction.balanceOf(source) + source.balance > sourceBalance) ghostForfeitsPaidToSource++;
    }

    /// @notice Anyone (here, the source, hoping to collect) forfeits an unrevealed bond.
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
        uint256 sourceBalance = auction.balanceOf(source) + source.balance;
        uint256 before = burn.balance;
        vm.prank(source);
        auction.forfeitBond(id, bidder);
        ghostBurned += burn.balance - before;
        if (bidder == honest) ghostHonestLosses += BOND;
        if (auction.balanceOf(source) + source.balance > sourceBalance) ghostForfeitsPaidToSource++;
    }

    // ----- anyone

    function finalize(uint256 a) external {
        (AuctionId id, bool ok) = _pickIn(a, IMigrationAuction.AuctionState.Ended);
        if (!ok) return;
        // Refused while the registry is paused or the auction's allocator role revoked: then only rescue helps.
        try auction.finalize(id) returns (AllocationId allocationId) {
            // The honest bidder's client accepts as soon as it sees `Allocated`.
            if (AllocationId.unwrap(allocationId) != 0 && registry.allocation(allocationId).destination == honest) {
                vm.prank(honest);
                registry.acceptAllocation(allocationId);
            }
        } catch {}
    }

    function rescue(uint256 a) external {
        (AuctionId id, bool ok) = _pickIn(a, IMigrationAuction.AuctionState.Ended);
        if (!ok) return;
        uint256 rescueAt = uint256(auction.auctionInfo(id).revealDeadline) + auction.RESCUE_GRACE();
        if (block.timestamp < rescueAt) _advance(rescueAt);
        if (auction.state(id) != IMigrationAuction.AuctionState.Ended) return;
        auction.rescue(id);
    }

    function wait(uint256 seconds_) external {
        _advance(block.timestamp + bound(seconds_, 1, 60));
    }

    function withdrawFromAuction(uint256 who) external {
        address account = _actor(who);
        if (auction.balanceOf(account) == 0) return;
        _paid(account, address(auction), abi.encodeCall(auction.withdraw, ()));
    }

    function withdrawFromRegistry(uint256 who) external {
        address account = _actor(who);
        if (registry.balanceOf(account) == 0) return;
        _paid(account, address(registry), abi.encodeCall(registry.withdraw, ()));
    }

    // ----- the admin

    // A prank applies to the next call, views included: each condition is read before the prank.
    function togglePauseAuction() external {
        bool paused = auction.paused();
        vm.prank(admin);
        if (paused) auction.unpause();
        else auction.pause();
    }

    function togglePauseRegistry() external {
        bool paused = registry.paused();
        vm.prank(admin);
        if (paused) registry.unpause();
        else registry.pause();
    }

    function toggleAllocatorRole() external {
        bytes32 role = registry.ALLOCATOR_ROLE();
        bool held = registry.hasRole(role, address(auction));
        vm.prank(admin);
        if (held) registry.revokeRole(role, address(auction));
        else registry.grantRole(role, address(auction));
    }

    /// @notice The admin grants itself the allocator role and allocates TVM `t` from `claimedSource` (a host it does
    /// not run on, or the admin) to a bidder.
    function rogueAllocate(uint256 t, uint256 b, bool claimAdmin) external {
        bytes32 tvmId = tvmIdAt(t % TVMS);
        (address holder,) = registry.currentPlacement(tvmId);
        address origin = holder == address(0) ? source : holder;
        address claimedSource = claimAdmin ? admin : _bidders[b % _bidders.length];
        if (claimedSource == origin) return; // offering from where it runs is not rogue
        address destination = _bidders[(b + 1) % _bidders.length];
        if (destination == claimedSource) return;
        bytes32 role = registry.ALLOCATOR_ROLE();
        vm.deal(admin, admin.balance + 1 ether);
        vm.startPrank(admin);
        if (!registry.hasRole(role, admin)) registry.grantRole(role, admin);
        try registry.allocate{value: 1 ether}(tvmId, AuctionId.wrap(0), claimedSource, destination, 0, bytes32(0)) {
            ghostRogueAllocations++;
            ghostDeposited += 1 ether;
        } catch {}
        vm.stopPrank();
    }

    // ----- helpers

    /// @dev Moves time to `target`, stopping at each commit deadline on the way where the honest bidder has a bid
    /// to reveal, and revealing it there: an honest client reveals as soon as its window opens.
    function _advance(uint256 target) private {
        while (true) {
            uint256 next = type(uint256).max;
            uint256 n = _auctions.length;
            for (uint256 i = 0; i < n; i++) {
                AuctionId id = _auctions[i];
                if (auction.bidInfo(id, honest).status != IMigrationAuction.BidStatus.Committed) continue;
                if (auction.state(id) == IMigrationAuction.AuctionState.Reveal) {
                    vm.prank(honest);
                    auction.revealBid(id, _prices[id][honest], 1, _salt(honest));
                    continue;
                }
                uint256 opensAt = auction.auctionInfo(id).commitDeadline;
                if (opensAt > block.timestamp && opensAt <= target && opensAt < next) next = opensAt;
            }
            if (next == type(uint256).max) break;
            vm.warp(next);
        }
        if (target > block.timestamp) vm.warp(target);
    }

    function _salt(address bidder) private pure returns (bytes32) {
        return bytes32(uint256(uint160(bidder)));
    }

}
