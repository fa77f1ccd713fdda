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
import {ADMIN_TRANSFER_DELAY} from "./libraries/AdminRules.sol";
import {PullPayments} from "./libraries/PullPayments.sol";
import {AllocationId, AuctionId} from "./types/Ids.sol";

/// @title AllocationRegistry
/// @notice Where each TVM runs, and the escrow of the migrations under way. See {IAllocationRegistry}.
/// @dev Accounting: the contract holds exactly the deposits of Allocated allocations plus the credited balances.
/// A deposit leaves its allocation once (Committed: price to the destination, the rest to the source; Aborted:
/// all to the source) and a balance is zeroed before it is paid.
///
/// Emergency stop: while paused (PAUSER_ROLE) no allocation is made and no mirror recorded; migrations under way still
/// confirm or abort and every balance can be withdrawn, so the stop holds nobody's money. An auction that cannot
/// allocate meanwhile is rescued by its own contract after a grace period (see MigrationAuction).
contract AllocationRegistry is IAllocationRegistry, PullPayments, AccessControlDefaultAdminRules, Pausable, EIP712 {
    /// @notice Role of the auction contract: the only caller of {allocate}. The deployer grants it once, with
    /// {bindAllocator}; later the admin may grant or revoke it (an auction whose role it revokes is rescued, see
    /// MigrationAuction).
    bytes32 public constant ALLOCATOR_ROLE = keccak256("ALLOCATOR_ROLE");

    /// @notice Role allowed to record allocations of other chains.
    bytes32 public constant MIRROR_RECORDER_ROLE = keccak256("MIRROR_RECORDER_ROLE");

    /// @notice Role allowed to pause and unpause new allocations and mirror records.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @notice EIP-712 type of the source's countersignature of the migrated state.
    bytes32 public constant RECEIPT_TYPEHASH =
        keccak256("MigrationReceipt(uint64 allocationId,bytes32 tvmId,bytes32 stateDigest)");

    /// @notice Longest accepted confirmation timeout (30 days).
    uint48 public constant MAX_CONFIRMATION_TIMEOUT = 30 days;

    /// @notice The winner must accept within the first 1/ACCEPTANCE_SHARE of the confirmation timeout: long enough for
    /// one transaction to be mined on a congested chain (15 minutes of the production hour), short enough that a
    /// winner that never shows up blocks the TVM for a quarter of the timeout, not all of it.
    uint48 public constant ACCEPTANCE_SHARE = 4;

    /// @notice Most allocations returned by one {allocationHistory} page.
    uint256 public constant MAX_PAGE_SIZE = 100;

    /// @dev One allocation, six slots, and a seventh only on the rare path of a source's lone abort.
    /// slot 0: source 20 + auctionId 8 + abortReason 4 = 32 bytes
    /// slot 1: destination 20 + price 12 = 32 bytes
    /// slot 2: deposit 12 + allocatedAt 6 + confirmDeadline 6 + settledAt 6 + state 1 + accepted 1 = 32 bytes (what
    /// {acceptAllocation}, {settlementOf} and the source's abort read, in one slot)
    /// slots 3-5: tvmId, configHash, stateDigest
    /// slot 6: abortSettleAt 6 (written by a source's abort request only: neither confirmMigration nor the
    /// destination's abort reads it, so the happy path costs what it did).
    // solhint-disable-next-line gas-struct-packing
    struct AllocationRecord {
        address source;
        AuctionId auctionId;
        uint32 abortReason;
        address destination;
        uint96 price;
        uint96 deposit;
        uint48 allocatedAt;
        uint48 confirmDeadline;
        uint48 settledAt;
        AllocationState state;
        bool accepted;
        bytes32 tvmId;
        bytes32 configHash;
        bytes32 stateDigest;
        uint48 abortSettleAt;
    }

    /// @dev Per TVM: current host 20 + its allocation 8 + live allocation 8 = 36 bytes, two slots.
    struct TvmRecord {
        address host;
        AllocationId placement;
        AllocationId live;
    }

    IHostRegistry private immutable _hostRegistry;

    /// @dev The deployer: it may call {bindAllocator} once, and holds no role.
    address private immutable _binder;

    uint48 private _confirmationTimeout;
    uint64 private _allocationCount;
    bool private _allocatorBound;
    mapping(AllocationId allocationId => AllocationRecord) private _allocations;
    mapping(bytes32 tvmId => TvmRecord) private _tvms;
    mapping(bytes32 tvmId => AllocationId[]) private _history;
    /// @dev Keyed by destination as well: a host writes only under its own address, so it cannot squat the key
    /// of another destination's record.
    mapping(
        uint256 sourceChainId
            => mapping(AllocationId sourceAllocationId => mapping(address destination => MirroredAllocation))
    ) private _mirrors;

    /// @param admin Receives DEFAULT_ADMIN_ROLE (transferred in two steps, see {ADMIN_TRANSFER_DELAY}) and
    /// PAUSER_ROLE. The deployer receives no role: it wires the auction with {bindAllocator}.
    /// @param hostRegistry_ HostRegistry of this chain, whose active hosts may record their own mirrors.
    /// @param confirmationTimeout_ Seconds after allocation before the source may abort alone.
    /// @param mirrorRecorders Accounts given MIRROR_RECORDER_ROLE.
    constructor(
        address admin,
        IHostRegistry hostRegistry_,
        uint48 confirmationTimeout_,
        address[] memory mirrorRecorders
    ) AccessControlDefaultAdminRules(ADMIN_TRANSFER_DELAY, admin) EIP712("AllocationRegistry", "1") {
        _grantRole(PAUSER_ROLE, admin);
        for (uint256 i = 0; i < mirrorRecorders.length; ++i) {
            _grantRole(MIRROR_RECORDER_ROLE, mirrorRecorders[i]);
        }
        _binder = msg.sender;
        _hostRegistry = hostRegistry_;
        _setConfirmationTimeout(confirmationTimeout_);
    }

    /// @inheritdoc IAllocationRegistry
    function bindAllocator(address allocator) external {
        if (msg.sender != _binder) revert AllocationRegistryNotBinder(msg.sender, _binder);
        if (_allocatorBound) revert AllocationRegistryAllocatorBound();
        if (allocator == address(0)) revert AllocationRegistryZeroAllocator();
        _allocatorBound = true;
        _grantRole(ALLOCATOR_ROLE, allocator);
    }

    /// @inheritdoc IAllocationRegistry
    function allocate(
        bytes32 tvmId,
        AuctionId auctionId,
        address source,
        address destination,
        uint96 price,
        bytes32 configHash
    ) external payable onlyRole(ALLOCATOR_ROLE) whenNotPaused returns (AllocationId allocationId) {
        if (source == address(0) || destination == address(0) || source == destination) {
            revert AllocationRegistryInvalidParties(source, destination);
        }
        if (msg.value < price || msg.value > type(uint96).max) {
            revert AllocationRegistryInvalidDeposit(msg.value, price);
        }
        TvmRecord storage tvm = _tvms[tvmId];
        if (AllocationId.unwrap(tvm.live) != 0) revert AllocationRegistryTvmAlreadyAllocated(tvmId, tvm.live);
        // Checked here, not only by the auction at opening, so that no holder of the allocator role (a second
        // auction contract, an admin that granted itself the role) can start a migration from a host the TVM does
        // not run on.
        address holder = tvm.host;
        if (holder == address(0) ? address(bytes20(tvmId)) != source : holder != source) {
            revert AllocationRegistryNotTvmHolder(tvmId, source, holder);
        }

        unchecked {
            // 2^64 allocations are out of reach.
            allocationId = AllocationId.wrap(++_allocationCount);
        }
        AllocationRecord storage r = _allocations[allocationId];
        r.source = source;
        r.auctionId = auctionId;
        r.destination = destination;
        r.price = price;
        r.deposit = uint96(msg.value);
        r.allocatedAt = uint48(block.timestamp);
        r.confirmDeadline = uint48(block.timestamp) + _confirmationTimeout;
        r.state = AllocationState.Allocated;
        r.tvmId = tvmId;
        r.configHash = configHash;
        tvm.live = allocationId;
        _history[tvmId].push(allocationId);
        emit Allocated(tvmId, auctionId, source, destination, price, configHash, allocationId);
    }

    /// @inheritdoc IAllocationRegistry
    function acceptAllocation(AllocationId allocationId) external {
        AllocationRecord storage r = _requireAllocated(allocationId);
        address destination = r.destination;
        if (msg.sender != destination) revert AllocationRegistryNotDestination(allocationId, msg.sender, destination);
        if (r.accepted) revert AllocationRegistryAlreadyAccepted(allocationId);
        r.accepted = true;
        emit AllocationAccepted(allocationId, destination);
    }

    /// @inheritdoc IAllocationRegistry
    function confirmMigration(AllocationId allocationId, bytes32 stateDigest, bytes calldata sourceSignature)
        external
    {
        AllocationRecord storage r = _requireAllocated(allocationId);
        address destination = r.destination;
        if (msg.sender != destination) revert AllocationRegistryNotDestination(allocationId, msg.sender, destination);
        if (stateDigest == bytes32(0)) revert AllocationRegistryZeroStateDigest(allocationId);
        bytes32 tvmId = r.tvmId;
        address source = r.source;
        bytes32 digest = _receiptDigest(allocationId, tvmId, stateDigest);
        (address signer,,) = ECDSA.tryRecover(digest, sourceSignature);
        // A contract-wallet source (ERC-1271) is asked only when the signature is not the source's own key's.
        if (
            signer != source
                && (source.code.length == 0
                    || !SignatureChecker.isValidERC1271SignatureNow(source, digest, sourceSignature))
        ) revert AllocationRegistryInvalidReceipt(allocationId, signer, source);

        r.state = AllocationState.Committed;
        r.settledAt = uint48(block.timestamp);
        r.stateDigest = stateDigest;
        TvmRecord storage tvm = _tvms[tvmId];
        tvm.host = destination;
        tvm.placement = allocationId;
        tvm.live = AllocationId.wrap(0);
        emit MigrationCommitted(allocationId, tvmId, destination, stateDigest);
        uint96 price = r.price;
        if (price != 0) _credit(destination, allocationId, price);
        unchecked {
            // allocate() checked deposit >= price.
            uint96 change = r.deposit - price;
            if (change != 0) _credit(source, allocationId, change);
        }
    }

    /// @inheritdoc IAllocationRegistry
    function abortMigration(AllocationId allocationId, uint32 reason) external {
        AllocationRecord storage r = _requireAllocated(allocationId);
        if (msg.sender == r.destination) {
            _abort(r, allocationId, msg.sender, reason);
            return;
        }
        if (msg.sender != r.source) revert AllocationRegistryNotParticipant(allocationId, msg.sender);
        if (!r.accepted) {
            // The winner never took the allocation up: its own fault, visible here, and a destination commits only
            // after its acceptance is mined, so no TVM runs there. The source need not wait for the timeout.
            uint48 acceptDeadline = _acceptDeadline(r);
            if (block.timestamp < acceptDeadline) {
                revert AllocationRegistryAcceptancePending(allocationId, acceptDeadline, block.timestamp);
            }
            _abort(r, allocationId, msg.sender, reason);
            return;
        }
        uint48 confirmDeadline = r.confirmDeadline;
        if (block.timestamp < confirmDeadline) {
            revert AllocationRegistryConfirmationPending(allocationId, confirmDeadline, block.timestamp);
        }
        uint48 settleAt = r.abortSettleAt;
        if (settleAt != 0) revert AllocationRegistryAbortAlreadyRequested(allocationId, settleAt);
        // The source alone cannot tell the chain whether it handed the TVM over: the destination that holds its
        // hand-over gets one more confirmation timeout, from an event it can watch, to confirm. Only then may the
        // abort be settled.
        unchecked {
            // confirmDeadline = allocatedAt + timeout <= block.timestamp, and timestamps stay far below 2^48.
            settleAt = uint48(block.timestamp) + (confirmDeadline - r.allocatedAt);
        }
        r.abortSettleAt = settleAt;
        r.abortReason = reason;
        emit MigrationAbortRequested(allocationId, r.tvmId, reason, settleAt);
    }

    /// @inheritdoc IAllocationRegistry
    function settleAbort(AllocationId allocationId) external {
        AllocationRecord storage r = _requireAllocated(allocationId);
        uint48 settleAt = r.abortSettleAt;
        if (settleAt == 0) revert AllocationRegistryNoAbortRequested(allocationId);
        if (block.timestamp < settleAt) {
            revert AllocationRegistryAbortDisputeOpen(allocationId, settleAt, block.timestamp);
        }
        _abort(r, allocationId, r.source, r.abortReason);
    }

    /// @inheritdoc IAllocationRegistry
    function recordMirror(MirrorRecord calldata record) external whenNotPaused {
        address destination = record.destination;
        bool byDestination = msg.sender == destination;
        if (!hasRole(MIRROR_RECORDER_ROLE, msg.sender) && (!byDestination || !_hostRegistry.isActive(msg.sender))) {
            revert AllocationRegistryMirrorUnauthorized(msg.sender);
        }
        uint256 sourceChainId = record.sourceChainId;
        AllocationId sourceAllocationId = record.sourceAllocationId;
        if (
            sourceChainId == 0 || AllocationId.unwrap(sourceAllocationId) == 0 || record.tvmId == bytes32(0)
                || record.source == address(0) || destination == address(0)
                || (record.outcome != AllocationState.Committed && record.outcome != AllocationState.Aborted)
        ) revert AllocationRegistryInvalidMirror(sourceChainId, sourceAllocationId);
        if (sourceChainId == block.chainid) revert AllocationRegistryMirrorOfThisChain(sourceChainId);
        MirroredAllocation storage m = _mirrors[sourceChainId][sourceAllocationId][destination];
        // First writer wins within one destination's key, except that the destination may replace what a recorder
        // wrote for it; once it wrote its own record, the record is final.
        if (m.recordedAt != 0 && (!byDestination || m.recordedBy == destination)) {
            revert AllocationRegistryMirrorExists(sourceChainId, sourceAllocationId, destination);
        }

        m.record = record;
        m.recordedBy = msg.sender;
        m.recordedAt = uint48(block.timestamp);
        emit AllocationMirrored(
            record.tvmId,
            record.sourceChainId,
            record.destination,
            sourceAllocationId,
            record.sourceTxHash,
            record.source,
            record.price,
            record.configHash,
            record.outcome,
            msg.sender
        );
    }

    /// @inheritdoc IAllocationRegistry
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @inheritdoc IAllocationRegistry
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @inheritdoc IAllocationRegistry
    function setConfirmationTimeout(uint48 newTimeout) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setConfirmationTimeout(newTimeout);
    }

    /// @inheritdoc IAllocationRegistry
    function settlementOf(AllocationId allocationId) external view returns (AllocationState, bool accepted) {
        AllocationRecord storage r = _allocations[allocationId];
        return (r.state, r.accepted);
    }

    /// @inheritdoc IAllocationRegistry
    function state(AllocationId allocationId) external view returns (AllocationState) {
        return _allocations[allocationId].state;
    }

    /// @inheritdoc IAllocationRegistry
    function allocation(AllocationId allocationId) external view returns (Allocation memory) {
        return _toAllocation(allocationId);
    }

    /// @inheritdoc IAllocationRegistry
    function currentPlacement(bytes32 tvmId) external view returns (address host, AllocationId allocationId) {
        TvmRecord storage tvm = _tvms[tvmId];
        return (tvm.host, tvm.placement);
    }

    /// @inheritdoc IAllocationRegistry
    function liveAllocation(bytes32 tvmId) external view returns (AllocationId) {
        return _tvms[tvmId].live;
    }

    /// @inheritdoc IAllocationRegistry
    function historyLength(bytes32 tvmId) external view returns (uint256) {
        return _history[tvmId].length;
    }

    /// @inheritdoc IAllocationRegistry
    /// @dev At most {MAX_PAGE_SIZE} entries per page; an `offset` past the end gives an empty page.
    function allocationHistory(bytes32 tvmId, uint256 offset, uint256 limit)
        external
        view
        returns (Allocation[] memory page)
    {
        AllocationId[] storage ids = _history[tvmId];
        uint256 length = ids.length;
        if (offset >= length) return page;
        if (limit > MAX_PAGE_SIZE) limit = MAX_PAGE_SIZE;
        uint256 end = length - offset < limit ? length : offset + limit;
        page = new Allocation[](end - offset);
        for (uint256 i = offset; i < end; ++i) {
            page[i - offset] = _toAllocation(ids[i]);
        }
    }

    /// @inheritdoc IAllocationRegistry
    function mirroredAllocation(uint256 sourceChainId, AllocationId sourceAllocationId, address destination)
        external
        view
        returns (MirroredAllocation memory)
    {
        return _mirrors[sourceChainId][sourceAllocationId][destination];
    }

    /// @inheritdoc IAllocationRegistry
    function confirmationTimeout() external view returns (uint48) {
        return _confirmationTimeout;
    }

    /// @inheritdoc IAllocationRegistry
    function allocationCount() external view returns (uint64) {
        return _allocationCount;
    }

    /// @inheritdoc IAllocationRegistry
    function receiptDigest(AllocationId allocationId, bytes32 stateDigest) external view returns (bytes32) {
        return _receiptDigest(allocationId, _allocations[allocationId].tvmId, stateDigest);
    }

    /// @inheritdoc IAllocationRegistry
    function hostRegistry() external view returns (address) {
        return address(_hostRegistry);
    }

    function _requireAllocated(AllocationId allocationId) private view returns (AllocationRecord storage r) {
        r = _allocations[allocationId];
        AllocationState current = r.state;
        if (current != AllocationState.Allocated) {
            revert AllocationRegistryUnexpectedState(allocationId, current, AllocationState.Allocated);
        }
    }

    function _receiptDigest(AllocationId allocationId, bytes32 tvmId, bytes32 stateDigest)
        private
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(RECEIPT_TYPEHASH, allocationId, tvmId, stateDigest)));
    }

    function _toAllocation(AllocationId allocationId) private view returns (Allocation memory info) {
        AllocationRecord storage r = _allocations[allocationId];
        if (r.state == AllocationState.None) return info;
        info.id = allocationId;
        info.auctionId = r.auctionId;
        info.state = r.state;
        info.source = r.source;
        info.destination = r.destination;
        info.price = r.price;
        info.deposit = r.deposit;
        info.allocatedAt = r.allocatedAt;
        info.confirmDeadline = r.confirmDeadline;
        info.settledAt = r.settledAt;
        info.abortReason = r.abortReason;
        info.tvmId = r.tvmId;
        info.configHash = r.configHash;
        info.stateDigest = r.stateDigest;
        info.abortSettleAt = r.abortSettleAt;
        info.accepted = r.accepted;
        info.acceptDeadline = _acceptDeadline(r);
    }

    /// @dev allocatedAt + the first 1/ACCEPTANCE_SHARE of the timeout the allocation was made with.
    function _acceptDeadline(AllocationRecord storage r) private view returns (uint48) {
        uint48 allocatedAt = r.allocatedAt;
        unchecked {
            // confirmDeadline = allocatedAt + timeout, and timestamps stay far below 2^48.
            return allocatedAt + (r.confirmDeadline - allocatedAt) / ACCEPTANCE_SHARE;
        }
    }

    /// @dev Allocated -> Aborted: the TVM stays where it was and the whole deposit goes back to the source.
    function _abort(AllocationRecord storage r, AllocationId allocationId, address abortedBy, uint32 reason) private {
        r.state = AllocationState.Aborted;
        r.settledAt = uint48(block.timestamp);
        r.abortReason = reason;
        bytes32 tvmId = r.tvmId;
        _tvms[tvmId].live = AllocationId.wrap(0);
        emit MigrationAborted(allocationId, tvmId, abortedBy, reason);
        _credit(r.source, allocationId, r.deposit);
    }

    function _credit(address account, AllocationId allocationId, uint256 amount) private {
        _creditBalance(account, amount);
        emit BalanceCredited(account, allocationId, amount);
    }

    function _setConfirmationTimeout(uint48 newTimeout) private {
        if (newTimeout == 0 || newTimeout > MAX_CONFIRMATION_TIMEOUT) {
            revert AllocationRegistryInvalidTimeout(newTimeout, MAX_CONFIRMATION_TIMEOUT);
        }
        uint48 previous = _confirmationTimeout;
        _confirmationTimeout = newTimeout;
        emit ConfirmationTimeoutChanged(previous, newTimeout);
    }
}
