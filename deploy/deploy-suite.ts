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
   * Holder of the admin and pauser roles of all three contracts, from their constructors. Defaults to the deployer;
   * otherwise the deployer holds no role at any time (it only binds the auction as the registry's allocator).
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
 * exactly as the Ignition module does (deploy/modules/TvmExchange.ts): `admin` holds the admin and pauser roles
 * from the constructors, the recorders their role, and the deployer only binds the auction as the registry's
 * allocator (AllocationRegistry.bindAllocator). Waits for every transaction, so it works the same against an
 * in-process network and a running node.
 */
export async function deploySuite(deployer: Signer, params: SuiteParams): Promise<DeployedSuite> {
  const deployerAddress = await deployer.getAddress();
  const admin = params.admin ?? deployerAddress;
  const hostRegistry = await new HostRegistry__factory(deployer).deploy(
    admin,
    params.minStake,
    params.withdrawalDelay,
  );
  await hostRegistry.waitForDeployment();
  const hostRegistryAddress = await hostRegistry.getAddress();

  const allocationRegistry = await new AllocationRegistry__factory(deployer).deploy(
    admin,
    hostRegistryAddress,
    params.confirmationTimeout,
    [...(params.mirrorRecorders ?? [])],
  );
  await allocationRegistry.waitForDeployment();
  const allocationRegistryAddress = await allocationRegistry.getAddress();

  const limits = params.auctionLimits ?? SLOT_SAFE_AUCTION_LIMITS;
  const migrationAuction = await new MigrationAuction__factory(deployer).deploy(
    admin,
    hostRegistryAddress,
    allocationRegistryAddress,
    limits.commitWindowFloor,
    limits.revealWindowFloor,
    limits.maxBond,
  );
  await migrationAuction.waitForDeployment();
  const migrationAuctionAddress = await migrationAuction.getAddress();

  // The only wiring, and the deployer's only power: it binds the auction as the registry's allocator, once.
  await (await allocationRegistry.bindAllocator(migrationAuctionAddress)).wait();

  return {
    hostRegistry: hostRegistryAddress,
    migrationAuction: migrationAuctionAddress,
    allocationRegistry: allocationRegistryAddress,
    contracts: { hostRegistry, migrationAuction, allocationRegistry },
  };
}
