import { expect } from "chai";
import { id } from "ethers";
import { network } from "hardhat";
import { deploySuite } from "../../deploy/deploy-suite.js";
import { AllocationState, ENDPOINT, PARAMS, PLATFORM, loadFixture, runAuction, sealedBid, suiteFixture } from "./fixtures.js";

describe("allocation mirrored on the destination's chain", () => {
  it("the winner records the allocation of the source chain on its own chain", async () => {
    const s = await loadFixture(suiteFixture);
    const winner = s.hosts[0]!;
    const { auctionId, allocationId } = await runAuction(s, [sealedBid(winner, 300n)]);
    const [allocated] = await s.allocationRegistry.queryFilter(s.allocationRegistry.filters.Allocated(undefined, auctionId));
    if (allocated === undefined) throw new Error("no Allocated event");
    const allocation = await s.allocationRegistry.allocation(allocationId);

    const destinationChain = await network.create({ override: { chainId: 31338 } });
    try {
      const { ethers } = destinationChain;
      const [deployer] = await ethers.getSigners();
      const suite = await deploySuite(deployer!, PARAMS);
      expect((await ethers.provider.getNetwork()).chainId).to.equal(31338n);
      // The same key is the winner's operator on its own chain: it registers there as a host.
      const winnerThere = await ethers.getSigner(winner.address);
      await suite.contracts.hostRegistry
        .connect(winnerThere)
        .register(ENDPOINT, id("winner key"), PLATFORM, 4, { value: PARAMS.minStake });
      const record = {
        sourceChainId: s.chainId,
        sourceAllocationId: allocationId,
        sourceTxHash: allocated.transactionHash,
        tvmId: allocation.tvmId,
        source: allocation.source,
        destination: allocation.destination,
        price: allocation.price,
        configHash: allocation.configHash,
        outcome: AllocationState.Committed,
      };
      await expect(suite.contracts.allocationRegistry.connect(winnerThere).recordMirror(record))
        .to.emit(suite.contracts.allocationRegistry, "AllocationMirrored")
        .withArgs(
          record.tvmId,
          s.chainId,
          winner.address,
          allocationId,
          allocated.transactionHash,
          record.source,
          300n,
          record.configHash,
          AllocationState.Committed,
          winner.address,
        );
      const mirrored = await suite.contracts.allocationRegistry.mirroredAllocation(s.chainId, allocationId, winner.address);
      expect(mirrored.record.sourceTxHash).to.equal(allocated.transactionHash);
      expect(mirrored.recordedBy).to.equal(winner.address);
    } finally {
      await destinationChain.close();
    }
  });
});
