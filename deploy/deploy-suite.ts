import type { Signer } from "ethers";
import {
  AllocationRegistry__factory,
  HostRegistry__factory,
  MigrationAuction__factory,
} from "../types/ethers-contracts/index.js";
import type { AllocationRegistry, HostRegistry, MigrationAuction } from "../types/ethers-contracts/index.js";

/** Parameters of one deployment of the contract suite. */
export interface SuiteParams {
  /** Minimum host stake, in wei (non-zero). */
  minStake: bigint;
  /** Seconds between a host's deregistration and its stake withdrawal. */
  withdrawalDelay: bigint;
  /** Seconds after an allocation before its source may abort alone. */
  confirmationTimeout: bigint;
  /**
   * Final holder of the admin roles. Defaults to the deployer. When it differs, the deployer wires the suite,
   * hands its roles to `admin` and renounces them.
   */
  admin?: string;
  /** Accounts granted MIRROR_RECORDER_ROLE on the AllocationRegistry. */
  mirrorRecorders?: readonly string[];
  /**
   * Bounds on the terms a source may set (MigrationAuction's floors of the minimum windows, and its bond cap).
   * Defaults to {@link SLOT_SAFE_AUCTION_LIMITS}; a local chain that mines on demand lowers them explicitly.
   */
  auctionLimits?: AuctionLimitParams;
}

/** MigrationAuction's deploy-time limits: the floors (and initial values) of the minimum windows, the bond cap. */
export interface AuctionLimitParams {
  /** Least seconds from the opening block to the commit deadline; the admin can never go below it. */
  commitWindowFloor: bigint;
  /** Least seconds from the commit deadline to the reveal deadline; the admin can never go below it. */
  revealWindowFloor: bigint;
  /** Largest bond a source may ask, in wei (the admin may change it). */
  maxBond: bigint;
}

/**
 * Limits that hold on a chain with 12 s slots (MigrationAuction.SLOT_SAFE_WINDOW: three slots per phase), and a
 * bond cap of 1 ETH: the production default, also the Ignition module's.
 */
export const SLOT_SAFE_AUCTION_LIMITS: AuctionLimitParams = { commitWindowFloor: 36n, revealWindowFloor: 36n, maxBond: 10n ** 18n };

/**
 * Limits for a local chain that mines each transaction at once (the demo, the host tests): phases of a few seconds
 * hold there, so the floors are one second. Never for a chain with real block times.
 */
export const LOCAL_AUCTION_LIMITS: AuctionLimitParams = { commitWindowFloor: 1n, revealWindowFloor: 1n, maxBond: 10n ** 18n };

/** Addresses of a deployed suite. */
export interface SuiteAddresses {
  hostRegistry: string;
  migrationAuction: string;
  allocationRegistry: string;
}

/** A deployed suite: addresses and typed contracts connected to the deployer. */
export interface DeployedSuite extends SuiteAddresses {
  contracts: {
    hostRegistry: HostRegistry;
    migrationAuction: MigrationAuction;
    allocationRegistry: AllocationRegistry;
  };
}

/**
 * Default parameters for a local chain: 1 ETH stake, one-hour withdrawal delay, ten-minute confirmation, and the
 * auction limits lowered for a chain that mines on demand ({@link LOCAL_AUCTION_LIMITS}).
 */
export const LOCAL_SUITE_PARAMS: SuiteParams = {
  minStake: 10n ** 18n,
  withdrawalDelay: 3600n,
  confirmationTimeout: 600n,
  auctionLimits: LOCAL_AUCTION_LIMITS,
};

/**
 * Deploys HostRegistry, AllocationRegistry and MigrationAuction with plain ethers and the typechain factories,
 * and wires them (ALLOCATOR_ROLE of the AllocationRegistry to the auction). The auction's admin (who sets its
 * limits) is `admin` from the start. Waits for every transaction, so it
 * works the same against an in-process network and a running node.
 */
export async function deploySuite(deployer: Signer, params: SuiteParams): Promise<DeployedSuite> {
  const deployerAddress = await deployer.getAddress();
  const hostRegistry = await new HostRegistry__factory(deployer).deploy(
    deployerAddress,
    params.minStake,
    params.withdrawalDelay,
  );
  await hostRegistry.waitForDeployment();
  const hostRegistryAddress = await hostRegistry.getAddress();

  const allocationRegistry = await new AllocationRegistry__factory(deployer).deploy(
    deployerAddress,
    hostRegistryAddress,
    params.confirmationTimeout,
  );
  await allocationRegistry.waitForDeployment();
  const allocationRegistryAddress = await allocationRegistry.getAddress();

  // The auction needs no wiring by the deployer, so its admin is the final one from the start.
  const limits = params.auctionLimits ?? SLOT_SAFE_AUCTION_LIMITS;
  const migrationAuction = await new MigrationAuction__factory(deployer).deploy(
    params.admin ?? deployerAddress,
    hostRegistryAddress,
    allocationRegistryAddress,
    limits.commitWindowFloor,
    limits.revealWindowFloor,
    limits.maxBond,
  );
  await migrationAuction.waitForDeployment();
  const migrationAuctionAddress = await migrationAuction.getAddress();

  const allocatorRole = await allocationRegistry.ALLOCATOR_ROLE();
  await (await allocationRegistry.grantRole(allocatorRole, migrationAuctionAddress)).wait();
  const mirrorRole = await allocationRegistry.MIRROR_RECORDER_ROLE();
  for (const recorder of params.mirrorRecorders ?? []) {
    await (await allocationRegistry.grantRole(mirrorRole, recorder)).wait();
  }

  const admin = params.admin;
  if (admin !== undefined && admin.toLowerCase() !== deployerAddress.toLowerCase()) {
    const adminRole = await hostRegistry.DEFAULT_ADMIN_ROLE();
    const pauserRole = await hostRegistry.PAUSER_ROLE();
    await (await hostRegistry.grantRole(adminRole, admin)).wait();
    await (await hostRegistry.grantRole(pauserRole, admin)).wait();
    await (await allocationRegistry.grantRole(adminRole, admin)).wait();
    await (await allocationRegistry.grantRole(pauserRole, admin)).wait();
    await (await hostRegistry.renounceRole(pauserRole, deployerAddress)).wait();
    await (await hostRegistry.renounceRole(adminRole, deployerAddress)).wait();
    await (await allocationRegistry.renounceRole(pauserRole, deployerAddress)).wait();
    await (await allocationRegistry.renounceRole(adminRole, deployerAddress)).wait();
  }

  return {
    hostRegistry: hostRegistryAddress,
    migrationAuction: migrationAuctionAddress,
    allocationRegistry: allocationRegistryAddress,
    contracts: { hostRegistry, migrationAuction, allocationRegistry },
  };
}
