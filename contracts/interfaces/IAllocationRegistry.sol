// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {AllocationId, AuctionId} from "../types/Ids.sol";
import {IPullPayments} from "./IPullPayments.sol";

/// @title IAllocationRegistry
/// @notice The record of where each TVM runs. The auction contract (ALLOCATOR_ROLE) allocates a TVM to the winner
/// of its auction, forwarding the source's deposit; the `Allocated` event starts the live migration. The
/// destination then confirms the completed migration with the digest of the TVM state, countersigned by the source
/// (EIP-712 `MigrationReceipt(uint64 allocationId,bytes32 tvmId,bytes32 stateDigest)`: the hand-over the source signs
/// at the end of its blackout, before the destination commits the import), or either side aborts it with a reason
/// code: the destination at any time; the source alone only once the confirmation timeout has passed, and then in two
/// steps: its abort opens a dispute window (one more confirmation timeout) during which the destination may still
/// confirm with the hand-over, after which anyone settles the abort ({settleAbort}). A source that withheld its
/// receipt after the TVM left it can thus never abort over a destination that holds the hand-over.
/// Committed moves the TVM's placement to the destination, pays it the price and returns the rest of the deposit
/// to the source; Aborted returns the whole deposit to the source. A TVM never has two live allocations.
///
/// Acceptance: the winner states on-chain that it takes the allocation up ({acceptAllocation}) within the first
/// {ACCEPTANCE_SHARE}-th of the confirmation timeout. It is the winner's own act, so its absence is a fault the chain
/// can attribute: an allocation not accepted by then may be aborted by the source at once (no dispute window: a
/// destination commits an import only after its acceptance is mined), and the winner's bond, which the auction holds
/// until the allocation settles, is burned ({settlementOf} tells the auction which). A winner that accepted gets its
/// bond back however the allocation ends, since what happens during the stream is not visible on-chain.
///
/// The winner also records the allocation on its own chain, where the same registry is deployed:
/// {recordMirror} (MIRROR_RECORDER_ROLE, or the destination itself when it is an active host of that chain). A
/// mirror record is keyed by `(sourceChainId, sourceAllocationId, destination)`: a host can only write under its
/// own address, so nobody can take the key of another destination's record. A record of this very chain is
/// refused (the allocation itself is here). What a mirror record proves: that the recorder (the destination, or a
/// recorder the admin trusts) stated, at `recordedAt`, that allocation `sourceAllocationId` of chain
/// `sourceChainId` allocated `tvmId` to `destination` and settled with `outcome` (Committed: the TVM moved there;
/// Aborted: it stayed on the source). It does not prove that the allocation exists on that chain,
/// nor its state there: this chain cannot read the other; check the source chain (`sourceTxHash`) for that.
/// @dev Lifecycle (stored): None --allocate--> Allocated --confirmMigration--> Committed
///                                                      \--abortMigration (destination)--> Aborted
///                                                      \--abortMigration (source, not accepted in time)--> Aborted
///                                                      \--abortMigration (source, after the deadline): requested
///                                                          (still Allocated: confirmMigration wins)
///                                                          --settleAbort--> Aborted
interface IAllocationRegistry is IPullPayments {
    /// @notice Lifecycle state of an allocation.
    enum AllocationState {
        /// No such allocation.
        None,
        /// Allocated: the migration is under way.
        Allocated,
        /// The migration completed; the TVM runs on the destination.
        Committed,
        /// The migration was aborted; the TVM stays on the source.
        Aborted
    }

    /// @notice Everything known about an allocation.
    /// @param id Allocation id.
    /// @param auctionId Auction that produced it.
    /// @param state Lifecycle state.
    /// @param source Host the TVM leaves.
    /// @param destination Host the TVM goes to (the auction's winner).
    /// @param price Wei paid to the destination on commit.
    /// @param deposit Wei held in escrow (the auction's reserve, at least `price`).
    /// @param allocatedAt Timestamp of the allocation.
    /// @param confirmDeadline After this timestamp the source may abort alone.
    /// @param settledAt Timestamp of the commit or abort (0 while Allocated).
    /// @param abortReason Reason code given with the abort (0 otherwise).
    /// @param tvmId TVM identifier.
    /// @param configHash Hash of the TVM configuration.
    /// @param stateDigest Digest of the TVM state at commit (0 otherwise).
    /// @param abortSettleAt 0 unless the source requested an abort alone: the timestamp from which anyone may settle
    /// it ({settleAbort}); until then the destination may still confirm.
    /// @param accepted Whether the destination accepted the allocation ({acceptAllocation}).
    /// @param acceptDeadline From this timestamp the source may abort an allocation that was not accepted.
    // solhint-disable-next-line gas-struct-packing
    struct Allocation {
        AllocationId id;
        AuctionId auctionId;
        AllocationState state;
        address source;
        address destination;
        uint96 price;
        uint96 deposit;
        uint48 allocatedAt;
        uint48 confirmDeadline;
        uint48 settledAt;
        uint32 abortReason;
        bytes32 tvmId;
        bytes32 configHash;
        bytes32 stateDigest;
        uint48 abortSettleAt;
        bool accepted;
        uint48 acceptDeadline;
    }

    /// @notice An allocation decided on another chain, recorded on the destination's chain.
    /// @param sourceChainId Chain id of the chain that ran the auction.
    /// @param sourceAllocationId Allocation id on that chain.
    /// @param sourceTxHash Hash of the transaction that emitted `Allocated` there.
    /// @param tvmId TVM identifier.
    /// @param source Host the TVM leaves.
    /// @param destination Host the TVM goes to.
    /// @param price Price of the allocation, in wei of the source chain.
    /// @param configHash Hash of the TVM configuration.
    /// @param outcome How the allocation settled on the source chain: Committed (the TVM runs on the destination) or
    /// Aborted (it stayed on the source). The destination records both, so that its chain's audit trail is complete.
    struct MirrorRecord {
        uint256 sourceChainId;
        AllocationId sourceAllocationId;
        bytes32 sourceTxHash;
        bytes32 tvmId;
        address source;
        address destination;
        uint96 price;
        bytes32 configHash;
        AllocationState outcome;
    }

    /// @notice A stored mirror record with who recorded it and when.
    struct MirroredAllocation {
        MirrorRecord record;
        address recordedBy;
        uint48 recordedAt;
    }

    /// @notice Emitted when TVM `tvmId` is allocated to `destination` by auction `auctionId`: this event starts the
    /// live migration from `source`.
    event Allocated(
        bytes32 indexed tvmId,
        AuctionId indexed auctionId,
        address source,
        address indexed destination,
        uint96 price,
        bytes32 configHash,
        AllocationId allocationId
    );

    /// @notice Emitted when the destination of allocation `allocationId` accepts it.
    event AllocationAccepted(AllocationId indexed allocationId, address indexed destination);

    /// @notice Emitted when the migration of allocation `allocationId` is committed on the destination.
    event MigrationCommitted(
        AllocationId indexed allocationId, bytes32 indexed tvmId, address indexed destination, bytes32 stateDigest
    );

    /// @notice Emitted when the migration of allocation `allocationId` is aborted by `abortedBy`.
    event MigrationAborted(
        AllocationId indexed allocationId, bytes32 indexed tvmId, address indexed abortedBy, uint32 reason
    );

    /// @notice Emitted when the source of allocation `allocationId` asks to abort it alone (after the confirmation
    /// deadline): the destination may still confirm until `settleAt`, after which anyone may settle the abort.
    event MigrationAbortRequested(
        AllocationId indexed allocationId, bytes32 indexed tvmId, uint32 reason, uint48 settleAt
    );

    /// @notice Emitted when an allocation of another chain is recorded here.
    event AllocationMirrored(
        bytes32 indexed tvmId,
        uint256 indexed sourceChainId,
        address indexed destination,
        AllocationId sourceAllocationId,
        bytes32 sourceTxHash,
        address source,
        uint96 price,
        bytes32 configHash,
        AllocationState outcome,
        address recordedBy
    );

    /// @notice Emitted when `account` is credited `amount` wei by the settlement of allocation `allocationId`.
    event BalanceCredited(address indexed account, AllocationId indexed allocationId, uint256 amount);

    /// @notice Emitted when the confirmation timeout changes.
    event ConfirmationTimeoutChanged(uint48 previous, uint48 current);

    /// @notice Allocation `allocationId` is in state `current`, the operation needs `expected`.
    error AllocationRegistryUnexpectedState(
        AllocationId allocationId, AllocationState current, AllocationState expected
    );

    /// @notice TVM `tvmId` already has the live allocation `allocationId`.
    error AllocationRegistryTvmAlreadyAllocated(bytes32 tvmId, AllocationId allocationId);

    /// @notice The deposit `deposit` is below the price `price`, or does not fit in 96 bits.
    error AllocationRegistryInvalidDeposit(uint256 deposit, uint96 price);

    /// @notice The source or the destination is the zero address, or they are equal.
    error AllocationRegistryInvalidParties(address source, address destination);

    /// @notice `caller` is not the destination `destination` of allocation `allocationId`.
    error AllocationRegistryNotDestination(AllocationId allocationId, address caller, address destination);

    /// @notice `caller` is neither the source nor the destination of allocation `allocationId`.
    error AllocationRegistryNotParticipant(AllocationId allocationId, address caller);

    /// @notice The source may abort alone only after `confirmDeadline`.
    error AllocationRegistryConfirmationPending(AllocationId allocationId, uint48 confirmDeadline, uint256 now);

    /// @notice The destination already accepted allocation `allocationId`.
    error AllocationRegistryAlreadyAccepted(AllocationId allocationId);

    /// @notice The source may abort an allocation its destination has not accepted only from `acceptDeadline`.
    error AllocationRegistryAcceptancePending(AllocationId allocationId, uint48 acceptDeadline, uint256 now);

    /// @notice The source already asked to abort allocation `allocationId`; the abort may be settled from `settleAt`.
    error AllocationRegistryAbortAlreadyRequested(AllocationId allocationId, uint48 settleAt);

    /// @notice Nobody asked to abort allocation `allocationId` alone: there is no abort to settle.
    error AllocationRegistryNoAbortRequested(AllocationId allocationId);

    /// @notice The dispute window of the source's abort of allocation `allocationId` is open until `settleAt`: the
    /// destination may still confirm.
    error AllocationRegistryAbortDisputeOpen(AllocationId allocationId, uint48 settleAt, uint256 now);

    /// @notice The receipt was signed by `signer`, not by the source `source`.
    error AllocationRegistryInvalidReceipt(AllocationId allocationId, address signer, address source);

    /// @notice The state digest is zero.
    error AllocationRegistryZeroStateDigest(AllocationId allocationId);

    /// @notice Allocation `sourceAllocationId` of chain `sourceChainId` is already mirrored here for `destination`
    /// (by the destination itself, or by a recorder and the caller is not the destination).
    error AllocationRegistryMirrorExists(uint256 sourceChainId, AllocationId sourceAllocationId, address destination);

    /// @notice A mirror names this chain (`chainId`) as its source: the allocation itself is recorded here.
    error AllocationRegistryMirrorOfThisChain(uint256 chainId);

    /// @notice `caller` may not record mirrors (needs MIRROR_RECORDER_ROLE, or be the record's destination and an
    /// active host here).
    error AllocationRegistryMirrorUnauthorized(address caller);

    /// @notice The mirror record is incomplete (zero chain id, allocation id, TVM id or parties) or names no settled
    /// outcome (Committed or Aborted).
    error AllocationRegistryInvalidMirror(uint256 sourceChainId, AllocationId sourceAllocationId);

    /// @notice The confirmation timeout must be between 1 second and `maxTimeout`.
    error AllocationRegistryInvalidTimeout(uint48 timeout, uint48 maxTimeout);


    /// @notice Only the deployer (`binder`) may bind the allocator.
    error AllocationRegistryNotBinder(address caller, address binder);

    /// @notice The allocator was bound already: {bindAllocator} works once.
    error AllocationRegistryAllocatorBound();

    /// @notice {bindAllocator} needs an allocator address.
    error AllocationRegistryZeroAllocator();

    /// @notice `source` may not offer TVM `tvmId`: it is neither the TVM's current placement (`holder`) nor, for a TVM
    /// never placed (`holder` zero), its origin `address(bytes20(tvmId))`.
    error AllocationRegistryNotTvmHolder(bytes32 tvmId, address source, address holder);

    /// @notice Grants ALLOCATOR_ROLE to `allocator` (the suite's MigrationAuction): callable once, by the deployer,
    /// which holds no role. It exists because the auction is deployed after the registry it names.
    function bindAllocator(address allocator) external;

    /// @notice Allocates TVM `tvmId` to `destination` (ALLOCATOR_ROLE); `msg.value` is the escrowed deposit. `source`
    /// must be the TVM's current placement or, for a TVM never placed, its origin ({AllocationRegistryNotTvmHolder}):
    /// an allocator can start a migration only from where the TVM runs, and the placement moves only when that
    /// source signs the receipt ({confirmMigration}).
    /// @return allocationId The new allocation's id.
    function allocate(
        bytes32 tvmId,
        AuctionId auctionId,
        address source,
        address destination,
        uint96 price,
        bytes32 configHash
    ) external payable returns (AllocationId allocationId);

    /// @notice The destination takes allocation `allocationId` up (destination only, while Allocated, once). Sent as
    /// soon as the destination sees `Allocated`, before it commits the import: see the acceptance rule above.
    function acceptAllocation(AllocationId allocationId) external;

    /// @notice Confirms the completed migration (destination only), with the source's EIP-712 signature over
    /// `MigrationReceipt(allocationId, tvmId, stateDigest)` (the hand-over the source gave before the destination
    /// committed the import): an ECDSA signature of the source's key, or, for a contract-wallet source, any signature
    /// its ERC-1271 `isValidSignature` accepts. Accepted while the allocation is Allocated, also while a source's
    /// abort request is pending: a confirmation backed by the hand-over always wins over the source's lone abort.
    function confirmMigration(AllocationId allocationId, bytes32 stateDigest, bytes calldata sourceSignature)
        external;

    /// @notice Aborts the migration with a reason code. The destination: at once, at any time while Allocated. The
    /// source: at once from the acceptance deadline when the destination has not accepted; otherwise only from the
    /// confirmation deadline, and then it only requests the abort (event {MigrationAbortRequested}): the allocation
    /// stays Allocated for a dispute window as long as the confirmation timeout, during which the destination may
    /// still confirm with the source's hand-over, and {settleAbort} ends it afterwards.
    function abortMigration(AllocationId allocationId, uint32 reason) external;

    /// @notice Settles the abort the source requested (anyone may call it), once its dispute window is over: the
    /// allocation becomes Aborted with the source's reason and the whole deposit is credited to the source.
    function settleAbort(AllocationId allocationId) external;

    /// @notice Records an allocation of another chain (see {MirrorRecord}) under the key
    /// `(sourceChainId, sourceAllocationId, destination)`. Stored once, except that the destination itself may
    /// replace a record a MIRROR_RECORDER_ROLE holder made for it (its own record is final).
    function recordMirror(MirrorRecord calldata record) external;

    /// @notice Stops new allocations and mirror records (PAUSER_ROLE); confirmations, aborts and withdrawals go on.
    function pause() external;

    /// @notice Lifts the stop (PAUSER_ROLE).
    function unpause() external;

    /// @notice Sets the confirmation timeout (DEFAULT_ADMIN_ROLE); applies to later allocations.
    function setConfirmationTimeout(uint48 newTimeout) external;

    /// @notice Lifecycle state of allocation `allocationId` and whether its destination accepted it: what the auction
    /// needs to settle the winner's bond (refunded when Committed, or Aborted after an acceptance; burned when Aborted
    /// without one; held while Allocated).
    function settlementOf(AllocationId allocationId) external view returns (AllocationState, bool accepted);

    /// @notice Lifecycle state of allocation `allocationId`.
    function state(AllocationId allocationId) external view returns (AllocationState);

    /// @notice Everything known about allocation `allocationId` (state None and zero fields if unknown).
    function allocation(AllocationId allocationId) external view returns (Allocation memory);

    /// @notice The host TVM `tvmId` runs on according to its last committed allocation (zero if never placed), and
    /// that allocation's id.
    function currentPlacement(bytes32 tvmId) external view returns (address host, AllocationId allocationId);

    /// @notice The live (Allocated) allocation of TVM `tvmId`, or 0.
    function liveAllocation(bytes32 tvmId) external view returns (AllocationId);

    /// @notice Number of allocations ever made for TVM `tvmId`.
    function historyLength(bytes32 tvmId) external view returns (uint256);

    /// @notice Up to `limit` allocations of TVM `tvmId`, oldest first, starting at index `offset`.
    function allocationHistory(bytes32 tvmId, uint256 offset, uint256 limit)
        external
        view
        returns (Allocation[] memory page);

    /// @notice The mirror of allocation `sourceAllocationId` of chain `sourceChainId` naming `destination` (zero
    /// record if none).
    function mirroredAllocation(uint256 sourceChainId, AllocationId sourceAllocationId, address destination)
        external
        view
        returns (MirroredAllocation memory);


    /// @notice Seconds after allocation during which only the destination may abort.
    function confirmationTimeout() external view returns (uint48);

    /// @notice Number of allocations made so far (the last id).
    function allocationCount() external view returns (uint64);

    /// @notice The EIP-712 digest the source signs to countersign the state digest of allocation `allocationId`.
    function receiptDigest(AllocationId allocationId, bytes32 stateDigest) external view returns (bytes32);

    /// @notice The HostRegistry of this chain (used to authorize mirror records by hosts).
    function hostRegistry() external view returns (address);
}
