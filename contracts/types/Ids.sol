// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @notice Identifier of one sealed-bid migration auction, assigned sequentially from 1 by MigrationAuction.
/// @dev 64 bits so that it packs next to prices and timestamps; 0 means "no auction".
type AuctionId is uint64;

/// @notice Identifier of one allocation (one placement decision for one TVM), assigned sequentially from 1 by
/// AllocationRegistry.
/// @dev 64 bits so that it packs next to an address; 0 means "no allocation".
type AllocationId is uint64;
