// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.34;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @title OwnedWallet
/// @notice Test double of a contract-wallet operator: a one-owner smart account that forwards the owner's calls and
/// accepts, under ERC-1271, what its owner's key signed (65-byte or EIP-2098 64-byte signatures). Used to test that a
/// contract-wallet source can open auctions, admit bidders and countersign receipts.
contract OwnedWallet is IERC1271 {
    /// @notice Key whose signatures the wallet accepts and whose calls it forwards.
    address public immutable owner;

    /// @notice The caller is not the owner.
    error OwnedWalletNotOwner(address caller);

    /// @notice The forwarded call reverted with `result`.
    error OwnedWalletCallFailed(bytes result);

    constructor(address owner_) {
        owner = owner_;
    }

    /// @notice Calls `target` with `data` and `msg.value` on the owner's behalf, bubbling a revert up unchanged.
    function execute(address target, bytes calldata data) external payable returns (bytes memory) {
        if (msg.sender != owner) revert OwnedWalletNotOwner(msg.sender);
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

    /// @inheritdoc IERC1271
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        address signer;
        if (signature.length == 64) {
            (signer,,) = ECDSA.tryRecover(hash, bytes32(signature[0:32]), bytes32(signature[32:64]));
        } else {
            (signer,,) = ECDSA.tryRecover(hash, signature);
        }
        return signer == owner && signer != address(0) ? IERC1271.isValidSignature.selector : bytes4(0xffffffff);
    }

    /// @notice Receives withdrawals.
    receive() external payable {}
}
