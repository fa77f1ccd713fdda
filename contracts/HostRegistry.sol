// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.34;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {IHostRegistry} from "./interfaces/IHostRegistry.sol";
import {ADMIN_TRANSFER_DELAY} from "./libraries/AdminRules.sol";

/// @title HostRegistry
/// @notice Registry of the hosts that may take part in migration auctions. See {IHostRegistry}.
/// @dev {biddingStandingOf} is on the path of every bid commitment and reveal, so it reads exactly one storage
/// slot: the first slot of the host's record ({HostCore}), which holds the lifecycle and the platform's TCB. The
/// minimum stake is immutable, and a host's stake can only grow, so an active host always holds at least the
/// minimum (an active host is never under-staked).
///
/// Stake lock: a host's stake backs the allocations it won. A bid needs no lock of its own, because a bid is live
/// only while its bidder is Active: {IMigrationAuction-revealBid} and {IMigrationAuction-finalize} check the standing,
/// so a host that deregisters ends every bid it has (unrevealed bonds are burned, a best bid fails its auction). An
/// allocation outlives those checks, so the one bound stake locker (the MigrationAuction) locks the winner's stake at
/// finalize, through {lockStake}, until the allocation can no longer be live; {withdrawStake} waits for both the
/// withdrawal delay and the lock. The lock lives in the core slot, which the locker's standing read warms, so locking
/// costs one warm write.
contract HostRegistry is IHostRegistry, AccessControlDefaultAdminRules, Pausable {
    /// @notice Role allowed to pause the registry and to suspend or reinstate hosts.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @notice Longest accepted endpoint, in bytes.
    uint256 public constant MAX_ENDPOINT_LENGTH = 256;

    /// @notice Longest accepted withdrawal delay (one year).
    uint48 public constant MAX_WITHDRAWAL_DELAY = 365 days;

    /// @dev The first slot of a host: registered 1 + suspended 1 + unlockAt 6 + stakeLockedUntil 6 + teeTcbSvn 16 +
    /// tdxModuleVersion 2 = 32 bytes, everything {biddingStandingOf}, {lockStake}, {isActive} and {hostState} need.
    struct HostCore {
        bool registered;
        bool suspended;
        uint48 unlockAt;
        uint48 stakeLockedUntil;
        bytes16 teeTcbSvn;
        uint16 tdxModuleVersion;
    }

    /// @dev One host: the core slot, then stake, capacity and registration time (22 bytes in one slot), the quote
    /// hash, the channel key fingerprint and the endpoint.
    struct HostRecord {
        HostCore core;
        uint96 stake;
        uint32 capacity;
        uint48 registeredAt;
        bytes32 quoteHash;
        bytes32 channelKeyFingerprint;
        string endpoint;
    }

    uint96 private immutable _minStake;

    /// @dev The deployer: the one account that may bind the stake locker, once.
    address private immutable _binder;

    /// @dev One slot: withdrawalDelay 6 + stakeLocker 20.
    uint48 private _withdrawalDelay;
    address private _stakeLocker;

    uint256 private _hostCount;
    mapping(address host => HostRecord) private _hosts;

    /// @param admin Receives DEFAULT_ADMIN_ROLE (transferred in two steps, see {ADMIN_TRANSFER_DELAY}) and PAUSER_ROLE.
    /// @param minStake_ Minimum stake, in wei (non-zero).
    /// @param withdrawalDelay_ Initial withdrawal delay, in seconds (at most {MAX_WITHDRAWAL_DELAY}).
    constructor(address admin, uint96 minStake_, uint48 withdrawalDelay_)
        AccessControlDefaultAdminRules(ADMIN_TRANSFER_DELAY, admin)
    {
        _grantRole(PAUSER_ROLE, admin);
        if (minStake_ == 0) revert HostRegistryZeroMinStake();
        _minStake = minStake_;
        _binder = msg.sender;
        _setWithdrawalDelay(withdrawalDelay_);
    }

    /// @inheritdoc IHostRegistry
    function register(
        string calldata endpoint,
        bytes32 channelKeyFingerprint,
        PlatformSummary calldata platform,
        uint32 capacity
    ) external payable whenNotPaused {
        HostRecord storage h = _hosts[msg.sender];
        if (h.core.registered) revert HostRegistryAlreadyRegistered(msg.sender);
        uint96 required = _minStake;
        if (msg.value < required) revert HostRegistryInsufficientStake(msg.sender, msg.value, required);
        if (msg.value > type(uint96).max) revert HostRegistryStakeOverflow(msg.sender, msg.value);
        _checkPublishedData(endpoint, channelKeyFingerprint, capacity);

        h.stake = uint96(msg.value);
        h.registeredAt = uint48(block.timestamp);
        h.core.registered = true;
        _writePublishedData(h, endpoint, channelKeyFingerprint, platform, capacity);
        unchecked {
            // Bounded by the number of addresses.
            ++_hostCount;
        }
        emit HostRegistered(msg.sender, endpoint, channelKeyFingerprint, platform, capacity, uint96(msg.value));
    }

    /// @inheritdoc IHostRegistry
    function update(
        string calldata endpoint,
        bytes32 channelKeyFingerprint,
        PlatformSummary calldata platform,
        uint32 capacity
    ) external whenNotPaused {
        HostRecord storage h = _requireRegisteredNotExiting(msg.sender);
        _checkPublishedData(endpoint, channelKeyFingerprint, capacity);
        _writePublishedData(h, endpoint, channelKeyFingerprint, platform, capacity);
        emit HostUpdated(msg.sender, endpoint, channelKeyFingerprint, platform, capacity);
    }

    /// @inheritdoc IHostRegistry
    function increaseStake() external payable whenNotPaused {
        HostRecord storage h = _requireRegisteredNotExiting(msg.sender);
        if (msg.value == 0) revert HostRegistryInsufficientStake(msg.sender, 0, 1);
        uint256 stake = uint256(h.stake) + msg.value;
        if (stake > type(uint96).max) revert HostRegistryStakeOverflow(msg.sender, stake);
        h.stake = uint96(stake);
        emit StakeIncreased(msg.sender, uint96(msg.value), uint96(stake));
    }

    /// @inheritdoc IHostRegistry
    function deregister() external {
        HostRecord storage h = _requireRegisteredNotExiting(msg.sender);
        uint48 unlockAt = uint48(block.timestamp) + _withdrawalDelay;
        h.core.unlockAt = unlockAt;
        emit HostDeregistered(msg.sender, unlockAt);
    }

    /// @inheritdoc IHostRegistry
    function withdrawStake() external {
        HostRecord storage h = _hosts[msg.sender];
        HostState current = _state(h);
        if (current == HostState.Exiting && h.core.unlockAt <= block.timestamp) {
            // The withdrawal delay has passed but an allocation the host won may still be live.
            revert HostRegistryStakeLocked(msg.sender, h.core.stakeLockedUntil, block.timestamp);
        }
        if (current != HostState.Withdrawable) {
            revert HostRegistryUnexpectedState(msg.sender, current, HostState.Withdrawable);
        }
        uint96 amount = h.stake;
        // Effects before the transfer: the record is gone before any code of the host runs.
        delete _hosts[msg.sender];
        unchecked {
            // The host was counted at registration.
            --_hostCount;
        }
        emit StakeWithdrawn(msg.sender, amount);
        (bool ok,) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert HostRegistryTransferFailed(msg.sender, amount);
    }

    /// @inheritdoc IHostRegistry
    function bindStakeLocker(address locker) external {
        if (msg.sender != _binder) revert HostRegistryNotBinder(msg.sender, _binder);
        if (_stakeLocker != address(0)) revert HostRegistryStakeLockerBound(_stakeLocker);
        if (locker == address(0)) revert HostRegistryZeroStakeLocker();
        _stakeLocker = locker;
        emit StakeLockerBound(locker);
    }

    /// @inheritdoc IHostRegistry
    function lockStake(address host, uint48 until)
        external
        returns (bool active, bytes16 teeTcbSvn, uint16 tdxModuleVersion)
    {
        address locker = _stakeLocker;
        if (msg.sender != locker) revert HostRegistryNotStakeLocker(msg.sender, locker);
        HostCore storage core = _hosts[host].core;
        HostCore memory current = core;
        active = _stateOf(current) == HostState.Active;
        // Only an active host is locked: the locker allocates no other. The lock only ever moves later, so a host
        // holding several allocations stays locked until the last of them.
        if (active && until > current.stakeLockedUntil) {
            core.stakeLockedUntil = until;
            emit StakeLocked(host, until);
        }
        return (active, current.teeTcbSvn, current.tdxModuleVersion);
    }

    /// @inheritdoc IHostRegistry
    function suspendHost(address host) external onlyRole(PAUSER_ROLE) {
        HostRecord storage h = _requireRegistered(host);
        if (h.core.suspended) revert HostRegistrySuspensionUnchanged(host, true);
        h.core.suspended = true;
        emit HostSuspended(host, msg.sender);
    }

    /// @inheritdoc IHostRegistry
    function reinstateHost(address host) external onlyRole(PAUSER_ROLE) {
        HostRecord storage h = _requireRegistered(host);
        if (!h.core.suspended) revert HostRegistrySuspensionUnchanged(host, false);
        h.core.suspended = false;
        emit HostReinstated(host, msg.sender);
    }

    /// @inheritdoc IHostRegistry
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @inheritdoc IHostRegistry
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @inheritdoc IHostRegistry
    function setWithdrawalDelay(uint48 newDelay) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setWithdrawalDelay(newDelay);
    }

    /// @inheritdoc IHostRegistry
    function isActive(address host) external view returns (bool) {
        return _state(_hosts[host]) == HostState.Active;
    }

    /// @inheritdoc IHostRegistry
    function platformTcbOf(address host) external view returns (bytes16 teeTcbSvn, uint16 tdxModuleVersion) {
        HostCore storage core = _hosts[host].core;
        return (core.teeTcbSvn, core.tdxModuleVersion);
    }

    /// @inheritdoc IHostRegistry
    function biddingStandingOf(address host)
        external
        view
        returns (bool active, bytes16 teeTcbSvn, uint16 tdxModuleVersion)
    {
        HostCore memory core = _hosts[host].core;
        return (_stateOf(core) == HostState.Active, core.teeTcbSvn, core.tdxModuleVersion);
    }

    /// @inheritdoc IHostRegistry
    function hostState(address host) external view returns (HostState) {
        return _state(_hosts[host]);
    }

    /// @inheritdoc IHostRegistry
    function hostInfo(address host) external view returns (Host memory info) {
        HostRecord storage h = _hosts[host];
        info.state = _state(h);
        info.suspended = h.core.suspended;
        info.capacity = h.capacity;
        info.stake = h.stake;
        info.registeredAt = h.registeredAt;
        info.unlockAt = h.core.unlockAt;
        info.stakeLockedUntil = h.core.stakeLockedUntil;
        info.channelKeyFingerprint = h.channelKeyFingerprint;
        info.platform = PlatformSummary(h.core.teeTcbSvn, h.core.tdxModuleVersion, h.quoteHash);
        info.endpoint = h.endpoint;
    }

    /// @inheritdoc IHostRegistry
    function minStake() external view returns (uint96) {
        return _minStake;
    }

    /// @inheritdoc IHostRegistry
    function withdrawalDelay() external view returns (uint48) {
        return _withdrawalDelay;
    }

    /// @inheritdoc IHostRegistry
    function stakeLocker() external view returns (address) {
        return _stakeLocker;
    }

    /// @inheritdoc IHostRegistry
    function hostCount() external view returns (uint256) {
        return _hostCount;
    }

    /// @dev The lifecycle of {IHostRegistry}, from the host's core slot alone.
    function _state(HostRecord storage h) private view returns (HostState) {
        return _stateOf(h.core);
    }

    function _stateOf(HostCore memory core) private view returns (HostState) {
        if (!core.registered) return HostState.Unregistered;
        if (core.unlockAt != 0) {
            bool locked = core.unlockAt > block.timestamp || core.stakeLockedUntil > block.timestamp;
            return locked ? HostState.Exiting : HostState.Withdrawable;
        }
        if (core.suspended) return HostState.Suspended;
        return HostState.Active;
    }

    function _requireRegistered(address host) private view returns (HostRecord storage h) {
        h = _hosts[host];
        if (!h.core.registered) {
            revert HostRegistryUnexpectedState(host, HostState.Unregistered, HostState.Active);
        }
    }

    /// @dev Registered and not exiting: Active or Suspended.
    function _requireRegisteredNotExiting(address host) private view returns (HostRecord storage h) {
        h = _hosts[host];
        HostState current = _state(h);
        if (current != HostState.Active && current != HostState.Suspended) {
            revert HostRegistryUnexpectedState(host, current, HostState.Active);
        }
    }

    function _checkPublishedData(string calldata endpoint, bytes32 channelKeyFingerprint, uint32 capacity)
        private
        view
    {
        uint256 length = bytes(endpoint).length;
        if (length == 0 || length > MAX_ENDPOINT_LENGTH) {
            revert HostRegistryInvalidEndpoint(length, MAX_ENDPOINT_LENGTH);
        }
        if (channelKeyFingerprint == bytes32(0)) revert HostRegistryZeroChannelKeyFingerprint(msg.sender);
        if (capacity == 0) revert HostRegistryZeroCapacity(msg.sender);
    }

    function _writePublishedData(
        HostRecord storage h,
        string calldata endpoint,
        bytes32 channelKeyFingerprint,
        PlatformSummary calldata platform,
        uint32 capacity
    ) private {
        h.capacity = capacity;
        h.core.teeTcbSvn = platform.teeTcbSvn;
        h.core.tdxModuleVersion = platform.tdxModuleVersion;
        h.quoteHash = platform.quoteHash;
        h.channelKeyFingerprint = channelKeyFingerprint;
        h.endpoint = endpoint;
    }

    function _setWithdrawalDelay(uint48 newDelay) private {
        if (newDelay > MAX_WITHDRAWAL_DELAY) revert HostRegistryWithdrawalDelayTooLong(newDelay, MAX_WITHDRAWAL_DELAY);
        uint48 previous = _withdrawalDelay;
        _withdrawalDelay = newDelay;
        emit WithdrawalDelayChanged(previous, newDelay);
    }
}
