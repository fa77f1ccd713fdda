// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.34;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {IAllocationRegistry} from "./interfaces/IAllocationRegistry.sol";
import {IHostRegistry} from "./interfaces/IHostRegistry.sol";
import {IMigrationAuction} from "./interfaces/IMigrationAuction.sol";
import {ADMIN_TRANSFER_DELAY} from "./libraries/AdminRules.sol";
import {PullPayments} from "./libraries/PullPayments.sol";
import {SealedBid} from "./libraries/SealedBid.sol";
import {TcbLevel} from "./libraries/TcbLevel.sol";
import {AllocationId, AuctionId} from "./types/Ids.sol";

/// @title MigrationAuction
/// @notice Sealed-bid reverse auctions for TVM migrations. See {IMigrationAuction}.
/// @dev Gas design. {commitBid} reads two slots of the auction (source, commit deadline and bond; the TCB
/// requirement, which it checks against the bidder's registered platform) and fills one fresh slot (the bid);
/// commits are not counted. {revealBid} only rewrites slots that are already non-zero: the
/// bid slot, the counters slot, and the best-two slots, which {openAuction} initialises with a non-zero sentinel
/// price. {finalize} reads the best two and the reveal count, so its cost does not depend on the number of bids.
///
/// Accounting: the contract holds exactly the reserves of auctions not yet settled, the bonds neither refunded
/// nor forfeited, and the credited balances. Each wei leaves once: a reserve either moves to the
/// AllocationRegistry (Finalized) or to the source's balance (Cancelled, Failed); a bond either returns to its
/// bidder (revealed and not the best bid, at once; the best bid's once the auction failed, or, as the winner's
/// performance bond, once its allocation committed or was aborted after its acceptance; or auction cancelled) or is
/// burned (never revealed, or won and never accepted: sent to {BURN_ADDRESS}); a balance is paid by {withdraw} and
/// zeroed before the transfer. Every status change of a bid happens before its transfer.
///
/// Bounded terms: the source chooses the deadlines and the bond, and a bidder risks its bond on them, so they are
/// bounded here, not only checked by the bidder's client. A commit phase of at least `minCommitWindow` seconds from
/// the opening block, a reveal phase of at least `minRevealWindow` seconds, a bond at most the reserve and at most
/// the admin's `maxBond`. The minimums are admin parameters that can never go below floors fixed at deploy: the
/// production deployment fixes them at {SLOT_SAFE_WINDOW} (three 12 s slots), local chains that mine on demand
/// lower them explicitly.
///
/// Emergency stop: while paused (PAUSER_ROLE) no auction opens. Auctions already open run to their end (their
/// phases are bounded, so the stop takes hold within one auction's length), and reveals, finalization, rescue,
/// refunds, forfeits and withdrawals go on: the stop holds nobody's money and makes no honest bidder miss its reveal.
/// Commits are not paused: that would cost every commit a cold read of the pause flag, and a bidder of an open
/// auction commits on terms it has checked.
///
/// Rescue: an auction that cannot be finalized (the AllocationRegistry refuses the allocation: its allocator role was
/// revoked, it is paused, or it reverts for any other reason) would hold the reserve and the TVM's one live auction
/// forever. {RESCUE_GRACE} after the reveal deadline anyone may {rescue} it instead: it fails, the reserve is credited
/// back to the source, revealed bonds stay refundable and unrevealed ones forfeitable, as after any failed auction.
contract MigrationAuction is IMigrationAuction, PullPayments, AccessControlDefaultAdminRules, Pausable, EIP712 {
    using SealedBid for uint256;

    /// @notice EIP-712 type of the admission ticket the source signs for each acknowledging host.
    bytes32 public constant ADMISSION_TICKET_TYPEHASH = keccak256("AdmissionTicket(uint64 auctionId,address host)");

    /// @notice Role allowed to pause and unpause the opening of auctions.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @notice Time after the reveal deadline during which only {finalize} may settle an auction; after it, {rescue}
    /// may too. A day leaves every party, the winner first, ample time to finalize on a congested chain.
    uint32 public constant RESCUE_GRACE = 1 days;

    /// @dev Sentinel price of the best-two slots before any reveal: above every valid price (reserves are below
    /// it), and non-zero so that the first reveal rewrites rather than fills the slots.
    uint96 private constant _NO_PRICE = type(uint96).max;

    uint256 private constant _GWEI = 1 gwei;

    /// @notice A window that holds on a chain with 12 s slots: three slots. Block timestamps there are slot times,
    /// so a phase of 36 s contains at least three block times, and at least two of them come after a block the
    /// bidder has seen in the phase (or the opening block): a transaction sent on seeing one block lands in the
    /// next even when one proposer misses its slot. The production deployment uses it as the floor of both minimum
    /// windows.
    uint32 public constant SLOT_SAFE_WINDOW = 36;

    /// @notice Highest value the admin may give a minimum window (one day), so that raising the minimums cannot
    /// freeze the market.
    uint32 public constant MAX_WINDOW_MINIMUM = 1 days;

    /// @notice Where every forfeited bond goes: an address nobody holds a key to. A bond is forfeited when its bid
    /// is never revealed; the chain cannot tell whether the bidder withheld it or was kept from revealing, and the
    /// source could cause the second (and profits from the first through its own sybils), so neither is paid.
    address public constant BURN_ADDRESS = 0x000000000000000000000000000000000000dEaD;

    /// @dev Stored outcome; the time-driven phases are derived from the deadlines by {state}.
    enum Outcome {
        None,
        Open,
        Cancelled,
        Failed,
        Finalized
    }

    /// @dev One auction, seven slots.
    /// slot 0: source 20 + commitDeadline 6 + bondGwei 6 = 32 bytes: everything {commitBid} reads.
    /// slot 1: reserve 12 + revealDeadline 6 + revealCount 3 + outcome 1 + allocationId 8 = 30 bytes (non-zero from
    ///         the opening since the reserve is; rewritten by each reveal)
    /// slot 2: bestBidder 20 + bestPrice 12 = 32 bytes (bestPrice starts at the sentinel)
    /// slot 3: secondPrice 12 + minTeeTcbSvn 16 + minTdxModuleVersion 2 = 30 bytes (secondPrice starts at the
    ///         sentinel; the TCB requirement is stored field by field because a struct would start a new slot)
    /// slots 4-6: requestId, tvmId, configHash.
    /// The bond is kept in gwei (48 bits: up to 2.8e14 gwei) so that it fits beside the source and the commit
    /// deadline. The reveal count is 24 bits: 16.7 million reveals would take far more gas than a block holds.
    // The order groups fields by the calls that read them, not by size (see above).
    // solhint-disable-next-line gas-struct-packing
    struct AuctionRecord {
        address source;
        uint48 commitDeadline;
        uint48 bondGwei;
        uint96 reserve;
        uint48 revealDeadline;
        uint24 revealCount;
        Outcome outcome;
        AllocationId allocationId;
        address bestBidder;
        uint96 bestPrice;
        uint96 secondPrice;
        bytes16 minTeeTcbSvn;
        uint16 minTdxModuleVersion;
        bytes32 requestId;
        bytes32 tvmId;
        bytes32 configHash;
    }

    IHostRegistry private immutable _hostRegistry;
    IAllocationRegistry private immutable _allocationRegistry;

    /// @dev Floors of the minimum windows, fixed at deploy.
    uint32 private immutable _commitWindowFloor;
    uint32 private immutable _revealWindowFloor;

    /// @dev One slot: auctionCount 8 + minCommitWindow 4 + minRevealWindow 4 + maxBond 12 = 28 bytes. {openAuction}
    /// reads the limits and increments the count in the same slot, so the bounds cost no extra cold read.
    uint64 private _auctionCount;
    uint32 private _minCommitWindow;
    uint32 private _minRevealWindow;
    uint96 private _maxBond;
    mapping(AuctionId auctionId => AuctionRecord) private _auctions;
    /// @dev One packed slot per bidder, see {SealedBid}.
    mapping(AuctionId auctionId => mapping(address bidder => uint256 packedBid)) private _bids;
    mapping(bytes32 tvmId => AuctionId) private _liveAuction;

    /// @param admin Receives DEFAULT_ADMIN_ROLE, which sets the {AuctionLimits} (transferred in two steps, see
    /// {ADMIN_TRANSFER_DELAY}), and PAUSER_ROLE.
    /// @param hostRegistry_ Registry whose active hosts may bid.
    /// @param allocationRegistry_ Registry that records the allocations (it must grant this contract its
    /// ALLOCATOR_ROLE).
    /// @param commitWindowFloor Least value the minimum commit window may ever take, and its initial value.
    /// @param revealWindowFloor Least value the minimum reveal window may ever take, and its initial value.
    /// @param maxBond Initial cap on bonds, in wei.
    constructor(
        address admin,
        IHostRegistry hostRegistry_,
        IAllocationRegistry allocationRegistry_,
        uint32 commitWindowFloor,
        uint32 revealWindowFloor,
        uint96 maxBond
    ) AccessControlDefaultAdminRules(ADMIN_TRANSFER_DELAY, admin) EIP712("MigrationAuction", "1") {
        if (commitWindowFloor == 0 || revealWindowFloor == 0) {
            revert MigrationAuctionInvalidLimits(
                commitWindowFloor, revealWindowFloor, commitWindowFloor, revealWindowFloor, MAX_WINDOW_MINIMUM
            );
        }
        _grantRole(PAUSER_ROLE, admin);
        _hostRegistry = hostRegistry_;
        _allocationRegistry = allocationRegistry_;
        _commitWindowFloor = commitWindowFloor;
        _revealWindowFloor = revealWindowFloor;
        _setAuctionLimits(AuctionLimits(commitWindowFloor, revealWindowFloor, maxBond));
    }

    /// @inheritdoc IMigrationAuction
    function openAuction(AuctionParams calldata params) external payable whenNotPaused returns (AuctionId auctionId) {
        _requireBoundedTerms(params.commitDeadline, params.revealDeadline, params.bond);
        bytes32 tvmId = params.tvmId;
        AuctionId live = _liveAuction[tvmId];
        if (AuctionId.unwrap(live) != 0) revert MigrationAuctionTvmInAuction(tvmId, live);
        AllocationId liveAllocation = _allocationRegistry.liveAllocation(tvmId);
        if (AllocationId.unwrap(liveAllocation) != 0) revert MigrationAuctionTvmAllocationLive(tvmId, liveAllocation);
        (address holder,) = _allocationRegistry.currentPlacement(tvmId);
        if (holder == address(0)) {
            // Never placed: only its origin, committed to in the id's high 20 bytes, may offer it first.
            if (address(bytes20(tvmId)) != msg.sender) revert MigrationAuctionNotTvmOrigin(tvmId, msg.sender);
        } else if (holder != msg.sender) {
            revert MigrationAuctionNotTvmHolder(tvmId, msg.sender, holder);
        }

        unchecked {
            // 2^64 auctions are out of reach.
            auctionId = AuctionId.wrap(++_auctionCount);
        }
        AuctionRecord storage a = _auctions[auctionId];
        a.source = msg.sender;
        a.commitDeadline = params.commitDeadline;
        a.revealDeadline = params.revealDeadline;
        a.reserve = uint96(msg.value);
        a.bondGwei = uint48(params.bond / _GWEI);
        a.outcome = Outcome.Open;
        a.bestPrice = _NO_PRICE;
        a.secondPrice = _NO_PRICE;
        a.minTeeTcbSvn = params.tcb.minTeeTcbSvn;
        a.minTdxModuleVersion = params.tcb.minTdxModuleVersion;
        a.requestId = params.requestId;
        a.tvmId = tvmId;
        a.configHash = params.configHash;
        _liveAuction[tvmId] = auctionId;
        emit AuctionOpened(auctionId, params.requestId, tvmId, msg.sender, uint96(msg.value), params);
    }

    /// @inheritdoc IMigrationAuction
    function cancelAuction(AuctionId auctionId) external {
        AuctionRecord storage a = _auctions[auctionId];
        _requireState(auctionId, a, AuctionState.Commit);
        address source = a.source;
        if (msg.sender != source) revert MigrationAuctionNotSource(auctionId, msg.sender, source);
        a.outcome = Outcome.Cancelled;
        // Closing the commit phase now lets {commitBid} reject the auction from its single slot.
        a.commitDeadline = uint48(block.timestamp);
        _liveAuction[a.tvmId] = AuctionId.wrap(0);
        emit AuctionCancelled(auctionId);
        _credit(source, auctionId, a.reserve);
    }

    /// @inheritdoc IMigrationAuction
    function commitBid(AuctionId auctionId, bytes32 commitment, bytes32 ticketR, bytes32 ticketVs)
        external
        payable
    {
        AuctionRecord storage a = _auctions[auctionId];
        // One read of slot 0. An unknown auction has a zero deadline and a cancelled one a past deadline, so the
        // deadline alone decides; the full state is computed only to report it.
        (address source, uint48 commitDeadline, uint48 bondGwei) = (a.source, a.commitDeadline, a.bondGwei);
        if (block.timestamp >= commitDeadline) {
            revert MigrationAuctionUnexpectedState(auctionId, _state(a), AuctionState.Commit);
        }
        if (msg.sender == source) revert MigrationAuctionSourceCannotBid(auctionId, source);
        uint256 bond = uint256(bondGwei) * _GWEI;
        if (msg.value != bond) revert MigrationAuctionWrongBond(auctionId, msg.value, uint96(bond));
        mapping(address => uint256) storage bids = _bids[auctionId];
        uint256 slot = bids[msg.sender];
        if (slot != 0) {
            revert MigrationAuctionUnexpectedBidStatus(auctionId, msg.sender, slot.statusOf(), BidStatus.None);
        }
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(ADMISSION_TICKET_TYPEHASH, auctionId, msg.sender)));
        (address signer,,) = ECDSA.tryRecover(digest, ticketR, ticketVs);
        // A contract-wallet source (ERC-1271) is asked only when the signature is not the source's own key's, so an
        // EOA source pays nothing for the support.
        if (signer != source && !_isValidContractSignature(source, digest, abi.encodePacked(ticketR, ticketVs))) {
            revert MigrationAuctionInvalidTicket(auctionId, msg.sender, signer);
        }
        // Everything {revealBid} can refuse a bidder for is checked here too, before the bond is at risk: an active
        // host whose registered platform meets the TVM's TCB requirement. A source that sets the requirement above
        // every bidder's platform gets no commits instead of bonds it could make unrevealable.
        _requireStanding(auctionId, a, msg.sender);

        bids[msg.sender] = SealedBid.packCommitted(commitment);
        emit BidCommitted(auctionId, msg.sender);
    }

    /// @inheritdoc IMigrationAuction
    function revealBid(AuctionId auctionId, uint96 price, uint32 capacity, bytes32 salt) external {
        AuctionRecord storage a = _auctions[auctionId];
        _requireState(auctionId, a, AuctionState.Reveal);
        mapping(address => uint256) storage bids = _bids[auctionId];
        uint256 slot = bids[msg.sender];
        if (slot.statusOf() != BidStatus.Committed) {
            revert MigrationAuctionUnexpectedBidStatus(auctionId, msg.sender, slot.statusOf(), BidStatus.Committed);
        }
        bytes32 opened =
            SealedBid.commitment(block.chainid, address(this), auctionId, msg.sender, price, capacity, salt);
        if (!slot.matches(opened)) {
            revert MigrationAuctionCommitmentMismatch(auctionId, msg.sender);
        }
        if (price > a.reserve) revert MigrationAuctionPriceAboveReserve(auctionId, price, a.reserve);
        if (capacity == 0) revert MigrationAuctionZeroCapacity(auctionId, msg.sender);
        // Active again (a host suspended or exiting since its commit must not reveal, so it cannot win), and the
        // TVM's TCB requirement against the platform the bidder registered; one slot of the registry.
        _requireStanding(auctionId, a, msg.sender);

        bids[msg.sender] = SealedBid.packRevealed(BidStatus.Revealed, price, capacity);
        ++a.revealCount;
        // Best-two tracking: both slots are non-zero since the opening, so these are cheap rewrites.
        uint96 bestPrice = a.bestPrice;
        if (SealedBid.ranksBefore(auctionId, msg.sender, price, a.bestBidder, bestPrice)) {
            a.secondPrice = bestPrice;
            a.bestBidder = msg.sender;
            a.bestPrice = price;
        } else if (price < a.secondPrice) {
            a.secondPrice = price;
        }
        emit BidRevealed(auctionId, msg.sender, price, capacity);
    }

    /// @inheritdoc IMigrationAuction
    function finalize(AuctionId auctionId) external returns (AllocationId allocationId) {
        AuctionRecord storage a = _auctions[auctionId];
        _requireState(auctionId, a, AuctionState.Ended);
        address source = a.source;
        uint24 revealCount = a.revealCount;
        _liveAuction[a.tvmId] = AuctionId.wrap(0);

        if (revealCount == 0) {
            a.outcome = Outcome.Failed;
            emit AuctionFailed(auctionId);
            _credit(source, auctionId, a.reserve);
            return allocationId;
        }

        address winner = a.bestBidder;
        if (!_lockWinnerInStanding(a, winner)) {
            // The best bidder was suspended, left the market or lowered its registered platform after its reveal: the
            // market no longer vouches for it, so it is not allocated. Its own act (or the admin's verdict on it)
            // loses its bond, which is burned; the auction fails, the reserve goes back to the source, which may offer
            // the TVM again at once, and every other revealed bond is refundable as after any failed auction.
            a.outcome = Outcome.Failed;
            _bids[auctionId][winner] = SealedBid.packRevealed(BidStatus.Forfeited, 0, 0);
            uint96 bond = _bond(a);
            emit AuctionWinnerIneligible(auctionId, winner, bond);
            emit AuctionFailed(auctionId);
            _credit(source, auctionId, a.reserve);
            _sendValue(BURN_ADDRESS, bond);
            return allocationId;
        }
        uint96 winningBid = a.bestPrice;
        // Reverse Vickrey: the second-lowest price, or the winner's own when it revealed alone. Every revealed
        // price is at most the reserve, so the reserve caps the payment.
        uint96 price = revealCount == 1 ? winningBid : a.secondPrice;
        a.outcome = Outcome.Finalized;
        // The outcome is recorded before the external call, so a re-entrant finalize finds the auction settled.
        allocationId = _allocationRegistry.allocate{value: a.reserve}(
            a.tvmId, auctionId, source, winner, price, a.configHash
        );
        a.allocationId = allocationId;
        emit AuctionFinalized(auctionId, winner, allocationId, winningBid, price);
    }

    /// @inheritdoc IMigrationAuction
    function rescue(AuctionId auctionId) external {
        AuctionRecord storage a = _auctions[auctionId];
        _requireState(auctionId, a, AuctionState.Ended);
        uint256 rescueAt = uint256(a.revealDeadline) + RESCUE_GRACE;
        if (block.timestamp < rescueAt) revert MigrationAuctionRescueTooEarly(auctionId, rescueAt, block.timestamp);
        a.outcome = Outcome.Failed;
        _liveAuction[a.tvmId] = AuctionId.wrap(0);
        emit AuctionRescued(auctionId, msg.sender);
        _credit(a.source, auctionId, a.reserve);
    }

    /// @inheritdoc IMigrationAuction
    function withdrawBond(AuctionId auctionId) external {
        mapping(address => uint256) storage bids = _bids[auctionId];
        uint256 slot = bids[msg.sender];
        BidStatus status = slot.statusOf();
        AuctionRecord storage a = _auctions[auctionId];
        if (status == BidStatus.Revealed) {
            // Only the best bidder's bond is held: it is the winner's performance bond if the auction is finalized. A
            // bidder displaced from the top can never return to it (a later reveal must rank before the best to
            // replace it), so every other revealed bond is refundable at once.
            if (msg.sender == a.bestBidder) {
                AuctionState current = _state(a);
                if (current == AuctionState.Finalized) {
                    _requireWinnerBondFree(auctionId, a);
                } else if (current != AuctionState.Failed) {
                    revert MigrationAuctionUnexpectedState(auctionId, current, AuctionState.Finalized);
                }
            }
            bids[msg.sender] = SealedBid.packRevealed(BidStatus.Refunded, slot.priceOf(), slot.capacityOf());
        } else if (status == BidStatus.Committed && a.outcome == Outcome.Cancelled) {
            bids[msg.sender] = SealedBid.packRevealed(BidStatus.Refunded, 0, 0);
        } else {
            revert MigrationAuctionUnexpectedBidStatus(auctionId, msg.sender, status, BidStatus.Revealed);
        }
        // The bid is marked refunded above, before the transfer: a re-entrant call finds nothing to refund.
        uint96 bond = _bond(a);
        emit BondRefunded(auctionId, msg.sender, bond);
        _sendValue(msg.sender, bond);
    }

    /// @inheritdoc IMigrationAuction
    function forfeitBond(AuctionId auctionId, address bidder) external {
        AuctionRecord storage a = _auctions[auctionId];
        AuctionState current = _state(a);
        mapping(address => uint256) storage bids = _bids[auctionId];
        uint256 slot = bids[bidder];
        BidStatus status = slot.statusOf();
        if (status == BidStatus.Revealed && current == AuctionState.Finalized && bidder == a.bestBidder) {
            // The winner: only when its allocation was aborted without its acceptance, the fault that is its own.
            (IAllocationRegistry.AllocationState allocationState, bool accepted) =
                _allocationRegistry.settlementOf(a.allocationId);
            if (allocationState != IAllocationRegistry.AllocationState.Aborted || accepted) {
                revert MigrationAuctionUnexpectedBidStatus(auctionId, bidder, status, BidStatus.Committed);
            }
        } else {
            if (current != AuctionState.Ended && current != AuctionState.Finalized && current != AuctionState.Failed) {
                revert MigrationAuctionUnexpectedState(auctionId, current, AuctionState.Ended);
            }
            if (status != BidStatus.Committed) {
                revert MigrationAuctionUnexpectedBidStatus(auctionId, bidder, status, BidStatus.Committed);
            }
        }
        bids[bidder] = SealedBid.packRevealed(BidStatus.Forfeited, 0, 0);
        uint96 bond = _bond(a);
        emit BondForfeited(auctionId, bidder, bond);
        // Burned, never credited to the source: see {BURN_ADDRESS}.
        _sendValue(BURN_ADDRESS, bond);
    }

    /// @inheritdoc IMigrationAuction
    function setAuctionLimits(AuctionLimits calldata limits) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setAuctionLimits(limits);
    }

    /// @inheritdoc IMigrationAuction
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @inheritdoc IMigrationAuction
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @inheritdoc IMigrationAuction
    function state(AuctionId auctionId) external view returns (AuctionState) {
        return _state(_auctions[auctionId]);
    }

    /// @inheritdoc IMigrationAuction
    function auctionInfo(AuctionId auctionId) external view returns (AuctionInfo memory info) {
        AuctionRecord storage a = _auctions[auctionId];
        info.state = _state(a);
        info.source = a.source;
        info.commitDeadline = a.commitDeadline;
        info.revealDeadline = a.revealDeadline;
        info.reserve = a.reserve;
        info.bond = _bond(a);
        info.revealCount = a.revealCount;
        info.bestBidder = a.bestBidder;
        info.bestPrice = a.bestPrice;
        info.secondPrice = a.secondPrice;
        info.allocationId = a.allocationId;
        info.requestId = a.requestId;
        info.tvmId = a.tvmId;
        info.configHash = a.configHash;
        info.tcb = TcbRequirement(a.minTeeTcbSvn, a.minTdxModuleVersion);
    }

    /// @inheritdoc IMigrationAuction
    function bidInfo(AuctionId auctionId, address bidder) external view returns (BidInfo memory info) {
        uint256 slot = _bids[auctionId][bidder];
        info.status = slot.statusOf();
        if (info.status == BidStatus.Committed) {
            info.commitment = slot.storedCommitmentOf();
        } else if (info.status != BidStatus.None) {
            info.price = slot.priceOf();
            info.capacity = slot.capacityOf();
        }
    }

    /// @inheritdoc IMigrationAuction
    function liveAuctionOf(bytes32 tvmId) external view returns (AuctionId) {
        return _liveAuction[tvmId];
    }

    /// @inheritdoc IMigrationAuction
    function auctionCount() external view returns (uint64) {
        return _auctionCount;
    }

    /// @inheritdoc IMigrationAuction
    function bidCommitment(AuctionId auctionId, address bidder, uint96 price, uint32 capacity, bytes32 salt)
        external
        view
        returns (bytes32)
    {
        return SealedBid.commitment(block.chainid, address(this), auctionId, bidder, price, capacity, salt);
    }

    /// @inheritdoc IMigrationAuction
    function admissionTicketDigest(AuctionId auctionId, address host) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(ADMISSION_TICKET_TYPEHASH, auctionId, host)));
    }

    /// @inheritdoc IMigrationAuction
    function auctionLimits() external view returns (AuctionLimits memory) {
        return AuctionLimits(_minCommitWindow, _minRevealWindow, _maxBond);
    }

    /// @inheritdoc IMigrationAuction
    function windowFloors() external view returns (uint32 commitFloor, uint32 revealFloor) {
        return (_commitWindowFloor, _revealWindowFloor);
    }

    /// @inheritdoc IMigrationAuction
    function hostRegistry() external view returns (address) {
        return address(_hostRegistry);
    }

    /// @inheritdoc IMigrationAuction
    function allocationRegistry() external view returns (address) {
        return address(_allocationRegistry);
    }

    /// @dev The lifecycle of {IMigrationAuction}: the stored outcome, then the deadlines while Open.
    function _state(AuctionRecord storage a) private view returns (AuctionState) {
        Outcome outcome = a.outcome;
        if (outcome == Outcome.Open) {
            if (block.timestamp < a.commitDeadline) return AuctionState.Commit;
            if (block.timestamp < a.revealDeadline) return AuctionState.Reveal;
            return AuctionState.Ended;
        }
        if (outcome == Outcome.None) return AuctionState.None;
        if (outcome == Outcome.Cancelled) return AuctionState.Cancelled;
        if (outcome == Outcome.Failed) return AuctionState.Failed;
        return AuctionState.Finalized;
    }

    function _requireState(AuctionId auctionId, AuctionRecord storage a, AuctionState expected) private view {
        AuctionState current = _state(a);
        if (current != expected) revert MigrationAuctionUnexpectedState(auctionId, current, expected);
    }

    /// @dev The winner's performance bond is free once its allocation committed, or aborted after the winner accepted
    /// it; held while the allocation is live; burned (see {forfeitBond}) when aborted without acceptance.
    function _requireWinnerBondFree(AuctionId auctionId, AuctionRecord storage a) private view {
        AllocationId allocationId = a.allocationId;
        (IAllocationRegistry.AllocationState allocationState, bool accepted) =
            _allocationRegistry.settlementOf(allocationId);
        if (allocationState == IAllocationRegistry.AllocationState.Committed) return;
        if (allocationState == IAllocationRegistry.AllocationState.Aborted && accepted) return;
        revert MigrationAuctionBondHeld(auctionId, a.bestBidder, allocationId, allocationState);
    }

    /// @dev `bidder` is an active host whose registered platform meets the TVM's TCB requirement.
    function _requireStanding(AuctionId auctionId, AuctionRecord storage a, address bidder) private view {
        (bool active, bytes16 teeTcbSvn, uint16 tdxModuleVersion) = _hostRegistry.biddingStandingOf(bidder);
        if (!active) revert MigrationAuctionHostNotActive(auctionId, bidder);
        if (!TcbLevel.meets(teeTcbSvn, tdxModuleVersion, a.minTeeTcbSvn, a.minTdxModuleVersion)) {
            revert MigrationAuctionTcbBelowRequirement(auctionId, bidder, teeTcbSvn, tdxModuleVersion);
        }
    }

    /// @dev Whether `winner` is in the standing {_requireStanding} asks for (finalize fails rather than reverts), and,
    /// when it is active, locks its stake for as long as the allocation about to be made can be live: the confirmation
    /// timeout (within which it accepts and confirms), then one more for the dispute window a source's abort request
    /// opens at the deadline. After that either party can settle the allocation alone. A winner that fails only the
    /// TCB requirement is locked too, harmlessly: its lock ends within the same span and nothing is allocated.
    function _lockWinnerInStanding(AuctionRecord storage a, address winner) private returns (bool) {
        uint256 until = block.timestamp + 2 * uint256(_allocationRegistry.confirmationTimeout());
        (bool active, bytes16 teeTcbSvn, uint16 tdxModuleVersion) = _hostRegistry.lockStake(winner, uint48(until));
        return active && TcbLevel.meets(teeTcbSvn, tdxModuleVersion, a.minTeeTcbSvn, a.minTdxModuleVersion);
    }

    /// @dev The terms of a new auction keep within the deadlines' order and the {AuctionLimits}, and the reserve
    /// (`msg.value`) fits below the sentinel.
    function _requireBoundedTerms(uint48 commitDeadline, uint48 revealDeadline, uint96 bond) private view {
        if (block.timestamp >= commitDeadline || commitDeadline >= revealDeadline) {
            revert MigrationAuctionInvalidDeadlines(commitDeadline, revealDeadline, block.timestamp);
        }
        // One read of the slot that also holds the auction count ({openAuction} increments it next).
        (uint32 minCommitWindow, uint32 minRevealWindow, uint96 maxBond) =
            (_minCommitWindow, _minRevealWindow, _maxBond);
        unchecked {
            // Both differences are positive: checked just above.
            uint256 commitWindow = commitDeadline - block.timestamp;
            if (commitWindow < minCommitWindow) {
                revert MigrationAuctionCommitWindowTooShort(commitWindow, minCommitWindow);
            }
            uint256 revealWindow = revealDeadline - commitDeadline;
            if (revealWindow < minRevealWindow) {
                revert MigrationAuctionRevealWindowTooShort(revealWindow, minRevealWindow);
            }
        }
        // The reserve must stay below the sentinel so that every valid price ranks before "no price".
        if (msg.value == 0 || msg.value >= _NO_PRICE) revert MigrationAuctionInvalidReserve(msg.value);
        if (bond % _GWEI != 0 || bond / _GWEI > type(uint48).max) revert MigrationAuctionInvalidBond(bond);
        // A bond above the reserve makes a bid riskier than the migration is worth; the cap bounds what any source
        // can ask of every bidder.
        if (bond > msg.value) revert MigrationAuctionBondAboveReserve(bond, msg.value);
        if (bond > maxBond) revert MigrationAuctionBondAboveCap(bond, maxBond);
    }

    function _setAuctionLimits(AuctionLimits memory limits) private {
        uint32 commitFloor = _commitWindowFloor;
        uint32 revealFloor = _revealWindowFloor;
        if (
            limits.minCommitWindow < commitFloor || limits.minRevealWindow < revealFloor
                || limits.minCommitWindow > MAX_WINDOW_MINIMUM || limits.minRevealWindow > MAX_WINDOW_MINIMUM
        ) {
            revert MigrationAuctionInvalidLimits(
                limits.minCommitWindow, limits.minRevealWindow, commitFloor, revealFloor, MAX_WINDOW_MINIMUM
            );
        }
        AuctionLimits memory previous = AuctionLimits(_minCommitWindow, _minRevealWindow, _maxBond);
        _minCommitWindow = limits.minCommitWindow;
        _minRevealWindow = limits.minRevealWindow;
        _maxBond = limits.maxBond;
        emit AuctionLimitsChanged(previous, limits);
    }

    /// @dev `account` is a contract that accepts `signature` over `digest` (ERC-1271).
    function _isValidContractSignature(address account, bytes32 digest, bytes memory signature)
        private
        view
        returns (bool)
    {
        return account.code.length != 0 && SignatureChecker.isValidERC1271SignatureNow(account, digest, signature);
    }

    function _bond(AuctionRecord storage a) private view returns (uint96) {
        return uint96(uint256(a.bondGwei) * _GWEI);
    }

    function _credit(address account, AuctionId auctionId, uint256 amount) private {
        _creditBalance(account, amount);
        emit BalanceCredited(account, auctionId, amount);
    }
}
