import { readFileSync } from "node:fs";
import type { Signer } from "ethers";
import { deployTvmExchange, signerProvider } from "../orchestrator/chain/ignition/index.js";
import type { SuiteAddresses } from "../orchestrator/chain/index.js";
import {
  AllocationRegistry__factory,
  HostRegistry__factory,
  MigrationAuction__factory,
} from "../types/ethers-contracts/index.js";
import type { AllocationRegistry, HostRegistry, MigrationAuction } from "../types/ethers-contracts/index.js";

export type { SuiteAddresses };

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
  /** Largest bond a source may ask, in wei (the admin may change it; default: the module's, 1 ETH). */
  maxBond?: bigint;
}

/**
 * Limits that hold on a chain with 12 s slots (MigrationAuction.SLOT_SAFE_WINDOW: three slots per phase), and a
 * bond cap of 1 ETH: the Ignition module's defaults, written out for the tests that ask for them by name.
 */
export const SLOT_SAFE_AUCTION_LIMITS: AuctionLimitParams = { commitWindowFloor: 36n, revealWindowFloor: 36n, maxBond: 10n ** 18n };

/** A deployed suite: addresses and typed contracts connected to the deployer. */
export interface DeployedSuite extends SuiteAddresses {
  contracts: {
    hostRegistry: HostRegistry;
    migrationAuction: MigrationAuction;
    allocationRegistry: AllocationRegistry;
  };
}

/**
 * The parameters of a local chain, read from deploy/parameters/local.json (what `npm run deploy:local` deploys with):
 * 1 ETH stake, one-hour withdrawal delay, ten-minute confirmation, and window floors of one second, which hold only on
 * a chain that mines each transaction at once (the demo, the host tests). Never for a chain with real block times.
 */
export const LOCAL_SUITE_PARAMS: SuiteParams = suiteParamsOf(readModuleParameters(new URL("./parameters/local.json", import.meta.url)));

/** The auction limits of {@link LOCAL_SUITE_PARAMS}. */
export const LOCAL_AUCTION_LIMITS: AuctionLimitParams = LOCAL_SUITE_PARAMS.auctionLimits!;

/**
 * Deploys HostRegistry, AllocationRegistry and MigrationAuction through the Ignition module (deploy/modules/
 * TvmExchange.ts), the one deploy path, sending from `deployer`: `admin` holds the admin and pauser roles from the
 * constructors, the recorders their role, and the deployer only binds the auction as the registry's allocator
 * (AllocationRegistry.bindAllocator) and as the HostRegistry's stake locker (HostRegistry.bindStakeLocker). Parameters left out take the module's defaults. Returns the addresses and
 * typed contracts connected to the deployer.
 */
export async function deploySuite(deployer: Signer, params: SuiteParams): Promise<DeployedSuite> {
  const addresses = await deployTvmExchange({ provider: signerProvider(deployer), parameters: moduleParametersOf(params), pollIntervalMs: 20 });
  return {
    hostRegistry: addresses.hostRegistry,
    migrationAuction: addresses.migrationAuction,
    allocationRegistry: addresses.allocationRegistry,
    contracts: {
      hostRegistry: HostRegistry__factory.connect(addresses.hostRegistry, deployer),
      migrationAuction: MigrationAuction__factory.connect(addresses.migrationAuction, deployer),
      allocationRegistry: AllocationRegistry__factory.connect(addresses.allocationRegistry, deployer),
    },
  };
}

/** The Ignition module's parameters for `params` (only those given: the module has the defaults). */
export function moduleParametersOf(params: SuiteParams): Record<string, bigint | string | string[]> {
  const limits = params.auctionLimits;
  return {
    minStake: params.minStake,
    withdrawalDelay: params.withdrawalDelay,
    confirmationTimeout: params.confirmationTimeout,
    ...(params.admin !== undefined ? { admin: params.admin } : {}),
    ...(params.mirrorRecorders !== undefined ? { mirrorRecorders: [...params.mirrorRecorders] } : {}),
    ...(limits ? { commitWindowFloor: limits.commitWindowFloor, revealWindowFloor: limits.revealWindowFloor } : {}),
    ...(limits?.maxBond !== undefined ? { maxBond: limits.maxBond } : {}),
  };
}

/** The module parameters of an Ignition parameter file (bigints written as "123n", as Ignition reads them). */
function readModuleParameters(file: URL): Record<string, unknown> {
  const parsed = JSON.parse(readFileSync(file, "utf8")) as { TvmExchange?: Record<string, unknown> };
  const values = parsed.TvmExchange ?? {};
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, typeof v === "string" && /^[0-9]+n$/.test(v) ? BigInt(v.slice(0, -1)) : v]));
}

function suiteParamsOf(p: Record<string, unknown>): SuiteParams {
  const big = (name: string): bigint => {
    const v = p[name];
    if (typeof v !== "bigint") throw new Error(`deploy/parameters/local.json: TvmExchange.${name} must be an integer written as "123n"`);
    return v;
  };
  return {
    minStake: big("minStake"),
    withdrawalDelay: big("withdrawalDelay"),
    confirmationTimeout: big("confirmationTimeout"),
    auctionLimits: { commitWindowFloor: big("commitWindowFloor"), revealWindowFloor: big("revealWindowFloor"), ...(typeof p.maxBond === "bigint" ? { maxBond: p.maxBond } : {}) },
  };
}
