// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title IPullPayments
/// @notice The pull-payment ledger that MigrationAuction and AllocationRegistry share: what either contract owes an
/// account is credited to its balance there, and the account takes it with {withdraw}. No settlement ever pushes
/// value to a participant, so no participant can make a settlement revert by refusing a transfer.
interface IPullPayments {
    /// @notice Emitted when `account` withdraws `amount` wei.
    event Withdrawn(address indexed account, uint256 amount);

    /// @notice `account` has nothing to withdraw.
    error PullPaymentsNothingToWithdraw(address account);

    /// @notice Sending `amount` wei to `to` failed (the recipient refused it or ran out of gas).
    error PullPaymentsTransferFailed(address to, uint256 amount);

    /// @notice Pays `msg.sender` its whole credited balance.
    function withdraw() external;

    /// @notice Wei withdrawable by `account` with {withdraw}.
    function balanceOf(address account) external view returns (uint256);
}
