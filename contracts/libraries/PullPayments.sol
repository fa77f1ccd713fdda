// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IPullPayments} from "../interfaces/IPullPayments.sol";

/// @title PullPayments
/// @notice The one implementation of {IPullPayments}: balances credited by the inheriting contract's settlements
/// (each emits its own `BalanceCredited`, naming the auction or allocation that credited it), withdrawn by their
/// owner. A balance is zeroed before its transfer, so a re-entrant {withdraw} finds nothing to take.
abstract contract PullPayments is IPullPayments {
    mapping(address account => uint256) private _balances;

    /// @inheritdoc IPullPayments
    function withdraw() external {
        uint256 amount = _balances[msg.sender];
        if (amount == 0) revert PullPaymentsNothingToWithdraw(msg.sender);
        _balances[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        _sendValue(msg.sender, amount);
    }

    /// @inheritdoc IPullPayments
    function balanceOf(address account) external view returns (uint256) {
        return _balances[account];
    }

    /// @dev Adds `amount` to what `account` may withdraw.
    function _creditBalance(address account, uint256 amount) internal {
        _balances[account] += amount;
    }

    /// @dev Sends `amount` wei to `to` with all the gas left, reverting when the recipient refuses it; nothing for 0.
    function _sendValue(address to, uint256 amount) internal {
        if (amount == 0) return;
        (bool ok,) = payable(to).call{value: amount}("");
        if (!ok) revert PullPaymentsTransferFailed(to, amount);
    }
}
