import { expect } from "chai";
import { ZeroHash, id } from "ethers";
import TvmExchange from "../../deploy/modules/TvmExchange.js";
import { deploySuite } from "../../deploy/deploy-suite.js";
import { PARAMS, connection, ethers } from "./fixtures.js";

describe("deployment", () => {
  it("deploySuite deploys, wires, and hands the admin roles over", async () => {
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
    expect(await allocationRegistry.getFunction("hasRole")(id("MIRROR_RECORDER_ROLE"), deployer!.address)).to.equal(true);
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
  });
});
