import { expect } from "chai";
import { Wallet, ZeroHash, id } from "ethers";
import { TvmxError } from "../../orchestrator/errors/index.js";
import TvmExchange from "../../deploy/modules/TvmExchange.js";
import { deploySuite } from "../../deploy/deploy-suite.js";
import { PARAMS, connection, ethers, time } from "./fixtures.js";

describe("deployment", () => {
  it("deploySuite deploys through the Ignition module, wires, and hands the admin roles over", async () => {
    const [deployer, admin, recorder] = await ethers.getSigners();
    const suite = await deploySuite(deployer!, { ...PARAMS, admin: admin!.address, mirrorRecorders: [recorder!.address] });
    const { hostRegistry, allocationRegistry, migrationAuction } = suite.contracts;
    expect(await allocationRegistry.hasRole(id("ALLOCATOR_ROLE"), suite.migrationAuction)).to.equal(true);
    expect(await allocationRegistry.hasRole(id("MIRROR_RECORDER_ROLE"), recorder!.address)).to.equal(true);
    expect(await migrationAuction.hostRegistry()).to.equal(suite.hostRegistry);
    expect(await migrationAuction.allocationRegistry()).to.equal(suite.allocationRegistry);
    expect(await allocationRegistry.hostRegistry()).to.equal(suite.hostRegistry);
    expect(await hostRegistry.minStake()).to.equal(PARAMS.minStake);
    expect(await allocationRegistry.confirmationTimeout()).to.equal(PARAMS.confirmationTimeout);
    for (const [contract, role] of [
      [hostRegistry, ZeroHash],
      [hostRegistry, id("PAUSER_ROLE")],
      [allocationRegistry, ZeroHash],
      [allocationRegistry, id("PAUSER_ROLE")],
      [migrationAuction, ZeroHash],
      [migrationAuction, id("PAUSER_ROLE")],
    ] as const) {
      expect(await contract.hasRole(role, admin!.address)).to.equal(true);
      expect(await contract.hasRole(role, deployer!.address)).to.equal(false);
    }
    // Without auctionLimits, the limits that hold on a chain with 12 s slots.
    expect(await migrationAuction.windowFloors()).to.deep.equal([36n, 36n]);
    expect(await migrationAuction.auctionLimits()).to.deep.equal([36n, 36n, 10n ** 18n]);
  });

  it("the Ignition module deploys and wires the suite with its parameters", async () => {
    const [deployer, , , admin] = await ethers.getSigners();
    const { hostRegistry, allocationRegistry, migrationAuction } = await connection.ignition.deploy(TvmExchange, {
      parameters: { TvmExchange: { minStake: 5n, withdrawalDelay: 7n, confirmationTimeout: 9n, admin: admin!.address, maxBond: 11n } },
    });
    const auctionAddress = await migrationAuction.getAddress();
    expect(await allocationRegistry.getFunction("hasRole")(id("ALLOCATOR_ROLE"), auctionAddress)).to.equal(true);
    expect(await allocationRegistry.getFunction("hasRole")(id("MIRROR_RECORDER_ROLE"), deployer!.address)).to.equal(false);
    expect(await hostRegistry.getFunction("hasRole")(ZeroHash, admin!.address)).to.equal(true);
    expect(await hostRegistry.getFunction("hasRole")(id("PAUSER_ROLE"), admin!.address)).to.equal(true);
    expect(await allocationRegistry.getFunction("hasRole")(ZeroHash, admin!.address)).to.equal(true);
    expect(await allocationRegistry.getFunction("hasRole")(id("PAUSER_ROLE"), admin!.address)).to.equal(true);
    expect(await migrationAuction.getFunction("hasRole")(id("PAUSER_ROLE"), admin!.address)).to.equal(true);
    expect(await hostRegistry.getFunction("minStake")()).to.equal(5n);
    expect(await hostRegistry.getFunction("withdrawalDelay")()).to.equal(7n);
    expect(await allocationRegistry.getFunction("confirmationTimeout")()).to.equal(9n);
    expect(await migrationAuction.getFunction("allocationRegistry")()).to.equal(await allocationRegistry.getAddress());
    // The auction's admin is the named one from the start; the window floors default to three 12 s slots.
    expect(await migrationAuction.getFunction("hasRole")(ZeroHash, admin!.address)).to.equal(true);
    expect(await migrationAuction.getFunction("hasRole")(ZeroHash, deployer!.address)).to.equal(false);
    expect(await migrationAuction.getFunction("windowFloors")()).to.deep.equal([36n, 36n]);
    expect(await migrationAuction.getFunction("auctionLimits")()).to.deep.equal([36n, 36n, 11n]);
    // The deployer was not asked to keep any role, so it holds none, on any contract.
    for (const contract of [hostRegistry, allocationRegistry, migrationAuction]) {
      for (const role of [ZeroHash, id("PAUSER_ROLE"), id("MIRROR_RECORDER_ROLE"), id("ALLOCATOR_ROLE")]) {
        expect(await contract.getFunction("hasRole")(role, deployer!.address)).to.equal(false);
      }
      expect(await contract.getFunction("hasRole")(id("PAUSER_ROLE"), admin!.address)).to.equal(true);
    }
  });

  it("deploySuite and Hardhat's Ignition plugin, running the same module, give every role to the same holders", async () => {
    const [deployer, , , admin, recorder] = await ethers.getSigners();
    const bySuite = (await deploySuite(deployer!, { ...PARAMS, admin: admin!.address, mirrorRecorders: [recorder!.address] })).contracts;
    const byIgnition = await connection.ignition.deploy(TvmExchange, {
      parameters: { TvmExchange: { minStake: PARAMS.minStake, withdrawalDelay: PARAMS.withdrawalDelay, confirmationTimeout: PARAMS.confirmationTimeout, admin: admin!.address, mirrorRecorders: [recorder!.address] } },
    });
    const holders = async (contracts: { hostRegistry: unknown; allocationRegistry: unknown; migrationAuction: unknown }) => {
      const seen: boolean[] = [];
      for (const name of ["hostRegistry", "allocationRegistry", "migrationAuction"] as const) {
        const contract = contracts[name] as { getFunction(n: string): (...a: unknown[]) => Promise<boolean> };
        for (const role of [ZeroHash, id("PAUSER_ROLE"), id("MIRROR_RECORDER_ROLE")]) {
          for (const account of [deployer!, admin!, recorder!]) seen.push(await contract.getFunction("hasRole")(role, account.address));
        }
      }
      return seen;
    };
    expect(await holders(byIgnition)).to.deep.equal(await holders(bySuite));
  });

  it("deploySuite sends from a key held here (not unlocked on the node) and names a refused parameter", async () => {
    const [funder] = await ethers.getSigners();
    const key = Wallet.createRandom().connect(ethers.provider);
    await (await funder!.sendTransaction({ to: key.address, value: 10n ** 18n })).wait();
    const suite = await deploySuite(key, { ...PARAMS, admin: funder!.address });
    expect(await suite.contracts.allocationRegistry.hasRole(id("ALLOCATOR_ROLE"), suite.migrationAuction)).to.equal(true);
    expect(await suite.contracts.hostRegistry.stakeLocker()).to.equal(suite.migrationAuction);
    expect(await ethers.provider.getTransactionCount(key.address)).to.equal(5); // three contracts and the two bindings
    const err = await deploySuite(key, { ...PARAMS, minStake: 0n }).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(TvmxError);
    expect([(err as TvmxError).code, (err as TvmxError).details]).to.deep.equal(["DEPLOYMENT_INVALID", { name: "minStake" }]);
  });

  it("lets only the deployer bind the allocator, once", async () => {
    const [deployer, admin, attacker] = await ethers.getSigners();
    const suite = await deploySuite(deployer!, { ...PARAMS, admin: admin!.address });
    const registry = suite.contracts.allocationRegistry;
    await expect(registry.connect(attacker!).bindAllocator(attacker!.address))
      .to.be.revertedWithCustomError(registry, "AllocationRegistryNotBinder")
      .withArgs(attacker!.address, deployer!.address);
    await expect(registry.connect(deployer!).bindAllocator(attacker!.address))
      .to.be.revertedWithCustomError(registry, "AllocationRegistryAllocatorBound");
    expect(await registry.hasRole(id("ALLOCATOR_ROLE"), attacker!.address)).to.equal(false);
  });

  it("lets only the deployer bind the stake locker, once", async () => {
    const [deployer, admin, attacker] = await ethers.getSigners();
    const suite = await deploySuite(deployer!, { ...PARAMS, admin: admin!.address });
    const registry = suite.contracts.hostRegistry;
    await expect(registry.connect(attacker!).bindStakeLocker(attacker!.address))
      .to.be.revertedWithCustomError(registry, "HostRegistryNotBinder")
      .withArgs(attacker!.address, deployer!.address);
    await expect(registry.connect(admin!).bindStakeLocker(attacker!.address))
      .to.be.revertedWithCustomError(registry, "HostRegistryNotBinder")
      .withArgs(admin!.address, deployer!.address);
    await expect(registry.connect(deployer!).bindStakeLocker(attacker!.address))
      .to.be.revertedWithCustomError(registry, "HostRegistryStakeLockerBound")
      .withArgs(suite.migrationAuction);
    expect(await registry.stakeLocker()).to.equal(suite.migrationAuction);
    // Nobody but the bound auction locks a stake.
    await expect(registry.connect(attacker!).lockStake(admin!.address, 1n))
      .to.be.revertedWithCustomError(registry, "HostRegistryNotStakeLocker")
      .withArgs(attacker!.address, suite.migrationAuction);
  });

  it("transfers the admin role of every contract in two steps, a day apart, and only to an address that accepts", async () => {
    const [deployer, admin, successor, stranger] = await ethers.getSigners();
    const { contracts } = await deploySuite(deployer!, { ...PARAMS, admin: admin!.address });
    for (const contract of [contracts.hostRegistry, contracts.allocationRegistry, contracts.migrationAuction]) {
      // A one-step grant is refused outright.
      await expect(contract.connect(admin!).grantRole(ZeroHash, successor!.address))
        .to.be.revertedWithCustomError(contract, "AccessControlEnforcedDefaultAdminRules");
      await contract.connect(admin!).beginDefaultAdminTransfer(successor!.address);
      const [pending, schedule] = await contract.pendingDefaultAdmin();
      expect(pending).to.equal(successor!.address);
      expect(schedule - BigInt(await time.latest())).to.equal(86_400n);
      // Nobody else can accept, and the successor not before the delay.
      await expect(contract.connect(stranger!).acceptDefaultAdminTransfer())
        .to.be.revertedWithCustomError(contract, "AccessControlInvalidDefaultAdmin")
        .withArgs(stranger!.address);
      await expect(contract.connect(successor!).acceptDefaultAdminTransfer())
        .to.be.revertedWithCustomError(contract, "AccessControlEnforcedDefaultAdminDelay")
        .withArgs(schedule);
      await time.increaseTo(schedule + 1n);
      await contract.connect(successor!).acceptDefaultAdminTransfer();
      expect(await contract.hasRole(ZeroHash, successor!.address)).to.equal(true);
      expect(await contract.hasRole(ZeroHash, admin!.address)).to.equal(false);
      expect(await contract.defaultAdmin()).to.equal(successor!.address);
    }
  });
});
