// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IAllocationRegistry} from "../../contracts/interfaces/IAllocationRegistry.sol";
import {IMigrationAuction} from "../../contracts/interfaces/IMigrationAuction.sol";
import {SealedBid} from "../../contracts/libraries/SealedBid.sol";
import {AllocationId, AuctionId} from "../../contracts/types/Ids.sol";
import {MarketBase} from "./MarketBase.sol";
import {tvmIdOf} from "./TvmId.sol";

/// @notice Fuzz tests of the commit/reveal binding and of the reverse Vickrey outcome.
contract MigrationAuctionTest is MarketBase {
    address internal constant BIDDER = address(0xB1D);
    address internal constant OTHER = address(0x07E);
    uint256 internal constant BIDDERS = 5;

    function setUp() public {
        deploySuite();
        registerHost(BIDDER);
        registerHost(OTHER);
        for (uint256 i = 0; i < BIDDERS; i++) {
            registerHost(_bidder(i));
        }
    }

    function _bidder(uint256 i) internal pure returns (address) {
        return address(uint160(0xB000 + i));
    }

    function testFuzz_revealBid_acceptsTheCommittedValues(uint96 price, uint32 capacity, bytes32 salt) public {
        price = uint96(bound(price, 0, RESERVE));
        capacity = uint32(bound(capacity, 1, type(uint32).max));
        (AuctionId id, uint48 commitDeadline,) = openAuction("tvm");
        commit(id, BIDDER, price, capacity, salt);
        vm.warp(commitDeadline);
        reveal(id, BIDDER, price, capacity, salt);

        IMigrationAuction.BidInfo memory bid = auction.bidInfo(id, BIDDER);
        assertEq(uint256(bid.status), uint256(IMigrationAuction.BidStatus.Revealed), "status");
        assertEq(bid.price, price, "price");
        assertEq(bid.capacity, capacity, "capacity");
    }

    function testFuzz_revealBid_rejectsAnyOtherValues(
        uint96 price,
        uint32 capacity,
        bytes32 salt,
        uint96 otherPrice,
        uint32 otherCapacity,
        bytes32 otherSalt
    ) public {
        price = uint96(bound(price, 0, RESERVE));
        capacity = uint32(bound(capacity, 1, type(uint32).max));
        otherPrice = uint96(bound(otherPrice, 0, RESERVE));
        otherCapacity = uint32(bound(otherCapacity, 1, type(uint32).max));
        vm.assume(price != otherPrice || capacity != otherCapacity || salt != otherSalt);
        (AuctionId id, uint48 commitDeadline,) = openAuction("tvm");
        commit(id, BIDDER, price, capacity, salt);
        vm.warp(commitDeadline);
        vm.expectRevert(
            abi.encodeWithSelector(IMigrationAuction.MigrationAuctionCommitmentMismatch.selector, id, BIDDER)
        );
        reveal(id, BIDDER, otherPrice, otherCapacity, otherSalt);
    }

    function testFuzz_commitment_bindsTheAuctionAndTheBidder(
        uint64 auctionA,
        uint64 auctionB,
        address bidderA,
        address bidderB,
        uint96 price,
        uint32 capacity,
        bytes32 salt
    ) public pure {
        vm.assume(auctionA != auctionB || bidderA != bidderB);
        bytes32 a = SealedBid.commitment(1, address(0xA), AuctionId.wrap(auctionA), bidderA, price, capacity, salt);
        bytes32 b = SealedBid.commitment(1, address(0xA), AuctionId.wrap(auctionB), bidderB, price, capacity, salt);
        assertTrue(a != b, "distinct commitments");
        // The stored form keeps 248 bits, still distinct.
        assertTrue(SealedBid.packCommitted(a) != SealedBid.packCommitted(b), "distinct stored commitments");
    }

    function testFuzz_commitment_bindsTheChainAndTheContract(
        uint256 chainA,
        uint256 chainB,
        address contractA,
        address contractB,
        uint64 auctionId,
        uint96 price,
        bytes32 salt
    ) public pure {
        vm.assume(chainA != chainB || contractA != contractB);
        AuctionId id = AuctionId.wrap(auctionId);
        bytes32 a = SealedBid.commitment(chainA, contractA, id, address(0xB1D), price, 1, salt);
        bytes32 b = SealedBid.commitment(chainB, contractB, id, address(0xB1D), price, 1, salt);
        assertTrue(SealedBid.packCommitted(a) != SealedBid.packCommitted(b), "distinct stored commitments");
    }

    function testFuzz_revealBid_rejectsACommitmentMadeForAnotherChain(uint96 price, uint64 otherChain) public {
        price = uint96(bound(price, 0, RESERVE));
        vm.assume(otherChain != block.chainid);
        (AuctionId id, uint48 commitDeadline,) = openAuction("tvm");
        bytes32 salt = keccak256("salt");
        // The commitment the bidder computed for the same auction id on another chain.
        bytes32 foreign = SealedBid.commitment(otherChain, address(auction), id, BIDDER, price, 1, salt);
        (bytes32 r, bytes32 vs) = ticket(id, BIDDER);
        vm.prank(BIDDER);
        auction.commitBid{value: BOND}(id, foreign, r, vs);
        vm.warp(commitDeadline);
        vm.expectRevert(
            abi.encodeWithSelector(IMigrationAuction.MigrationAuctionCommitmentMismatch.selector, id, BIDDER)
        );
        reveal(id, BIDDER, price, 1, salt);
    }

    function testFuzz_revealBid_rejectsAnotherBiddersCommitment(uint96 price, uint32 capacity, bytes32 salt) public {
        price = uint96(bound(price, 0, RESERVE));
        capacity = uint32(bound(capacity, 1, type(uint32).max));
        (AuctionId id, uint48 commitDeadline,) = openAuction("tvm");
        commit(id, BIDDER, price, capacity, salt);
        // The same commitment copied by another host binds to the first bidder, so it cannot be revealed.
        bytes32 copied = auction.bidCommitment(id, BIDDER, price, capacity, salt);
        (bytes32 r, bytes32 vs) = ticket(id, OTHER);
        vm.prank(OTHER);
        auction.commitBid{value: BOND}(id, copied, r, vs);
        vm.warp(commitDeadline);
        vm.expectRevert(
            abi.encodeWithSelector(IMigrationAuction.MigrationAuctionCommitmentMismatch.selector, id, OTHER)
        );
        reveal(id, OTHER, price, capacity, salt);
    }

    function testFuzz_packRevealed_roundTrips(uint96 price, uint32 capacity) public pure {
        uint256 slot = SealedBid.packRevealed(IMigrationAuction.BidStatus.Revealed, price, capacity);
        assertEq(uint256(SealedBid.statusOf(slot)), uint256(IMigrationAuction.BidStatus.Revealed), "status");
        assertEq(SealedBid.priceOf(slot), price, "price");
        assertEq(SealedBid.capacityOf(slot), capacity, "capacity");
    }

    /// hardhat-config: fuzz.runs = 64
    function testFuzz_finalize_paysTheLowestBidderTheSecondLowestPrice(uint96[5] memory prices, uint8 count) public {
        uint256 n = bound(count, 1, BIDDERS);
        (AuctionId id, uint48 commitDeadline, uint48 revealDeadline) = openAuction("tvm");
        for (uint256 i = 0; i < n; i++) {
            prices[i] = uint96(bound(prices[i], 0, RESERVE));
            commit(id, _bidder(i), prices[i], 1, bytes32(i));
        }
        vm.warp(commitDeadline);
        // Reveal in reverse order: the outcome must not depend on it.
        for (uint256 i = n; i > 0; i--) {
            reveal(id, _bidder(i - 1), prices[i - 1], 1, bytes32(i - 1));
        }
        vm.warp(revealDeadline);
        AllocationId allocationId = auction.finalize(id);

        uint256 best;
        for (uint256 i = 1; i < n; i++) {
            if (SealedBid.ranksBefore(id, _bidder(i), prices[i], _bidder(best), prices[best])) best = i;
        }
        uint256 second = type(uint256).max;
        for (uint256 i = 0; i < n; i++) {
            if (i != best && prices[i] < second) second = prices[i];
        }
        uint256 expectedPrice = n == 1 ? prices[best] : second;
        IAllocationRegistry.Allocation memory a = allocationRegistry.allocation(allocationId);
        assertEq(a.destination, _bidder(best), "winner");
        assertEq(a.price, expectedPrice, "price");
        assertTrue(a.price <= RESERVE, "capped by the reserve");
        assertEq(a.deposit, RESERVE, "deposit");
    }

    function test_commitBid_rejectsATicketSignedByAnotherKey() public {
        (AuctionId id,,) = openAuction("tvm");
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(0xBAD, auction.admissionTicketDigest(id, BIDDER));
        bytes32 vs = bytes32((uint256(v - 27) << 255) | uint256(s));
        vm.prank(BIDDER);
        vm.expectRevert(
            abi.encodeWithSelector(
                IMigrationAuction.MigrationAuctionInvalidTicket.selector, id, BIDDER, vm.addr(0xBAD)
            )
        );
        auction.commitBid{value: BOND}(id, bytes32(uint256(1)), r, vs);
    }

    function testFuzz_openAuction_revertsNotTvmOriginForAnyoneButTheOrigin(address caller, uint96 nonce) public {
        vm.assume(caller != source && caller != address(0));
        bytes32 tvmId = tvmIdOf(source, nonce);
        IMigrationAuction.AuctionParams memory params = _params(tvmId);
        vm.deal(caller, RESERVE);
        vm.prank(caller);
        vm.expectRevert(abi.encodeWithSelector(IMigrationAuction.MigrationAuctionNotTvmOrigin.selector, tvmId, caller));
        auction.openAuction{value: RESERVE}(params);
    }

    function testFuzz_openAuction_opensTheOriginsOwnTvm(uint96 nonce) public {
        bytes32 tvmId = tvmIdOf(source, nonce);
        vm.prank(source);
        AuctionId id = auction.openAuction{value: RESERVE}(_params(tvmId));
        assertEq(AuctionId.unwrap(auction.liveAuctionOf(tvmId)), AuctionId.unwrap(id), "live auction");
    }

    function _params(bytes32 tvmId) private view returns (IMigrationAuction.AuctionParams memory) {
        return IMigrationAuction.AuctionParams({
            requestId: keccak256(abi.encode("request", tvmId)),
            tvmId: tvmId,
            configHash: keccak256("td config"),
            tcb: IMigrationAuction.TcbRequirement(bytes16(0), 0x0105),
            commitDeadline: uint48(block.timestamp + 100),
            revealDeadline: uint48(block.timestamp + 200),
            bond: BOND
        });
    }
}
