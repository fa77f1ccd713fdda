// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.34;

/// @title ProgrammableAccount
/// @notice Test double of a contract account: forwards calls, and on receiving ether either refuses it or
/// re-enters a configured call. Used to test failed transfers and re-entrancy.
contract ProgrammableAccount {
    /// @notice Whether incoming ether is refused.
    bool public rejecting;
    /// @notice Target of the re-entrant call made when ether arrives (none if zero).
    address public reentryTarget;
    /// @notice Call data of the re-entrant call.
    bytes public reentryData;
    /// @notice Outcome of the last re-entrant call.
    bool public lastReentrySucceeded;
    /// @notice Return or revert data of the last re-entrant call.
    bytes public lastReentryResult;

    /// @notice Emitted after each re-entrant call.
    event Reentered(bool success, bytes result);

    /// @notice The forwarded call reverted with `result`.
    error ProgrammableAccountCallFailed(bytes result);

    /// @notice Refuse (or accept) incoming ether.
    function setRejecting(bool rejecting_) external {
        rejecting = rejecting_;
    }

    /// @notice Re-enter `target` with `data` whenever ether arrives.
    function setReentry(address target, bytes calldata data) external {
        reentryTarget = target;
        reentryData = data;
    }

    /// @notice Calls `target` with `data` and `msg.value`, bubbling a revert up unchanged.
    function execute(address target, bytes calldata data) external payable returns (bytes memory) {
        (bool ok, bytes memory result) = target.call{value: msg.value}(data);
        if (!ok) {
            // Bubble the revert data up unchanged, so tests see the target's own custom error.
            // solhint-disable-next-line no-inline-assembly
            assembly ("memory-safe") {
                revert(add(result, 32), mload(result))
            }
        }
        return result;
    }

    // Deliberately not simple: the point of this double is to act when ether arrives.
    // solhint-disable-next-line no-complex-fallback
    receive() external payable {
        if (rejecting) revert ProgrammableAccountCallFailed("rejecting ether");
        address target = reentryTarget;
        if (target != address(0)) {
            // solhint-disable-next-line avoid-low-level-calls
            (bool ok, bytes memory result) = target.call(reentryData);
            lastReentrySucceeded = ok;
            lastReentryResult = result;
            emit Reentered(ok, result);
        }
    }
}
