// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @notice A TVM id as hosts make them: `bytes32(bytes20(origin)) | 96-bit nonce`, where `origin` created the TVM
/// and is the only one that may open its first auction.
function tvmIdOf(address origin, uint96 nonce) pure returns (bytes32) {
    return bytes32(bytes20(origin)) | bytes32(uint256(nonce));
}

/// @notice The TVM id of `origin` named by `label` (its nonce is the label's hash, cut to 96 bits).
function tvmIdOf(address origin, bytes32 label) pure returns (bytes32) {
    return tvmIdOf(origin, uint96(uint256(keccak256(abi.encode(label)))));
}
