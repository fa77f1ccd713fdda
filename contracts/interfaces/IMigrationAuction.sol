// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {AllocationId, AuctionId} from "../types/Ids.sol";
import {IAllocationRegistry} from "./IAllocationRegistry.sol";
import {IPullPayments} from "./IPullPayments.sol";

/// @title IMigrationAuction
/// @notice Sealed-bid reverse (procurement) auctions, one per migration request of one TVM.
///
/// The source host opens an auction, depositing the reserve (maximum) price in escrow. Each host that
/// acknowledged the request receives from the source an EIP-712 admission ticket
/// `AdmissionTicket(uint64 auctionId,address host)` signed by the source (its key's ECDSA signature, or one its
/// ERC-1271 `isValidSignature` accepts when the source is a contract wallet), which it presents when it commits;
/// opening therefore costs the same gas whatever the number of acknowledging hosts. A bidder commits
/// `keccak256(abi.encode(chainId, auctionContract, auctionId, bidder, price, capacity, salt))` with the bond
/// (bound to this chain and this contract, see {bidCommitment}), then reveals
/// `(price, capacity, salt)` after the commit deadline and before the reveal deadline.
///
/// After the reveal deadline anyone finalizes (O(1): the best two prices are tracked at reveal): the lowest
/// revealed price wins; among equal prices the bidder with the smaller `keccak256(abi.encode(auctionId, bidder))`
/// wins (deterministic and independent of the reveal order). The winner is paid the second-lowest revealed price,
/// or its own price when it revealed alone; both are at most the reserve. The whole deposit moves to the
/// AllocationRegistry, which settles it when the migration is committed or aborted. With no revealed bid the
/// auction fails and the deposit returns to the source.
///
/// Bonds return to every bidder that revealed ({withdrawBond}: at once for a bid that is not the best revealed so
/// far, which can never become the best again; the best bid's once the auction failed), and to every bidder of a
/// cancelled auction. The winner's bond is its performance bond: held until its allocation settles, refunded when it
/// committed or when the winner accepted it on-chain, burned when it was aborted without the winner's acceptance (see
/// IAllocationRegistry, Acceptance), the one failure the chain can attribute to the winner. The bond of a bidder that
/// committed and never revealed is forfeited ({forfeitBond}, anyone may call it once the reveal deadline has passed)
/// and burned: paying it to the source would let a source
/// profit from bids it made unrevealable, or recover the bonds of its own sybil bidders. All payouts are pull-based.

///
/// Who may open an auction for a TVM: its current placement (the host the AllocationRegistry last committed it
/// to); for a TVM never placed, its origin, the host whose address forms the TVM id's high 20 bytes. A TVM id is
/// made by the host that creates the TVM as `bytes32(bytes20(host)) | 96-bit random`, so it commits to its first
/// source: nobody else can open an auction for a fresh TVM and hold it (a TVM has one live auction at a time)
/// before its real source does.
///
/// The source may cancel while the commit phase lasts; it is meant for the time before the first commit (for
/// example when the TVM no longer needs to move), and bidders that did commit get their bond back. Commits are
/// not counted on-chain: {commitBid} reads two slots of the auction (its terms and its TCB requirement) and writes
/// only the bidder's own slot.
/// @dev Lifecycle, computed by {state} from stored deadlines and flags:
///
///     None --openAuction--> Commit --(commit deadline)--> Reveal --(reveal deadline)--> Ended
///     Commit --cancelAuction--> Cancelled
///     Ended --finalize (>= 1 reveal)--> Finalized
///     Ended --finalize (no reveal)--> Failed
///     Ended --rescue (RESCUE_GRACE after the reveal deadline)--> Failed
interface IMigrationAuction is IPullPayments {
    /// @notice Lifecycle state of an auction.
    enum AuctionState {
        /// No such auction.
        None,
        /// Bids may be committed (before the commit deadline).
        Commit,
        /// Bids may be revealed (from the commit deadline, before the reveal deadline).
        Reveal,
        /// The reveal deadline has passed; waiting for {finalize}.
        Ended,
        /// The source cancelled during the commit phase; the deposit is back in its balance.
        Cancelled,
        /// Finalized without any revealed bid, or rescued because it could not be finalized; the deposit is back in the
        /// source's balance.
        Failed,
        /// Finalized with a winner; the deposit moved to the AllocationRegistry.
        Finalized
    }

    /// @notice State of one bidder in one auction.
    enum BidStatus {
        /// No commitment.
        None,
        /// Committed, not revealed (forfeits its bond if the reveal deadline passes).
        Committed,
        /// Revealed; the bond is refundable unless it is the best bid (the winner's: once its allocation settles).
        Revealed,
        /// The bond was paid back (revealed bid, or bid in a cancelled auction).
        Refunded,
        /// Never revealed, or won and not accepted: the bond was burned.
        Forfeited
    }

    /// @notice TCB capability a TVM requires from its destination platform. The source checks it against each
    /// acknowledging host's quote before issuing its admission ticket, and {revealBid} refuses a bidder whose
    /// registered platform summary does not meet it.
    /// @param minTeeTcbSvn Minimum TEE_TCB_SVN, compared component by component.
    /// @param minTdxModuleVersion Minimum TDX module version as `major << 8 | minor`.
    struct TcbRequirement {
        bytes16 minTeeTcbSvn;
        uint16 minTdxModuleVersion;
    }

    /// @notice What the source fixes when it opens an auction (the reserve price is `msg.value`).
    /// @param requestId Identifier of the migration request broadcast to the hosts.
    /// @param tvmId Identifier of the TVM to migrate: `bytes32(bytes20(origin)) | 96-bit random`, where `origin` is
    /// the host that created the TVM (the only one that may open the first auction for it).
    /// @param configHash Hash of the TVM configuration (TD config including its TCB capability).
    /// @param tcb TCB capability the TVM requires.
    /// @param commitDeadline Commits are accepted strictly before this timestamp.
    /// @param revealDeadline Reveals are accepted from `commitDeadline`, strictly before this timestamp.
    /// @param bond Wei each bidder posts with its commitment: a whole number of gwei, below 2^48 gwei.
    struct AuctionParams {
        bytes32 requestId;
        bytes32 tvmId;
        bytes32 configHash;
        TcbRequirement tcb;
        uint48 commitDeadline;
        uint48 revealDeadline;
        uint96 bond;
    }

    /// @notice Bounds on the terms a source may set, so that a bidder can always commit and reveal in time and never
    /// posts more than the market allows. Set at deploy and by the admin ({setAuctionLimits}); the minimum windows
    /// can never go below the floors fixed at deploy ({windowFloors}).
    /// @param minCommitWindow Least seconds from the opening block to the commit deadline.
    /// @param minRevealWindow Least seconds from the commit deadline to the reveal deadline.
    /// @param maxBond Largest bond, in wei (a bond is also at most the auction's reserve).
    struct AuctionLimits {
        uint32 minCommitWindow;
        uint32 minRevealWindow;
        uint96 maxBond;
    }

    /// @notice Everything known about an auction.
    /// @param state Lifecycle state at the time of the call.
    /// @param source The host that opened the auction and deposited the reserve.
    /// @param commitDeadline See {AuctionParams}.
    /// @param revealDeadline See {AuctionParams}.
    /// @param reserve Deposit and maximum price, in wei.
    /// @param bond Bond per bidder, in wei.
    /// @param revealCount Number of valid reveals.
    /// @param bestBidder Current lowest bidder (the winner once finalized), or zero.
    /// @param bestPrice Lowest revealed price (meaningful when `revealCount > 0`).
    /// @param secondPrice Second-lowest revealed price (meaningful when `revealCount > 1`).
    /// @param allocationId Allocation created by {finalize}, or 0.
    /// @param requestId See {AuctionParams}.
    /// @param tvmId See {AuctionParams}.
    /// @param configHash See {AuctionParams}.
    /// @param tcb See {AuctionParams}.
    struct AuctionInfo {
        AuctionState state;
        address source;
        uint48 commitDeadline;
        uint48 revealDeadline;
        uint96 reserve;
        uint96 bond;
        uint32 revealCount;
        address bestBidder;
        uint96 bestPrice;
        uint96 secondPrice;
        AllocationId allocationId;
        bytes32 requestId;
        bytes32 tvmId;
        bytes32 configHash;
        TcbRequirement tcb;
    }

    /// @notice One bidder's bid. While Committed only `commitment` is known (its low 248 bits are stored); once
    /// revealed only `price` and `capacity`.
    struct BidInfo {
        BidStatus status;
        bytes32 commitment;
        uint96 price;
        uint32 capacity;
    }

    /// @notice Emitted when `source` opens auction `auctionId` with `reserve` wei in escrow; hosts filter on
    /// `requestId` (repeated, with the TVM id, in `params`).
    event AuctionOpened(
        AuctionId indexed auctionId,
        bytes32 indexed requestId,
        bytes32 indexed tvmId,
        address source,
        uint96 reserve,
        AuctionParams params
    );

    /// @notice Emitted when the source cancels auction `auctionId` before any commit.
    event AuctionCancelled(AuctionId indexed auctionId);

    /// @notice Emitted when `bidder` commits to auction `auctionId` (the commitment is in the call data).
    event BidCommitted(AuctionId indexed auctionId, address indexed bidder);

    /// @notice Emitted when `bidder` reveals its bid in auction `auctionId`.
    event BidRevealed(AuctionId indexed auctionId, address indexed bidder, uint96 price, uint32 capacity);

    /// @notice Emitted when auction `auctionId` is finalized with a winner; `price` is what the winner will be paid.
    event AuctionFinalized(
        AuctionId indexed auctionId,
        address indexed winner,
        AllocationId indexed allocationId,
        uint96 winningBid,
        uint96 price
    );

    /// @notice Emitted when auction `auctionId` is finalized without any revealed bid, or without an eligible best bid
    /// (then after {AuctionWinnerIneligible}).
    event AuctionFailed(AuctionId indexed auctionId);

    /// @notice At finalize, the best bidder `bidder` of auction `auctionId` was no longer an active host meeting the
    /// TCB requirement (suspended, exiting, or its registered platform lowered since its reveal): it is not allocated,
    /// its bond of `bondBurned` wei is burned, and the auction fails.
    event AuctionWinnerIneligible(AuctionId indexed auctionId, address indexed bidder, uint96 bondBurned);

    /// @notice Auction `auctionId` could not be finalized within the rescue grace and was failed by `caller`; its
    /// reserve is credited back to the source.
    event AuctionRescued(AuctionId indexed auctionId, address indexed caller);

    /// @notice Emitted when the bond of `bidder`, who never revealed, is credited to the source.
    event BondForfeited(AuctionId indexed auctionId, address indexed bidder, uint96 amount);

    /// @notice Emitted when `bidder` takes back its bond for auction `auctionId`.
    event BondRefunded(AuctionId indexed auctionId, address indexed bidder, uint96 amount);

    /// @notice Emitted when `account` is credited `amount` wei withdrawable with {withdraw}.
    event BalanceCredited(address indexed account, AuctionId indexed auctionId, uint256 amount);

    /// @notice Emitted when the admin changes the bounds on auction terms (and once at deployment).
    event AuctionLimitsChanged(AuctionLimits previous, AuctionLimits current);

    /// @notice Auction `auctionId` is in state `current`, the operation needs `expected`.
    error MigrationAuctionUnexpectedState(AuctionId auctionId, AuctionState current, AuctionState expected);

    /// @notice The deadlines are not `now < commitDeadline < revealDeadline`.
    error MigrationAuctionInvalidDeadlines(uint48 commitDeadline, uint48 revealDeadline, uint256 now);

    /// @notice The commit phase would last `window` seconds from the opening block, less than `minimum`.
    error MigrationAuctionCommitWindowTooShort(uint256 window, uint32 minimum);

    /// @notice The reveal phase would last `window` seconds, less than `minimum`.
    error MigrationAuctionRevealWindowTooShort(uint256 window, uint32 minimum);

    /// @notice The bond `bond` exceeds the auction's reserve `reserve`.
    error MigrationAuctionBondAboveReserve(uint96 bond, uint256 reserve);

    /// @notice The bond `bond` exceeds the admin's cap `cap`.
    error MigrationAuctionBondAboveCap(uint96 bond, uint96 cap);

    /// @notice The limits would put a minimum window below its floor (`commitFloor`, `revealFloor`, fixed at
    /// deploy) or above {MAX_WINDOW_MINIMUM} `ceiling`, or a floor is zero.
    error MigrationAuctionInvalidLimits(
        uint32 minCommitWindow, uint32 minRevealWindow, uint32 commitFloor, uint32 revealFloor, uint32 ceiling
    );

    /// @notice The deposited reserve `reserve` is zero or does not fit in 96 bits.
    error MigrationAuctionInvalidReserve(uint256 reserve);

    /// @notice TVM `tvmId` already has a live auction `auctionId`.
    error MigrationAuctionTvmInAuction(bytes32 tvmId, AuctionId auctionId);

    /// @notice TVM `tvmId` already has a live (unsettled) allocation `allocationId`.
    error MigrationAuctionTvmAllocationLive(bytes32 tvmId, AllocationId allocationId);

    /// @notice TVM `tvmId` is placed on `holder`; only it may open an auction for the TVM.
    error MigrationAuctionNotTvmHolder(bytes32 tvmId, address caller, address holder);

    /// @notice TVM `tvmId` has never been placed and `caller` is not its origin (the address in its high 20 bytes),
    /// the only host that may open its first auction.
    error MigrationAuctionNotTvmOrigin(bytes32 tvmId, address caller);

    /// @notice `caller` is not the source `source` of auction `auctionId`.
    error MigrationAuctionNotSource(AuctionId auctionId, address caller, address source);

    /// @notice The bond is not a whole number of gwei below 2^48 gwei.
    error MigrationAuctionInvalidBond(uint96 bond);

    /// @notice The value sent with a commitment is not the bond.
    error MigrationAuctionWrongBond(AuctionId auctionId, uint256 sent, uint96 bond);

    /// @notice The admission ticket presented by `host` was signed by `signer`, not by the source.
    error MigrationAuctionInvalidTicket(AuctionId auctionId, address host, address signer);

    /// @notice `host` is not an active host of the HostRegistry.
    error MigrationAuctionHostNotActive(AuctionId auctionId, address host);

    /// @notice The source may not bid in its own auction.
    error MigrationAuctionSourceCannotBid(AuctionId auctionId, address source);

    /// @notice The bid of `bidder` is in status `current`, the operation needs `expected`.
    error MigrationAuctionUnexpectedBidStatus(
        AuctionId auctionId, address bidder, BidStatus current, BidStatus expected
    );

    /// @notice The revealed values do not hash to the commitment of `bidder`.
    error MigrationAuctionCommitmentMismatch(AuctionId auctionId, address bidder);

    /// @notice The revealed price exceeds the reserve.
    error MigrationAuctionPriceAboveReserve(AuctionId auctionId, uint96 price, uint96 reserve);

    /// @notice The revealed capacity is zero: a host without room cannot take the TVM.
    error MigrationAuctionZeroCapacity(AuctionId auctionId, address bidder);

    /// @notice The bidder's registered platform does not meet the TVM's TCB requirement: at commit, before any bond is
    /// posted; at reveal, only when the bidder changed its registered platform since its commit (its bond is then
    /// forfeited and burned).
    error MigrationAuctionTcbBelowRequirement(
        AuctionId auctionId, address bidder, bytes16 teeTcbSvn, uint16 tdxModuleVersion
    );

    /// @notice Auction `auctionId` may be rescued only from `rescueAt` (its reveal deadline plus the rescue grace).
    error MigrationAuctionRescueTooEarly(AuctionId auctionId, uint256 rescueAt, uint256 now);

    /// @notice The bond of `winner`, the winner of auction `auctionId`, is not refundable: allocation `allocationId`
    /// is still Allocated (held until it settles), or Aborted without the winner's acceptance (it is to be burned,
    /// {forfeitBond}).
    error MigrationAuctionBondHeld(
        AuctionId auctionId,
        address winner,
        AllocationId allocationId,
        IAllocationRegistry.AllocationState allocationState
    );


    /// @notice Opens an auction for one TVM; `msg.value` is the reserve price, held in escrow. The caller must be
    /// the TVM's current placement ({MigrationAuctionNotTvmHolder}) or, for a TVM never placed, its origin
    /// `address(bytes20(tvmId))` ({MigrationAuctionNotTvmOrigin}). The terms must keep within {auctionLimits}: a
    /// commit phase of at least `minCommitWindow` seconds from this block, a reveal phase of at least
    /// `minRevealWindow` seconds, and a bond at most the reserve and at most `maxBond`.
    /// @return auctionId The new auction's id.
    function openAuction(AuctionParams calldata params) external payable returns (AuctionId auctionId);

    /// @notice Cancels auction `auctionId` (source only, state Commit); credits the deposit back to the source and
    /// makes the bonds of any commitments refundable.
    function cancelAuction(AuctionId auctionId) external;

    /// @notice Commits a sealed bid with the bond as `msg.value`, presenting the source's admission ticket as an
    /// EIP-2098 compact signature `(ticketR, ticketVs)`. `msg.sender` must be an active host whose registered
    /// platform meets the TVM's TCB requirement ({MigrationAuctionHostNotActive},
    /// {MigrationAuctionTcbBelowRequirement}): every standing {revealBid} checks is checked here first, so a bidder
    /// never posts a bond on terms it could not reveal under.
    /// @param commitment `keccak256(abi.encode(block.chainid, address(this), auctionId, msg.sender, price, capacity,
    /// salt))`, see {bidCommitment}.
    function commitBid(AuctionId auctionId, bytes32 commitment, bytes32 ticketR, bytes32 ticketVs) external payable;

    /// @notice Reveals the bid of `msg.sender`.
    function revealBid(AuctionId auctionId, uint96 price, uint32 capacity, bytes32 salt) external;

    /// @notice Settles auction `auctionId` after its reveal deadline (anyone may call). With a winner, moves the
    /// deposit to the AllocationRegistry, which emits `Allocated`; otherwise marks it Failed and credits the source.
    /// The best bidder must still be an active host meeting the TCB requirement: one that is not any more is not
    /// allocated, its bond is burned and the auction fails ({AuctionWinnerIneligible}). An allocated winner's stake is
    /// locked in the HostRegistry for twice the confirmation timeout ({IHostRegistry-lockStake}), the longest the
    /// allocation can be live before either party may settle it alone.
    /// @return allocationId The allocation created, or 0 when the auction failed.
    function finalize(AuctionId auctionId) external returns (AllocationId allocationId);

    /// @notice Pays `msg.sender` back its bond for auction `auctionId`: a revealed bid that is not the best revealed
    /// bid, at any time; the best revealed bid once the auction Failed ({MigrationAuctionUnexpectedState} before it is
    /// Finalized), and as the winner's bond once its allocation is Committed, or Aborted after the winner accepted it
    /// ({MigrationAuctionBondHeld} otherwise); or a committed bid of a cancelled auction.
    function withdrawBond(AuctionId auctionId) external;

    /// @notice Burns the bond of `bidder` (anyone may call): a bidder who committed to auction `auctionId` and did not
    /// reveal before the reveal deadline, or its winner whose allocation was aborted without its acceptance. It is sent
    /// to the contract's BURN_ADDRESS, never to the source.
    function forfeitBond(AuctionId auctionId, address bidder) external;

    /// @notice Fails auction `auctionId`, which ended and was not finalized within the rescue grace after its reveal
    /// deadline (anyone may call): for an auction the AllocationRegistry will not allocate (its allocator role
    /// revoked, paused). Credits the reserve back to the source and frees the TVM for a new auction; revealed bonds
    /// stay refundable, unrevealed ones forfeitable.
    function rescue(AuctionId auctionId) external;

    /// @notice Stops the opening of auctions (PAUSER_ROLE); open auctions run to their end, and everything that
    /// settles or returns money goes on.
    function pause() external;

    /// @notice Lifts the stop (PAUSER_ROLE).
    function unpause() external;

    /// @notice Lifecycle state of auction `auctionId`.
    function state(AuctionId auctionId) external view returns (AuctionState);

    /// @notice Everything known about auction `auctionId`.
    function auctionInfo(AuctionId auctionId) external view returns (AuctionInfo memory);

    /// @notice The bid of `bidder` in auction `auctionId`.
    function bidInfo(AuctionId auctionId, address bidder) external view returns (BidInfo memory);

    /// @notice The live (not yet settled) auction of TVM `tvmId`, or 0.
    function liveAuctionOf(bytes32 tvmId) external view returns (AuctionId);


    /// @notice Number of auctions opened so far (the last id).
    function auctionCount() external view returns (uint64);

    /// @notice The commitment a bidder must submit: it binds this chain's id and this contract's address, so that
    /// a commitment or a reveal replayed from another deployment (where the same auction id is another auction)
    /// never matches.
    function bidCommitment(AuctionId auctionId, address bidder, uint96 price, uint32 capacity, bytes32 salt)
        external
        view
        returns (bytes32);

    /// @notice The EIP-712 digest the source signs to admit `host` to auction `auctionId`.
    function admissionTicketDigest(AuctionId auctionId, address host) external view returns (bytes32);

    /// @notice Sets the bounds on auction terms (DEFAULT_ADMIN_ROLE). The minimum windows must be at least the
    /// floors ({windowFloors}) and at most {MAX_WINDOW_MINIMUM}; they apply to auctions opened afterwards.
    function setAuctionLimits(AuctionLimits calldata limits) external;

    /// @notice The bounds on auction terms in force.
    function auctionLimits() external view returns (AuctionLimits memory);

    /// @notice The least values the minimum windows may ever take, fixed at deploy.
    function windowFloors() external view returns (uint32 commitFloor, uint32 revealFloor);

    /// @notice The HostRegistry consulted at commit.
    function hostRegistry() external view returns (address);

    /// @notice The AllocationRegistry that receives the allocations.
    function allocationRegistry() external view returns (address);
}
