// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IMigrationAuction} from "../interfaces/IMigrationAuction.sol";
import {AuctionId} from "../types/Ids.sol";

/// @title SealedBid
/// @notice Pure logic of the sealed bids: the commitment, the one-slot encoding of a bid, and the ranking of
/// revealed bids.
/// @dev A bid lives in one storage slot. The low 8 bits hold the {IMigrationAuction-BidStatus}. While Committed,
/// bits 8..255 hold the low 248 bits of the commitment (a second preimage of 248 bits is out of reach, and a
/// bidder finding a collision of its own needs about 2^124 hashes). Once revealed, the commitment is no longer
/// needed and the same slot holds the price (bits 8..103) and the capacity (bits 104..135). Reveal and refund
/// therefore rewrite a non-zero slot (2,900 gas) instead of filling a fresh one (22,100 gas).
library SealedBid {
    uint256 private constant _STATUS_MASK = 0xff;
    uint256 private constant _PRICE_SHIFT = 8;
    uint256 private constant _CAPACITY_SHIFT = 104;

    /// @notice The commitment a bidder submits:
    /// `keccak256(abi.encode(chainId, auction, auctionId, bidder, price, capacity, salt))`. It names the chain and
    /// the auction contract, so a commitment (and the reveal that opens it) made for one deployment is worthless on
    /// any other chain or contract, where the same auction id means another auction.
    function commitment(
        uint256 chainId,
        address auction,
        AuctionId auctionId,
        address bidder,
        uint96 price,
        uint32 capacity,
        bytes32 salt
    ) internal pure returns (bytes32) {
        return keccak256(abi.encode(chainId, auction, auctionId, bidder, price, capacity, salt));
    }

    /// @notice The slot of a committed bid.
    function packCommitted(bytes32 commitmentHash) internal pure returns (uint256) {
        return (uint256(commitmentHash) << 8) | uint256(IMigrationAuction.BidStatus.Committed);
    }

    /// @notice The slot of a revealed (or refunded) bid.
    function packRevealed(IMigrationAuction.BidStatus status, uint96 price, uint32 capacity)
        internal
        pure
        returns (uint256)
    {
        return (uint256(capacity) << _CAPACITY_SHIFT) | (uint256(price) << _PRICE_SHIFT) | uint256(status);
    }

    /// @notice Whether `slot` is the committed bid of `commitmentHash`.
    function matches(uint256 slot, bytes32 commitmentHash) internal pure returns (bool) {
        return slot == packCommitted(commitmentHash);
    }

    /// @notice The status stored in `slot`.
    function statusOf(uint256 slot) internal pure returns (IMigrationAuction.BidStatus) {
        return IMigrationAuction.BidStatus(uint8(slot & _STATUS_MASK));
    }

    /// @notice The stored commitment bits of a committed `slot` (the low 248 bits of the commitment).
    function storedCommitmentOf(uint256 slot) internal pure returns (bytes32) {
        return bytes32(slot >> 8);
    }

    /// @notice The price of a revealed `slot`.
    function priceOf(uint256 slot) internal pure returns (uint96) {
        return uint96(slot >> _PRICE_SHIFT);
    }

    /// @notice The capacity of a revealed `slot`.
    function capacityOf(uint256 slot) internal pure returns (uint32) {
        return uint32(slot >> _CAPACITY_SHIFT);
    }

    /// @notice The tie-break key of `bidder` in auction `auctionId`: among equal prices the smaller key wins.
    /// @dev Derived from the auction id so that no address is favoured across auctions, and independent of the
    /// order of reveals.
    function tieKey(AuctionId auctionId, address bidder) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(auctionId, bidder)));
    }

    /// @notice Whether bid (`bidderA`, `priceA`) ranks strictly before bid (`bidderB`, `priceB`): lower price first,
    /// then smaller {tieKey}.
    function ranksBefore(AuctionId auctionId, address bidderA, uint96 priceA, address bidderB, uint96 priceB)
        internal
        pure
        returns (bool)
    {
        if (priceA != priceB) return priceA < priceB;
        return tieKey(auctionId, bidderA) < tieKey(auctionId, bidderB);
    }
}
