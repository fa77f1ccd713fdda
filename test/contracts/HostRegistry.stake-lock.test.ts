import { expect } from "chai";
import { ZeroAddress, id } from "ethers";
import { HostRegistry__factory } from "../../types/ethers-contracts/index.js";
import { ENDPOINT, HostState, PARAMS, PLATFORM, ethers, loadFixture, time } from "./fixtures.js";

/**
 * HostRegistry.lockStake on its own: a registry whose deployer binds a plain account as the stake locker, so that
 * the lock's rules are played without an auction (test/contracts/attacks/allocated-host-exits.test.ts plays it
 * through one).
 */
describe("HostRegistry stake lock", () => {
  async function fixture() {
    const [deployer, locker, host, other, stranger] = await ethers.getSigners();
    const registry = await new HostRegistry__factory(deployer!).deploy(deployer!.address, PARAMS.minStake, PARAMS.withdrawalDelay);
    for (const [i, h] of [host!, other!].entries()) {
      await registry.connect(h).register(ENDPOINT, id(`channel key ${i}`), PLATFORM, 2, { value: PARAMS.minStake });
    }
    return { registry, deployer: deployer!, locker: locker!, host: host!, other: other!, stranger: stranger! };
  }

  async function bound() {
    const f = await fixture();
    await f.registry.bindStakeLocker(f.locker.address);
    return f;
  }

  it("has no locker until the deployer binds one, and refuses the zero address", async () => {
    const { registry, locker } = await loadFixture(fixture);
    expect(await registry.stakeLocker()).to.equal(ZeroAddress);
    await expect(registry.connect(locker).lockStake(locker.address, 1n))
      .to.be.revertedWithCustomError(registry, "HostRegistryNotStakeLocker")
      .withArgs(locker.address, ZeroAddress);
    await expect(registry.bindStakeLocker(ZeroAddress)).to.be.revertedWithCustomError(registry, "HostRegistryZeroStakeLocker");
    await expect(registry.bindStakeLocker(locker.address)).to.emit(registry, "StakeLockerBound").withArgs(locker.address);
  });

  it("locks an active host, returns its standing, and only ever moves the lock later", async () => {
    const { registry, locker, host } = await loadFixture(bound);
    const until = BigInt(await time.latest()) + 5000n;
    const [active, teeTcbSvn, tdxModuleVersion] = await registry.connect(locker).lockStake.staticCall(host.address, until);
    expect([active, teeTcbSvn, tdxModuleVersion]).to.deep.equal([true, PLATFORM.teeTcbSvn, BigInt(PLATFORM.tdxModuleVersion)]);
    await expect(registry.connect(locker).lockStake(host.address, until)).to.emit(registry, "StakeLocked").withArgs(host.address, until);
    expect((await registry.hostInfo(host.address)).stakeLockedUntil).to.equal(until);
    // An earlier lock (a second allocation that settles sooner) leaves the later one in place.
    await expect(registry.connect(locker).lockStake(host.address, until - 1000n)).not.to.emit(registry, "StakeLocked");
    expect((await registry.hostInfo(host.address)).stakeLockedUntil).to.equal(until);
    // The lock does not change what the host may do while it is registered.
    expect(await registry.hostState(host.address)).to.equal(HostState.Active);
  });

  it("does not lock a host that is not active, and reports it not active", async () => {
    const { registry, locker, host, other, deployer } = await loadFixture(bound);
    await registry.connect(host).deregister();
    await registry.connect(deployer).suspendHost(other.address);
    const until = BigInt(await time.latest()) + 99_999n;
    for (const h of [host, other]) {
      const [active] = await registry.connect(locker).lockStake.staticCall(h.address, until);
      expect(active).to.equal(false);
      await expect(registry.connect(locker).lockStake(h.address, until)).not.to.emit(registry, "StakeLocked");
      expect((await registry.hostInfo(h.address)).stakeLockedUntil).to.equal(0n);
    }
  });

  it("keeps an exiting host's stake until both the withdrawal delay and the lock have passed", async () => {
    const { registry, locker, host } = await loadFixture(bound);
    const lockedUntil = BigInt(await time.latest()) + PARAMS.withdrawalDelay * 3n;
    await registry.connect(locker).lockStake(host.address, lockedUntil);
    await registry.connect(host).deregister();
    const unlockAt = (await registry.hostInfo(host.address)).unlockAt;
    expect(unlockAt).to.be.lessThan(lockedUntil);

    // Inside the delay: the usual refusal.
    await expect(registry.connect(host).withdrawStake())
      .to.be.revertedWithCustomError(registry, "HostRegistryUnexpectedState")
      .withArgs(host.address, HostState.Exiting, HostState.Withdrawable);
    // Past the delay, still locked: the refusal names the lock.
    await time.increaseTo(unlockAt);
    expect(await registry.hostState(host.address)).to.equal(HostState.Exiting);
    const before = await ethers.provider.getBalance(registry);
    await expect(registry.connect(host).withdrawStake())
      .to.be.revertedWithCustomError(registry, "HostRegistryStakeLocked")
      .withArgs(host.address, lockedUntil, unlockAt + 1n);
    expect(await ethers.provider.getBalance(registry)).to.equal(before);
    // From the lock's end the stake is paid back in full.
    await time.increaseTo(lockedUntil);
    expect(await registry.hostState(host.address)).to.equal(HostState.Withdrawable);
    await expect(registry.connect(host).withdrawStake()).to.changeEtherBalances(ethers, [host, registry], [PARAMS.minStake, -PARAMS.minStake]);
    // A host registering again starts with no lock.
    await registry.connect(host).register(ENDPOINT, id("again"), PLATFORM, 1, { value: PARAMS.minStake });
    expect((await registry.hostInfo(host.address)).stakeLockedUntil).to.equal(0n);
  });

  it("lets a lock that ended before the withdrawal delay change nothing", async () => {
    const { registry, locker, host } = await loadFixture(bound);
    await registry.connect(locker).lockStake(host.address, BigInt(await time.latest()) + 10n);
    await registry.connect(host).deregister();
    const unlockAt = (await registry.hostInfo(host.address)).unlockAt;
    await time.increaseTo(unlockAt);
    expect(await registry.hostState(host.address)).to.equal(HostState.Withdrawable);
    await expect(registry.connect(host).withdrawStake()).to.emit(registry, "StakeWithdrawn").withArgs(host.address, PARAMS.minStake);
  });
});
