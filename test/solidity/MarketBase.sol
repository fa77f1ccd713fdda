// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {AllocationRegistry} from "../../contracts/AllocationRegistry.sol";
import {HostRegistry} from "../../contracts/HostRegistry.sol";
import {MigrationAuction} from "../../contracts/MigrationAuction.sol";
import {IHostRegistry} from "../../contracts/interfaces/IHostRegistry.sol";
import {IMigrationAuction} from "../../contracts/interfaces/IMigrationAuction.sol";
import {AuctionId} from "../../contracts/types/Ids.sol";
import {tvmIdOf} from "./TvmId.sol";
import {CheatcodeTest} from "./Vm.sol";

/// @notice A deployed and wired suite, a source with a known key, and bidding hosts.
abstract contract MarketBase is CheatcodeTest {
    uint256 internal constant SOURCE_KEY = 0x50C;
    uint256 internal constant MIN_STAKE = 1 ether;
    uint96 internal constant RESERVE = 1 ether;
    uint96 internal constant BOND = 0.01 ether;

    HostRegistry internal hostRegistry;
    AllocationRegistry internal allocationRegistry;
    MigrationAuction internal auction;
    address internal source;

    function deploySuite() internal {
        hostRegistry = new HostRegistry(address(this), uint96(MIN_STAKE), 1 hours);
        allocationRegistry = new AllocationRegistry(address(this), hostRegistry, 10 minutes, new address[](0));
        auction = new MigrationAuction(address(this), hostRegistry, allocationRegistry, 36, 36, 1 ether);
        allocationRegistry.bindAllocator(address(auction));
        hostRegistry.bindStakeLocker(address(auction));
        source = vm.addr(SOURCE_KEY);
        vm.deal(source, 100 ether);
    }

    function registerHost(address host) internal {
        vm.deal(host, 10 ether);
        vm.prank(host);
        hostRegistry.register{value: MIN_STAKE}(
            "tcp://127.0.0.1:7400",
            keccak256(abi.encode("channel key", host)),
            IHostRegistry.PlatformSummary(bytes16(0), 0x0105, keccak256("quote")),
            4
        );
    }

    /// @dev Opens, from the source, an auction for the source's own TVM named `tvmLabel` (see {tvmIdOf}).
    function openAuction(bytes32 tvmLabel) internal returns (AuctionId auctionId, uint48 commitDeadline, uint48 revealDeadline) {
        bytes32 tvmId = tvmIdOf(source, tvmLabel);
        commitDeadline = uint48(block.timestamp + 100);
        revealDeadline = uint48(block.timestamp + 200);
        IMigrationAuction.AuctionParams memory params = IMigrationAuction.AuctionParams({
            requestId: keccak256(abi.encode("request", tvmId)),
            tvmId: tvmId,
            configHash: keccak256("td config"),
            tcb: IMigrationAuction.TcbRequirement(bytes16(0), 0x0105),
            commitDeadline: commitDeadline,
            revealDeadline: revealDeadline,
            bond: BOND
        });
        vm.prank(source);
        auctionId = auction.openAuction{value: RESERVE}(params);
    }

    function ticket(AuctionId auctionId, address host) internal view returns (bytes32 r, bytes32 vs) {
        (uint8 v, bytes32 r_, bytes32 s) = vm.sign(SOURCE_KEY, auction.admissionTicketDigest(auctionId, host));
        r = r_;
        vs = bytes32((uint256(v - 27) << 255) | uint256(s));
    }

    function commit(AuctionId auctionId, address bidder, uint96 price, uint32 capacity, bytes32 salt) internal {
        (bytes32 r, bytes32 vs) = ticket(auctionId, bidder);
        bytes32 commitment = auction.bidCommitment(auctionId, bidder, price, capacity, salt);
        vm.prank(bidder);
        auction.commitBid{value: BOND}(auctionId, commitment, r, vs);
    }

    function reveal(AuctionId auctionId, address bidder, uint96 price, uint32 capacity, bytes32 salt) internal {
        vm.prank(bidder);
        auction.revealBid(auctionId, price, capacity, salt);
    }
}
