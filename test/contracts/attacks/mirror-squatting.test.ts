/**
 * Squatting the mirror record of another destination (finding 5 of issue 9), played step by step.
 *
 * Finding 5: mirror records were keyed by `(sourceChainId, sourceAllocationId)` alone and the first writer won.
 * Allocation ids are predictable (a counter), so any active host of the mirror chain could pre-record the key of a
 * coming allocation, or front-run the winner's record, naming itself as the destination: the real record could
 * then never be stored. Defence: records are keyed by `(sourceChainId, sourceAllocationId, destination)`, and a
 * host may write only under its own address (or hold MIRROR_RECORDER_ROLE). The squatter's record lands under its
 * own key and blocks nothing; a record naming this very chain as its source is refused.
 */
import { expect } from "chai";
import { id } from "ethers";
import { AllocationState, loadFixture, suiteFixture, tvmIdOf } from "../fixtures.js";
import type { Signer, Suite } from "../fixtures.js";

/** The source chain of the allocations mirrored here (the suite's chain plays the destination's own chain). */
const SOURCE_CHAIN = 1n;
/** The next allocation id of the source chain: a counter, so anyone can predict it. */
const NEXT_ALLOCATION = 42n;

function mirrorNaming(s: Suite, destination: Signer) {
  return {
    sourceChainId: SOURCE_CHAIN,
    sourceAllocationId: NEXT_ALLOCATION,
    sourceTxHash: id(`allocation tx naming ${destination.address}`),
    tvmId: tvmIdOf(s.source.address, "mirrored"),
    source: s.source.address,
    destination: destination.address,
    price: 300n,
    configHash: id("td config"),
    outcome: AllocationState.Committed,
  };
}

describe("attack: squatting another destination's mirror record", () => {
  it("finding 5: a squatter pre-records the predictable key naming itself; the real destination still records its own", async () => {
    const s = await loadFixture(suiteFixture);
    const [squatter, destination] = [s.hosts[0]!, s.hosts[1]!];
    const registry = s.allocationRegistry;
    // Step 1: before the allocation is even made, the squatter (an active host here) records its key naming itself.
    await expect(registry.connect(squatter).recordMirror(mirrorNaming(s, squatter))).to.emit(registry, "AllocationMirrored");
    // Step 2: it cannot write under the real destination's key (only that host, or a trusted recorder, may).
    await expect(registry.connect(squatter).recordMirror(mirrorNaming(s, destination)))
      .to.be.revertedWithCustomError(registry, "AllocationRegistryMirrorUnauthorized")
      .withArgs(squatter.address);
    // Step 3: the real winner records its allocation: the squatter's record does not block it.
    const real = mirrorNaming(s, destination);
    await expect(registry.connect(destination).recordMirror(real))
      .to.emit(registry, "AllocationMirrored")
      .withArgs(real.tvmId, SOURCE_CHAIN, destination.address, NEXT_ALLOCATION, real.sourceTxHash, s.source.address, 300n, real.configHash, AllocationState.Committed, destination.address);
    const stored = await registry.mirroredAllocation(SOURCE_CHAIN, NEXT_ALLOCATION, destination.address);
    expect([stored.record.destination, stored.record.sourceTxHash, stored.recordedBy]).to.deep.equal([destination.address, real.sourceTxHash, destination.address]);
    // The squatter's claim is stored under its own key, and says only that it made that claim.
    const squatted = await registry.mirroredAllocation(SOURCE_CHAIN, NEXT_ALLOCATION, squatter.address);
    expect([squatted.record.destination, squatted.recordedBy]).to.deep.equal([squatter.address, squatter.address]);
  });

  it("finding 5: a squatter front-running the winner's record (same key, same block order) does not block it either", async () => {
    const s = await loadFixture(suiteFixture);
    const [squatter, destination] = [s.hosts[2]!, s.hosts[3]!];
    const registry = s.allocationRegistry;
    // The squatter copies the winner's pending record and sends it first, changing only the destination to itself.
    const real = mirrorNaming(s, destination);
    await registry.connect(squatter).recordMirror({ ...real, destination: squatter.address });
    await registry.connect(destination).recordMirror(real);
    expect((await registry.mirroredAllocation(SOURCE_CHAIN, NEXT_ALLOCATION, destination.address)).recordedBy).to.equal(destination.address);
    // A second write under the destination's own key is refused: its record is final.
    await expect(registry.connect(destination).recordMirror({ ...real, price: 1n }))
      .to.be.revertedWithCustomError(registry, "AllocationRegistryMirrorExists")
      .withArgs(SOURCE_CHAIN, NEXT_ALLOCATION, destination.address);
  });

  it("finding 5: a mirror naming this chain as its source is refused (the allocation itself is recorded here)", async () => {
    const s = await loadFixture(suiteFixture);
    const squatter = s.hosts[0]!;
    await expect(s.allocationRegistry.connect(squatter).recordMirror({ ...mirrorNaming(s, squatter), sourceChainId: s.chainId }))
      .to.be.revertedWithCustomError(s.allocationRegistry, "AllocationRegistryMirrorOfThisChain")
      .withArgs(s.chainId);
  });
});
