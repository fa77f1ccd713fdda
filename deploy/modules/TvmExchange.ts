import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/**
 * The TVM Exchange contract suite: HostRegistry, AllocationRegistry and MigrationAuction, wired together
 * (the auction holds the AllocationRegistry's ALLOCATOR_ROLE and is the HostRegistry's stake locker). Every deployment runs this module: `tvmx deploy` and
 * `npm run deploy:local` over RPC, the demo and the tests through deploy/deploy-suite.ts (Ignition's engine, from
 * their signer).
 *
 * Parameters (module "TvmExchange"):
 * - minStake            wei a host stakes to register (immutable)
 * - withdrawalDelay     seconds between deregistration and stake withdrawal
 * - confirmationTimeout seconds after an allocation before its source may abort alone
 * - admin               address given the admin and pauser roles of all three contracts, from their
 *                       constructors (defaults to the deployer). Admin transfers take two steps and a day.
 * - mirrorRecorders     addresses given MIRROR_RECORDER_ROLE, to record allocations of another chain (default
 *                       none: a destination records its own mirror as an active host of that chain)
 * - commitWindowFloor   least seconds from an auction's opening to its commit deadline; the MigrationAuction
 *                       admin may raise the minimum but never below this (default 36: three 12 s slots)
 * - revealWindowFloor   the same for the reveal phase (default 36)
 * - maxBond             largest bond a source may ask, in wei (default 1 ETH; the admin may change it)
 *
 * The deployer holds no role unless it is the admin or a recorder: its one power is binding the auction, once, as
 * the AllocationRegistry's allocator (AllocationRegistry.bindAllocator) and as the HostRegistry's stake locker
 * (HostRegistry.bindStakeLocker: the auction locks a winner's stake while its allocation can be live).
 *
 * The window defaults hold on a chain with 12 s slots. Only a local chain that mines on demand may lower them
 * (deploy/parameters/local.json and mirror.json do, to 1 s).
 *
 * The same module deploys the suite on a second chain (the destination's), where winners record their
 * allocations with AllocationRegistry.recordMirror.
 */
export default buildModule("TvmExchange", (m) => {
  const deployer = m.getAccount(0);
  const minStake = m.getParameter<bigint>("minStake", 10n ** 18n);
  const withdrawalDelay = m.getParameter<bigint>("withdrawalDelay", 3600n);
  const confirmationTimeout = m.getParameter<bigint>("confirmationTimeout", 600n);
  const admin = m.getParameter("admin", deployer);
  const mirrorRecorders = m.getParameter<string[]>("mirrorRecorders", []);
  const commitWindowFloor = m.getParameter<bigint>("commitWindowFloor", 36n);
  const revealWindowFloor = m.getParameter<bigint>("revealWindowFloor", 36n);
  const maxBond = m.getParameter<bigint>("maxBond", 10n ** 18n);

  const hostRegistry = m.contract("HostRegistry", [admin, minStake, withdrawalDelay]);
  const allocationRegistry = m.contract("AllocationRegistry", [admin, hostRegistry, confirmationTimeout, mirrorRecorders]);
  const migrationAuction = m.contract("MigrationAuction", [
    admin,
    hostRegistry,
    allocationRegistry,
    commitWindowFloor,
    revealWindowFloor,
    maxBond,
  ]);
  m.call(allocationRegistry, "bindAllocator", [migrationAuction], { id: "BindAllocator" });
  m.call(hostRegistry, "bindStakeLocker", [migrationAuction], { id: "BindStakeLocker" });

  return { hostRegistry, allocationRegistry, migrationAuction };
});
