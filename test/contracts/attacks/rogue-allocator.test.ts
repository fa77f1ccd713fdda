/**
 * Finding 7 of issue 9, placement integrity, played step by step: a holder of ALLOCATOR_ROLE other than the auction
 * (an admin that granted the role to itself, or a second auction contract) tries to rewrite where a TVM runs.
 * Defence: `allocate` starts a migration only from the TVM's current placement, and the placement moves only on a
 * receipt that placement signed. The attacker can neither move the TVM nor gain from trying: the deposit it escrows
 * for a fake migration goes to the real holder on abort.
 */
import { expect } from "chai";
import { id } from "ethers";
import { AllocationState, ethers, loadFixture, receiptFor, runAuction, sealedBid, suiteFixture, time } from "../fixtures.js";
import type { Suite } from "../fixtures.js";
import { wealth } from "./ledger.js";

const DIGEST = id("state digest");


/** The suite with the source's TVM placed on hosts[0] through a real auction. */
async function placedFixture() {
  const s = await suiteFixture();
  const { allocationId, params } = await runAuction(s, [sealedBid(s.hosts[0]!, 100n)]);
  await s.allocationRegistry.connect(s.hosts[0]!).confirmMigration(allocationId, DIGEST, await receiptFor(s, allocationId, params.tvmId, DIGEST));
  return { ...s, tvmId: params.tvmId, holder: s.hosts[0]!, placement: allocationId };
}

describe("attack: an allocator rewriting where a TVM runs", () => {
  it("cannot start a migration from a host the TVM does not run on", async () => {
    const s = await loadFixture(placedFixture);
    const rogue = s.admin;
    // Step 1: the admin grants itself the allocator role.
    await s.allocationRegistry.grantRole(await s.allocationRegistry.ALLOCATOR_ROLE(), rogue.address);
    // Step 2: it allocates the TVM from itself (or from the TVM's former source) to its accomplice.
    for (const claimedSource of [rogue.address, s.source.address]) {
      await expect(s.allocationRegistry.connect(rogue).allocate(s.tvmId, 99n, claimedSource, s.hosts[3]!.address, 0n, id("cfg"), { value: 1n }))
        .to.be.revertedWithCustomError(s.allocationRegistry, "AllocationRegistryNotTvmHolder")
        .withArgs(s.tvmId, claimedSource, s.holder.address);
    }
    expect(await s.allocationRegistry.currentPlacement(s.tvmId)).to.deep.equal([s.holder.address, s.placement]);
  });

  it("naming the real holder as source, cannot confirm without its receipt, and its deposit goes to the holder", async () => {
    const s = await loadFixture(placedFixture);
    const [rogue, accomplice] = [s.admin, s.hosts[3]!];
    await s.allocationRegistry.grantRole(await s.allocationRegistry.ALLOCATOR_ROLE(), rogue.address);
    const holderBefore = await wealth(s, s.holder.address);
    const attackersBefore = (await wealth(s, rogue.address)) + (await wealth(s, accomplice.address));
    let gas = 0n;
    const spend = async (p: Promise<{ wait(): Promise<{ gasUsed: bigint; gasPrice: bigint } | null> }>) => {
      const r = await (await p).wait();
      gas += r!.gasUsed * r!.gasPrice;
    };
    const deposit = 10n ** 15n;
    // Step 1: a fake migration from the holder to the accomplice.
    await spend(s.allocationRegistry.connect(rogue).allocate(s.tvmId, 99n, s.holder.address, accomplice.address, deposit, id("cfg"), { value: deposit }));
    const fake = await s.allocationRegistry.allocationCount();
    // The accomplice accepts, so that the holder cannot abort at once but must go through the dispute window.
    await spend(s.allocationRegistry.connect(accomplice).acceptAllocation(fake));
    // Step 2: the accomplice confirms with a receipt it signed itself, and with one the rogue signed.
    for (const signer of [accomplice, rogue]) {
      const forged = await receiptFor(s, fake, s.tvmId, DIGEST, signer);
      await expect(s.allocationRegistry.connect(accomplice).confirmMigration(fake, DIGEST, forged))
        .to.be.revertedWithCustomError(s.allocationRegistry, "AllocationRegistryInvalidReceipt")
        .withArgs(fake, signer.address, s.holder.address);
    }
    // Step 3: the holder waits out the confirmation timeout, asks to abort, and settles the abort after the dispute
    // window; the deposit is credited to it.
    const info = await s.allocationRegistry.allocation(fake);
    await time.increaseTo(info.confirmDeadline);
    const request = await (await s.allocationRegistry.connect(s.holder).abortMigration(fake, 1)).wait();
    await time.increaseTo((await s.allocationRegistry.allocation(fake)).abortSettleAt);
    const settle = await (await s.allocationRegistry.connect(s.holder).settleAbort(fake)).wait();
    const holderGas = request!.gasUsed * request!.gasPrice + settle!.gasUsed * settle!.gasPrice;
    expect(await s.allocationRegistry.state(fake)).to.equal(AllocationState.Aborted);
    expect(await s.allocationRegistry.currentPlacement(s.tvmId)).to.deep.equal([s.holder.address, s.placement]);
    expect((await wealth(s, rogue.address)) + (await wealth(s, accomplice.address))).to.equal(attackersBefore - deposit - gas);
    expect(await wealth(s, s.holder.address)).to.equal(holderBefore + deposit - holderGas);
  });
});
