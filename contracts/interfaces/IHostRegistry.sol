// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title IHostRegistry
/// @notice The hosts of TVM Exchange: each host is an operator address that publishes the endpoint of its root
/// VMM, the fingerprint of its attested channel key, a summary of its attested platform and its capacity, and
/// posts a stake of at least `minStake` (fixed at deployment). Only active hosts (registered, not suspended, not
/// exiting) may bid in migration auctions.
///
/// Pausing the registry freezes its mutations (register, update, increaseStake); it does not change which hosts
/// are active: a pauser excludes a host from auctions by suspending it. Keeping {isActive} to the host's own
/// storage slot is what keeps a bid commitment under 60,000 gas.
/// @dev Lifecycle of a host, computed by {hostState}:
///
///     Unregistered --register--> Active <--suspendHost/reinstateHost--> Suspended
///     Active | Suspended --deregister--> Exiting --(withdrawal delay and stake lock passed)--> Withdrawable
///     Withdrawable --withdrawStake--> Unregistered
interface IHostRegistry {
    /// @notice Lifecycle state of a host.
    enum HostState {
        /// Never registered, or registered and then withdrew its stake.
        Unregistered,
        /// Registered with at least `minStake`, not suspended, not exiting: may bid.
        Active,
        /// Registered but suspended by a pauser: may not bid.
        Suspended,
        /// Deregistered; the stake is held until the withdrawal delay has passed and no allocation the host won can
        /// still be live (see {lockStake}).
        Exiting,
        /// Deregistered, the withdrawal delay and the stake lock have passed: the stake may be withdrawn.
        Withdrawable
    }

    /// @notice Summary of the host's attested platform, taken from its TDX quote.
    /// @param teeTcbSvn TEE_TCB_SVN of the platform (16 bytes, one SVN per component).
    /// @param tdxModuleVersion TDX module version as `major << 8 | minor` (e.g. 0x0105 for 1.5).
    /// @param quoteHash keccak256 of the full attestation quote the summary was taken from.
    struct PlatformSummary {
        bytes16 teeTcbSvn;
        uint16 tdxModuleVersion;
        bytes32 quoteHash;
    }

    /// @notice Everything the registry knows about a host.
    /// @param state Lifecycle state computed at the time of the call.
    /// @param suspended Whether a pauser suspended this host individually.
    /// @param capacity Number of TVMs the host declares it can take.
    /// @param stake Stake held for the host, in wei.
    /// @param registeredAt Timestamp of the registration.
    /// @param unlockAt End of the withdrawal delay (0 while not exiting).
    /// @param stakeLockedUntil Time until which the stake backs an allocation the host won (see {lockStake}); the
    /// stake may be withdrawn from the later of `unlockAt` and this.
    /// @param channelKeyFingerprint SHA-256 fingerprint of the host's attested channel (RA-TLS) public key.
    /// @param platform Attested platform summary.
    /// @param endpoint Network endpoint of the host's root VMM (e.g. "tcp://203.0.113.7:7400").
    struct Host {
        HostState state;
        bool suspended;
        uint32 capacity;
        uint96 stake;
        uint48 registeredAt;
        uint48 unlockAt;
        uint48 stakeLockedUntil;
        bytes32 channelKeyFingerprint;
        PlatformSummary platform;
        string endpoint;
    }

    /// @notice Emitted when `host` registers with `stake` wei.
    event HostRegistered(
        address indexed host,
        string endpoint,
        bytes32 channelKeyFingerprint,
        PlatformSummary platform,
        uint32 capacity,
        uint96 stake
    );

    /// @notice Emitted when `host` replaces its published data.
    event HostUpdated(
        address indexed host, string endpoint, bytes32 channelKeyFingerprint, PlatformSummary platform, uint32 capacity
    );

    /// @notice Emitted when `host` adds `amount` wei to its stake, reaching `stake`.
    event StakeIncreased(address indexed host, uint96 amount, uint96 stake);

    /// @notice Emitted when `host` deregisters; its stake unlocks at `unlockAt`.
    event HostDeregistered(address indexed host, uint48 unlockAt);

    /// @notice Emitted when `host` withdraws its `amount` wei of stake and leaves the registry.
    event StakeWithdrawn(address indexed host, uint96 amount);

    /// @notice Emitted when `account` suspends `host`.
    event HostSuspended(address indexed host, address indexed account);

    /// @notice Emitted when `account` lifts the suspension of `host`.
    event HostReinstated(address indexed host, address indexed account);

    /// @notice Emitted when the stake locker locks the stake of `host` until `until`.
    event StakeLocked(address indexed host, uint48 until);

    /// @notice Emitted when the deployer binds `locker` as the stake locker.
    event StakeLockerBound(address indexed locker);

    /// @notice Emitted when the withdrawal delay changes.
    event WithdrawalDelayChanged(uint48 previous, uint48 current);

    /// @notice `host` is already registered (in any state other than Unregistered).
    error HostRegistryAlreadyRegistered(address host);

    /// @notice `host` is not in the state the operation needs.
    error HostRegistryUnexpectedState(address host, HostState current, HostState expected);

    /// @notice The stake sent (or the resulting stake) is below the minimum.
    error HostRegistryInsufficientStake(address host, uint256 provided, uint256 required);

    /// @notice The stake would not fit in 96 bits.
    error HostRegistryStakeOverflow(address host, uint256 stake);

    /// @notice The endpoint is empty or longer than `maxLength` bytes.
    error HostRegistryInvalidEndpoint(uint256 length, uint256 maxLength);

    /// @notice The channel key fingerprint is zero.
    error HostRegistryZeroChannelKeyFingerprint(address host);

    /// @notice The declared capacity is zero.
    error HostRegistryZeroCapacity(address host);

    /// @notice `host` is already suspended (or not suspended, for {reinstateHost}).
    error HostRegistrySuspensionUnchanged(address host, bool suspended);

    /// @notice The minimum stake must be non-zero.
    error HostRegistryZeroMinStake();

    /// @notice The withdrawal delay `delay` exceeds `maxDelay` seconds.
    error HostRegistryWithdrawalDelayTooLong(uint48 delay, uint48 maxDelay);

    /// @notice The withdrawal delay of `host` has passed, but its stake is locked until `lockedUntil` (it won an
    /// allocation that may still be live); `now` is the block time.
    error HostRegistryStakeLocked(address host, uint48 lockedUntil, uint256 now);

    /// @notice Only the bound stake locker (`locker`) may lock stakes.
    error HostRegistryNotStakeLocker(address caller, address locker);

    /// @notice Only the deployer (`binder`) may bind the stake locker.
    error HostRegistryNotBinder(address caller, address binder);

    /// @notice The stake locker is already bound, to `locker`.
    error HostRegistryStakeLockerBound(address locker);

    /// @notice The stake locker must be a non-zero address.
    error HostRegistryZeroStakeLocker();

    /// @notice Sending `amount` wei to `to` failed.
    error HostRegistryTransferFailed(address to, uint256 amount);

    /// @notice Registers `msg.sender` as a host with `msg.value` wei of stake (at least {minStake}).
    /// @param endpoint Network endpoint of the root VMM (1 to 256 bytes).
    /// @param channelKeyFingerprint Fingerprint of the attested channel key (non-zero).
    /// @param platform Attested platform summary.
    /// @param capacity Number of TVMs the host can take (non-zero).
    function register(
        string calldata endpoint,
        bytes32 channelKeyFingerprint,
        PlatformSummary calldata platform,
        uint32 capacity
    ) external payable;

    /// @notice Replaces the published data of `msg.sender`, which must be Active or Suspended.
    function update(
        string calldata endpoint,
        bytes32 channelKeyFingerprint,
        PlatformSummary calldata platform,
        uint32 capacity
    ) external;

    /// @notice Adds `msg.value` wei to the stake of `msg.sender`, which must not be exiting.
    function increaseStake() external payable;

    /// @notice Starts the exit of `msg.sender`: it stops being active now, and its stake unlocks after the
    /// withdrawal delay.
    function deregister() external;

    /// @notice Pays `msg.sender` its whole stake once it is Withdrawable, and forgets the host. Reverts with
    /// {HostRegistryStakeLocked} when only the stake lock still holds it.
    function withdrawStake() external;

    /// @notice Binds `locker` (the MigrationAuction) as the one account that may call {lockStake}; only the deployer,
    /// once, as part of the deployment.
    function bindStakeLocker(address locker) external;

    /// @notice Called by the stake locker when it allocates a TVM to `host`: reads the bidding standing as
    /// {biddingStandingOf} does and, when the host is Active, locks its stake until at least `until` (a lock only
    /// ever moves later). The locker passes the time by which the allocation is settled or may be settled by
    /// either party alone.
    function lockStake(address host, uint48 until)
        external
        returns (bool active, bytes16 teeTcbSvn, uint16 tdxModuleVersion);

    /// @notice Suspends `host` (PAUSER_ROLE): it can no longer bid.
    function suspendHost(address host) external;

    /// @notice Lifts the suspension of `host` (PAUSER_ROLE).
    function reinstateHost(address host) external;

    /// @notice Pauses the registry (PAUSER_ROLE): no registration, update or stake increase. Deregistration and
    /// stake withdrawal keep working so that stakes are never trapped; which hosts are active does not change.
    function pause() external;

    /// @notice Unpauses the registry (PAUSER_ROLE).
    function unpause() external;

    /// @notice Sets the withdrawal delay (DEFAULT_ADMIN_ROLE); applies to later deregistrations.
    function setWithdrawalDelay(uint48 newDelay) external;

    /// @notice Whether `host` may take part in auctions now (state Active).
    function isActive(address host) external view returns (bool);

    /// @notice The TCB part of `host`'s platform summary (one storage slot; zero for an unknown host).
    function platformTcbOf(address host) external view returns (bytes16 teeTcbSvn, uint16 tdxModuleVersion);

    /// @notice What an auction checks of a bidder, from one storage slot: whether it is Active (not suspended, not
    /// exiting, holding at least the minimum stake) and the TCB part of its platform summary.
    function biddingStandingOf(address host)
        external
        view
        returns (bool active, bytes16 teeTcbSvn, uint16 tdxModuleVersion);

    /// @notice Lifecycle state of `host` now.
    function hostState(address host) external view returns (HostState);

    /// @notice Everything known about `host` (state Unregistered and zero fields if unknown).
    function hostInfo(address host) external view returns (Host memory);

    /// @notice Minimum stake, in wei, a host posts to register (fixed at deployment).
    function minStake() external view returns (uint96);

    /// @notice Seconds between deregistration and stake withdrawal.
    function withdrawalDelay() external view returns (uint48);

    /// @notice The bound stake locker (zero before the deployment binds it).
    function stakeLocker() external view returns (address);

    /// @notice Number of hosts currently registered (any state other than Unregistered).
    function hostCount() external view returns (uint256);
}
