import { expect } from "chai";
import { ZeroHash, id } from "ethers";
import { HostRegistry__factory } from "../../types/ethers-contracts/index.js";
import { ENDPOINT, HostState, PARAMS, PLATFORM, ethers, loadFixture, suiteFixture, time } from "./fixtures.js";

describe("HostRegistry", () => {
  async function fixture() {
    const s = await suiteFixture();
    const [, , , , , , outsider, newcomer] = await ethers.getSigners();
    return { ...s, registry: s.hostRegistry, outsider: outsider!, newcomer: newcomer! };
  }

  describe("deployment", () => {
    it("stores the minimum stake and the withdrawal delay, and gives the admin both roles", async () => {
      const { registry, admin } = await loadFixture(fixture);
      expect(await registry.minStake()).to.equal(PARAMS.minStake);
      expect(await registry.withdrawalDelay()).to.equal(PARAMS.withdrawalDelay);
      expect(await registry.hasRole(await registry.DEFAULT_ADMIN_ROLE(), admin.address)).to.equal(true);
      expect(await registry.hasRole(await registry.PAUSER_ROLE(), admin.address)).to.equal(true);
    });

    it("rejects a zero minimum stake", async () => {
      const { admin, registry } = await loadFixture(fixture);
      await expect(new HostRegistry__factory(admin).deploy(admin.address, 0, 10)).to.be.revertedWithCustomError(
        registry,
        "HostRegistryZeroMinStake",
      );
    });

    it("rejects a withdrawal delay above one year", async () => {
      const { admin, registry } = await loadFixture(fixture);
      const tooLong = 365n * 86400n + 1n;
      await expect(new HostRegistry__factory(admin).deploy(admin.address, 1, tooLong))
        .to.be.revertedWithCustomError(registry, "HostRegistryWithdrawalDelayTooLong")
        .withArgs(tooLong, 365n * 86400n);
    });
  });

  describe("register", () => {
    it("registers a host with its endpoint, key fingerprint, platform, capacity and stake", async () => {
      const { registry, newcomer } = await loadFixture(fixture);
      expect(await registry.platformTcbOf(newcomer.address)).to.deep.equal([`0x${"00".repeat(16)}`, 0n]);
      const fingerprint = id("newcomer key");
      await expect(registry.connect(newcomer).register(ENDPOINT, fingerprint, PLATFORM, 8, { value: PARAMS.minStake }))
        .to.emit(registry, "HostRegistered")
        .withArgs(newcomer.address, ENDPOINT, fingerprint, Object.values(PLATFORM), 8, PARAMS.minStake);
      const info = await registry.hostInfo(newcomer.address);
      expect(info.state).to.equal(HostState.Active);
      expect(info.endpoint).to.equal(ENDPOINT);
      expect(info.channelKeyFingerprint).to.equal(fingerprint);
      expect(info.platform.teeTcbSvn).to.equal(PLATFORM.teeTcbSvn);
      expect(info.platform.tdxModuleVersion).to.equal(PLATFORM.tdxModuleVersion);
      expect(info.platform.quoteHash).to.equal(PLATFORM.quoteHash);
      expect(await registry.platformTcbOf(newcomer.address)).to.deep.equal([PLATFORM.teeTcbSvn, BigInt(PLATFORM.tdxModuleVersion)]);
      expect(info.capacity).to.equal(8n);
      expect(info.stake).to.equal(PARAMS.minStake);
      expect(info.registeredAt).to.equal(BigInt(await time.latest()));
      expect(await registry.isActive(newcomer.address)).to.equal(true);
      expect(await registry.hostCount()).to.equal(6n);
      expect(await ethers.provider.getBalance(await registry.getAddress())).to.equal(6n * PARAMS.minStake);
    });

    it("rejects a second registration", async () => {
      const { registry, hosts } = await loadFixture(fixture);
      await expect(registry.connect(hosts[0]!).register(ENDPOINT, id("k"), PLATFORM, 1, { value: PARAMS.minStake }))
        .to.be.revertedWithCustomError(registry, "HostRegistryAlreadyRegistered")
        .withArgs(hosts[0]!.address);
    });

    it("rejects a stake below the minimum", async () => {
      const { registry, newcomer } = await loadFixture(fixture);
      await expect(registry.connect(newcomer).register(ENDPOINT, id("k"), PLATFORM, 1, { value: PARAMS.minStake - 1n }))
        .to.be.revertedWithCustomError(registry, "HostRegistryInsufficientStake")
        .withArgs(newcomer.address, PARAMS.minStake - 1n, PARAMS.minStake);
    });

    it("rejects a stake that does not fit in 96 bits", async () => {
      const { registry, newcomer } = await loadFixture(fixture);
      const huge = 2n ** 96n;
      await ethers.provider.send("hardhat_setBalance", [newcomer.address, "0x" + (huge * 2n).toString(16)]);
      await expect(registry.connect(newcomer).register(ENDPOINT, id("k"), PLATFORM, 1, { value: huge }))
        .to.be.revertedWithCustomError(registry, "HostRegistryStakeOverflow")
        .withArgs(newcomer.address, huge);
    });

    it("rejects an empty or over-long endpoint", async () => {
      const { registry, newcomer } = await loadFixture(fixture);
      await expect(registry.connect(newcomer).register("", id("k"), PLATFORM, 1, { value: PARAMS.minStake }))
        .to.be.revertedWithCustomError(registry, "HostRegistryInvalidEndpoint")
        .withArgs(0, 256);
      await expect(registry.connect(newcomer).register("x".repeat(257), id("k"), PLATFORM, 1, { value: PARAMS.minStake }))
        .to.be.revertedWithCustomError(registry, "HostRegistryInvalidEndpoint")
        .withArgs(257, 256);
    });

    it("rejects a zero channel key fingerprint and a zero capacity", async () => {
      const { registry, newcomer } = await loadFixture(fixture);
      await expect(registry.connect(newcomer).register(ENDPOINT, ZeroHash, PLATFORM, 1, { value: PARAMS.minStake }))
        .to.be.revertedWithCustomError(registry, "HostRegistryZeroChannelKeyFingerprint")
        .withArgs(newcomer.address);
      await expect(registry.connect(newcomer).register(ENDPOINT, id("k"), PLATFORM, 0, { value: PARAMS.minStake }))
        .to.be.revertedWithCustomError(registry, "HostRegistryZeroCapacity")
        .withArgs(newcomer.address);
    });

    it("is refused while the registry is paused", async () => {
      const { registry, newcomer } = await loadFixture(fixture);
      await registry.pause();
      await expect(
        registry.connect(newcomer).register(ENDPOINT, id("k"), PLATFORM, 1, { value: PARAMS.minStake }),
      ).to.be.revertedWithCustomError(registry, "EnforcedPause");
    });
  });

  describe("update and increaseStake", () => {
    it("replaces the published data", async () => {
      const { registry, hosts } = await loadFixture(fixture);
      const platform = { ...PLATFORM, quoteHash: id("fresh quote") };
      await expect(registry.connect(hosts[0]!).update("tcp://10.0.0.1:1", id("new key"), platform, 2))
        .to.emit(registry, "HostUpdated")
        .withArgs(hosts[0]!.address, "tcp://10.0.0.1:1", id("new key"), Object.values(platform), 2);
      const info = await registry.hostInfo(hosts[0]!.address);
      expect(info.endpoint).to.equal("tcp://10.0.0.1:1");
      expect(info.channelKeyFingerprint).to.equal(id("new key"));
      expect(info.platform.quoteHash).to.equal(id("fresh quote"));
      expect(info.capacity).to.equal(2n);
    });

    it("rejects an update from an unregistered or exiting host, and bad data", async () => {
      const { registry, hosts, newcomer } = await loadFixture(fixture);
      await expect(registry.connect(newcomer).update(ENDPOINT, id("k"), PLATFORM, 1))
        .to.be.revertedWithCustomError(registry, "HostRegistryUnexpectedState")
        .withArgs(newcomer.address, HostState.Unregistered, HostState.Active);
      await expect(registry.connect(hosts[0]!).update(ENDPOINT, id("k"), PLATFORM, 0))
        .to.be.revertedWithCustomError(registry, "HostRegistryZeroCapacity")
        .withArgs(hosts[0]!.address);
      await registry.connect(hosts[0]!).deregister();
      await expect(registry.connect(hosts[0]!).update(ENDPOINT, id("k"), PLATFORM, 1))
        .to.be.revertedWithCustomError(registry, "HostRegistryUnexpectedState")
        .withArgs(hosts[0]!.address, HostState.Exiting, HostState.Active);
    });

    it("lets a suspended host update, but nobody while the registry is paused", async () => {
      const { registry, hosts } = await loadFixture(fixture);
      await registry.suspendHost(hosts[0]!.address);
      await expect(registry.connect(hosts[0]!).update(ENDPOINT, id("k"), PLATFORM, 1)).to.emit(registry, "HostUpdated");
      await registry.pause();
      await expect(registry.connect(hosts[1]!).update(ENDPOINT, id("k"), PLATFORM, 1)).to.be.revertedWithCustomError(
        registry,
        "EnforcedPause",
      );
    });

    it("adds to the stake", async () => {
      const { registry, hosts } = await loadFixture(fixture);
      await expect(registry.connect(hosts[0]!).increaseStake({ value: 5n }))
        .to.emit(registry, "StakeIncreased")
        .withArgs(hosts[0]!.address, 5n, PARAMS.minStake + 5n);
      expect((await registry.hostInfo(hosts[0]!.address)).stake).to.equal(PARAMS.minStake + 5n);
    });

    it("rejects a zero increase, an increase past 96 bits and one from an unregistered host", async () => {
      const { registry, hosts, newcomer } = await loadFixture(fixture);
      await expect(registry.connect(hosts[0]!).increaseStake())
        .to.be.revertedWithCustomError(registry, "HostRegistryInsufficientStake")
        .withArgs(hosts[0]!.address, 0, 1);
      const huge = 2n ** 96n;
      await ethers.provider.send("hardhat_setBalance", [hosts[0]!.address, "0x" + (huge * 2n).toString(16)]);
      await expect(registry.connect(hosts[0]!).increaseStake({ value: huge }))
        .to.be.revertedWithCustomError(registry, "HostRegistryStakeOverflow")
        .withArgs(hosts[0]!.address, huge + PARAMS.minStake);
      await expect(registry.connect(newcomer).increaseStake({ value: 1n }))
        .to.be.revertedWithCustomError(registry, "HostRegistryUnexpectedState")
        .withArgs(newcomer.address, HostState.Unregistered, HostState.Active);
    });
  });

  describe("deregister and withdrawStake", () => {
    it("locks the stake for the withdrawal delay, then pays it back and forgets the host", async () => {
      const { registry, hosts } = await loadFixture(fixture);
      const host = hosts[0]!;
      const tx = registry.connect(host).deregister();
      const unlockAt = BigInt(await time.latest()) + 1n + PARAMS.withdrawalDelay;
      await expect(tx).to.emit(registry, "HostDeregistered").withArgs(host.address, unlockAt);
      expect(await registry.hostState(host.address)).to.equal(HostState.Exiting);
      expect(await registry.isActive(host.address)).to.equal(false);
      await expect(registry.connect(host).withdrawStake())
        .to.be.revertedWithCustomError(registry, "HostRegistryUnexpectedState")
        .withArgs(host.address, HostState.Exiting, HostState.Withdrawable);

      await time.increaseTo(unlockAt);
      expect(await registry.hostState(host.address)).to.equal(HostState.Withdrawable);
      const withdrawal = registry.connect(host).withdrawStake();
      await expect(withdrawal).to.emit(registry, "StakeWithdrawn").withArgs(host.address, PARAMS.minStake);
      await expect(withdrawal).to.changeEtherBalances(ethers, [host, registry], [PARAMS.minStake, -PARAMS.minStake]);
      expect(await registry.hostState(host.address)).to.equal(HostState.Unregistered);
      expect(await registry.hostCount()).to.equal(4n);
      // Gone for good: it may register again from scratch.
      await registry.connect(host).register(ENDPOINT, id("k"), PLATFORM, 1, { value: PARAMS.minStake });
      expect(await registry.isActive(host.address)).to.equal(true);
    });

    it("rejects deregistering twice or without registering, and withdrawing without deregistering", async () => {
      const { registry, hosts, newcomer } = await loadFixture(fixture);
      await expect(registry.connect(newcomer).deregister())
        .to.be.revertedWithCustomError(registry, "HostRegistryUnexpectedState")
        .withArgs(newcomer.address, HostState.Unregistered, HostState.Active);
      await expect(registry.connect(hosts[1]!).withdrawStake())
        .to.be.revertedWithCustomError(registry, "HostRegistryUnexpectedState")
        .withArgs(hosts[1]!.address, HostState.Active, HostState.Withdrawable);
      await registry.connect(hosts[0]!).deregister();
      await expect(registry.connect(hosts[0]!).deregister())
        .to.be.revertedWithCustomError(registry, "HostRegistryUnexpectedState")
        .withArgs(hosts[0]!.address, HostState.Exiting, HostState.Active);
    });

    it("keeps deregistration and withdrawal open while the registry is paused", async () => {
      const { registry, hosts } = await loadFixture(fixture);
      await registry.pause();
      await registry.connect(hosts[0]!).deregister();
      await time.increase(PARAMS.withdrawalDelay);
      await expect(registry.connect(hosts[0]!).withdrawStake()).to.emit(registry, "StakeWithdrawn");
    });

    it("reports a failed stake transfer and keeps the stake", async () => {
      const { registry, admin } = await loadFixture(fixture);
      const account = await (await ethers.getContractFactory("ProgrammableAccount", admin)).deploy();
      const target = await registry.getAddress();
      const calls = registry.interface;
      await account.execute(target, calls.encodeFunctionData("register", [ENDPOINT, id("k"), PLATFORM, 1]), {
        value: PARAMS.minStake,
      });
      await account.execute(target, calls.encodeFunctionData("deregister"));
      await time.increase(PARAMS.withdrawalDelay);
      await account.setRejecting(true);
      await expect(account.execute(target, calls.encodeFunctionData("withdrawStake")))
        .to.be.revertedWithCustomError(registry, "HostRegistryTransferFailed")
        .withArgs(await account.getAddress(), PARAMS.minStake);
      expect(await registry.hostState(await account.getAddress())).to.equal(HostState.Withdrawable);
      await account.setRejecting(false);
      await expect(account.execute(target, calls.encodeFunctionData("withdrawStake"))).to.emit(registry, "StakeWithdrawn");
    });
  });

  describe("admin", () => {
    it("suspends and reinstates a host", async () => {
      const { registry, admin, hosts } = await loadFixture(fixture);
      const host = hosts[0]!.address;
      await expect(registry.suspendHost(host)).to.emit(registry, "HostSuspended").withArgs(host, admin.address);
      expect(await registry.hostState(host)).to.equal(HostState.Suspended);
      expect(await registry.isActive(host)).to.equal(false);
      expect((await registry.hostInfo(host)).suspended).to.equal(true);
      await expect(registry.suspendHost(host))
        .to.be.revertedWithCustomError(registry, "HostRegistrySuspensionUnchanged")
        .withArgs(host, true);
      await expect(registry.reinstateHost(host)).to.emit(registry, "HostReinstated").withArgs(host, admin.address);
      expect(await registry.isActive(host)).to.equal(true);
      await expect(registry.reinstateHost(host))
        .to.be.revertedWithCustomError(registry, "HostRegistrySuspensionUnchanged")
        .withArgs(host, false);
    });

    it("rejects suspending an unknown host", async () => {
      const { registry, newcomer } = await loadFixture(fixture);
      await expect(registry.suspendHost(newcomer.address))
        .to.be.revertedWithCustomError(registry, "HostRegistryUnexpectedState")
        .withArgs(newcomer.address, HostState.Unregistered, HostState.Active);
      await expect(registry.reinstateHost(newcomer.address))
        .to.be.revertedWithCustomError(registry, "HostRegistryUnexpectedState")
        .withArgs(newcomer.address, HostState.Unregistered, HostState.Active);
    });

    it("pauses and unpauses without changing which hosts are active", async () => {
      const { registry, hosts } = await loadFixture(fixture);
      await expect(registry.pause()).to.emit(registry, "Paused");
      expect(await registry.isActive(hosts[0]!.address)).to.equal(true);
      await expect(registry.unpause()).to.emit(registry, "Unpaused");
    });

    it("sets the withdrawal delay for later deregistrations", async () => {
      const { registry, hosts } = await loadFixture(fixture);
      await expect(registry.setWithdrawalDelay(10)).to.emit(registry, "WithdrawalDelayChanged").withArgs(PARAMS.withdrawalDelay, 10);
      expect(await registry.withdrawalDelay()).to.equal(10n);
      await registry.connect(hosts[0]!).deregister();
      expect((await registry.hostInfo(hosts[0]!.address)).unlockAt).to.equal(BigInt(await time.latest()) + 10n);
      await expect(registry.setWithdrawalDelay(365n * 86400n + 1n))
        .to.be.revertedWithCustomError(registry, "HostRegistryWithdrawalDelayTooLong")
        .withArgs(365n * 86400n + 1n, 365n * 86400n);
    });

    it("refuses every admin function to an account without the role", async () => {
      const { registry, outsider, hosts } = await loadFixture(fixture);
      const pauser = await registry.PAUSER_ROLE();
      const adminRole = await registry.DEFAULT_ADMIN_ROLE();
      const calls = [
        [registry.connect(outsider).pause(), pauser],
        [registry.connect(outsider).unpause(), pauser],
        [registry.connect(outsider).suspendHost(hosts[0]!.address), pauser],
        [registry.connect(outsider).reinstateHost(hosts[0]!.address), pauser],
        [registry.connect(outsider).setWithdrawalDelay(1), adminRole],
      ] as const;
      for (const [call, role] of calls) {
        await expect(call)
          .to.be.revertedWithCustomError(registry, "AccessControlUnauthorizedAccount")
          .withArgs(outsider.address, role);
      }
    });
  });

  describe("views", () => {
    it("reports an unknown host as Unregistered with zero fields", async () => {
      const { registry, newcomer } = await loadFixture(fixture);
      const info = await registry.hostInfo(newcomer.address);
      expect(info.state).to.equal(HostState.Unregistered);
      expect(info.stake).to.equal(0n);
      expect(info.endpoint).to.equal("");
      expect(await registry.isActive(newcomer.address)).to.equal(false);
    });
  });
});
