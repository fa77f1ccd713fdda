/**
 * Finding 4 of issue 9, its second half, played step by step: a host wins an allocation, deregisters at once and
 * withdraws its whole stake while the allocation is still live (possible whenever the withdrawal delay is shorter
 * than the allocation's life: an admin may set it so). Defence: {finalize} locks the winner's stake in the
 * HostRegistry until twice the confirmation timeout from the allocation, the longest it can be live before either
 * party may settle it alone; {withdrawStake} waits for the later of the withdrawal delay and the lock. A bid needs
 * no lock of its own: a host that deregisters can no longer reveal or be allocated (inactive-host-wins.test.ts).
 */
import { expect } from "chai";
import { HostState, PARAMS, ethers, loadFixture, runAuction, sealedBid, suiteFixture, time, tvmIdOf } from "../fixtures.js";
import { gasOf } from "./ledger.js";

const MILLI = 10n ** 15n;
const SHORT_DELAY = 60n;

describe("attack: an allocated host withdrawing its stake", () => {
  async function shortDelaySuite() {
    const s = await suiteFixture();
    // A deployment whose withdrawal delay is shorter than an allocation's life (600 s timeout here).
    await s.hostRegistry.connect(s.admin).setWithdrawalDelay(SHORT_DELAY);
    return s;
  }

  it("finding 4: a winner that deregisters right after its allocation cannot take its stake out while the allocation can be live", async () => {
    const s = await loadFixture(shortDelaySuite);
    const [winner, loser] = [s.hosts[0]!, s.hosts[1]!];
    const { allocationId } = await runAuction(s, [sealedBid(winner, 100n * MILLI), sealedBid(loser, 300n * MILLI)]);
    const allocatedAt = (await s.allocationRegistry.allocation(allocationId)).allocatedAt;
    const lockedUntil = allocatedAt + 2n * PARAMS.confirmationTimeout;
    // Step 1: finalize locked the winner's stake, and only the winner's.
    expect((await s.hostRegistry.hostInfo(winner.address)).stakeLockedUntil).to.equal(lockedUntil);
    expect((await s.hostRegistry.hostInfo(loser.address)).stakeLockedUntil).to.equal(0n);

    // Step 2: the winner leaves the market at once; so does the loser, which holds no allocation.
    const winnerBefore = await ethers.provider.getBalance(winner.address);
    const registryBefore = await ethers.provider.getBalance(s.hostRegistry);
    let spent = await gasOf(s.hostRegistry.connect(winner).deregister());
    await s.hostRegistry.connect(loser).deregister();

    // Step 3: past the withdrawal delay the loser is paid back in full; the winner is refused with its lock.
    await time.increase(SHORT_DELAY);
    await expect(s.hostRegistry.connect(loser).withdrawStake()).to.changeEtherBalance(ethers, loser, PARAMS.minStake);
    const attempt = s.hostRegistry.connect(winner).withdrawStake();
    await expect(attempt).to.be.revertedWithCustomError(s.hostRegistry, "HostRegistryStakeLocked");
    const now = BigInt(await time.latest());
    await expect(s.hostRegistry.connect(winner).withdrawStake.staticCall())
      .to.be.revertedWithCustomError(s.hostRegistry, "HostRegistryStakeLocked")
      .withArgs(winner.address, lockedUntil, now);
    expect(await s.hostRegistry.hostState(winner.address)).to.equal(HostState.Exiting);
    // The attacker's ether did not grow (it only paid gas) and its stake is still held.
    expect(await ethers.provider.getBalance(winner.address)).to.be.at.most(winnerBefore - spent);
    expect(await ethers.provider.getBalance(s.hostRegistry)).to.equal(registryBefore - PARAMS.minStake);

    // Step 4: the allocation is still live for the whole lock; at its end the stake comes back, in full.
    expect((await s.allocationRegistry.allocation(allocationId)).state).to.equal(1n); // Allocated
    await time.increaseTo(lockedUntil - 2n); // the next transaction is mined one second before the lock ends
    await expect(s.hostRegistry.connect(winner).withdrawStake()).to.be.revertedWithCustomError(s.hostRegistry, "HostRegistryStakeLocked");
    await time.increaseTo(lockedUntil);
    const beforeWithdrawal = await ethers.provider.getBalance(winner.address);
    spent = await gasOf(s.hostRegistry.connect(winner).withdrawStake());
    expect(await ethers.provider.getBalance(winner.address)).to.equal(beforeWithdrawal - spent + PARAMS.minStake);
    expect(await s.hostRegistry.hostState(winner.address)).to.equal(HostState.Unregistered);
  });

  it("keeps a host that wins two allocations locked until the later one can no longer be live", async () => {
    const s = await loadFixture(shortDelaySuite);
    const [winner, loser] = [s.hosts[0]!, s.hosts[1]!];
    const first = await runAuction(s, [sealedBid(winner, 100n * MILLI), sealedBid(loser, 300n * MILLI)]);
    const firstLock = (await s.hostRegistry.hostInfo(winner.address)).stakeLockedUntil;
    // A second TVM of the source, won by the same host later (the first is still allocated).
    await time.increase(100n);
    const second = await runAuction(s, [sealedBid(winner, 100n * MILLI)], { tvmId: tvmIdOf(s.source.address, "tvm-2") });
    const secondAllocatedAt = (await s.allocationRegistry.allocation(second.allocationId)).allocatedAt;
    const secondLock = (await s.hostRegistry.hostInfo(winner.address)).stakeLockedUntil;
    expect(secondLock).to.equal(secondAllocatedAt + 2n * PARAMS.confirmationTimeout);
    expect(secondLock).to.be.greaterThan(firstLock);
    expect(first.allocationId).to.not.equal(second.allocationId);
    await s.hostRegistry.connect(winner).deregister();
    await time.increaseTo(firstLock);
    await expect(s.hostRegistry.connect(winner).withdrawStake()).to.be.revertedWithCustomError(s.hostRegistry, "HostRegistryStakeLocked");
    await time.increaseTo(secondLock);
    await expect(s.hostRegistry.connect(winner).withdrawStake()).to.changeEtherBalance(ethers, winner, PARAMS.minStake);
  });
});
