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
}

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

/** Default parameters for a local chain: 1 ETH stake, one-hour withdrawal delay, ten-minute confirmation. */
export const LOCAL_SUITE_PARAMS: SuiteParams = {
  minStake: 10n ** 18n,
  withdrawalDelay: 3600n,
  confirmationTimeout: 600n,
};

/**
 * Deploys HostRegistry, AllocationRegistry and MigrationAuction with plain ethers and the typechain factories,
 * and wires them (ALLOCATOR_ROLE of the AllocationRegistry to the auction). Waits for every transaction, so it
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

  const migrationAuction = await new MigrationAuction__factory(deployer).deploy(
    hostRegistryAddress,
    allocationRegistryAddress,
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
    await (await hostRegistry.renounceRole(pauserRole, deployerAddress)).wait();
    await (await hostRegistry.renounceRole(adminRole, deployerAddress)).wait();
    await (await allocationRegistry.renounceRole(adminRole, deployerAddress)).wait();
  }

  return {
    hostRegistry: hostRegistryAddress,
    migrationAuction: migrationAuctionAddress,
    allocationRegistry: allocationRegistryAddress,
    contracts: { hostRegistry, migrationAuction, allocationRegistry },
  };
}
