import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import { id } from "ethers";

/**
 * The TVM Exchange contract suite: HostRegistry, AllocationRegistry and MigrationAuction, wired together
 * (the auction holds the AllocationRegistry's ALLOCATOR_ROLE).
 *
 * Parameters (module "TvmExchange"):
 * - minStake            wei a host stakes to register (immutable)
 * - withdrawalDelay     seconds between deregistration and stake withdrawal
 * - confirmationTimeout seconds after an allocation before its source may abort alone
 * - admin               address given the admin and pauser roles of all three contracts (defaults to the
 *                       deployer; on the registries the deployer keeps its
 *                       roles as well; hand them over with grantRole/renounceRole if it must not)
 * - mirrorRecorder      address given MIRROR_RECORDER_ROLE, to record allocations of another chain (defaults
 *                       to the deployer)
 * - commitWindowFloor   least seconds from an auction's opening to its commit deadline; the MigrationAuction
 *                       admin may raise the minimum but never below this (default 36: three 12 s slots)
 * - revealWindowFloor   the same for the reveal phase (default 36)
 * - maxBond             largest bond a source may ask, in wei (default 1 ETH; the admin may change it)
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
  const mirrorRecorder = m.getParameter("mirrorRecorder", deployer);
  const commitWindowFloor = m.getParameter<bigint>("commitWindowFloor", 36n);
  const revealWindowFloor = m.getParameter<bigint>("revealWindowFloor", 36n);
  const maxBond = m.getParameter<bigint>("maxBond", 10n ** 18n);

  const hostRegistry = m.contract("HostRegistry", [deployer, minStake, withdrawalDelay]);
  const allocationRegistry = m.contract("AllocationRegistry", [deployer, hostRegistry, confirmationTimeout]);
  // The auction's admin (its limits) is the named admin from the start: the deployer has nothing to wire there.
  const migrationAuction = m.contract("MigrationAuction", [
    admin,
    hostRegistry,
    allocationRegistry,
    commitWindowFloor,
    revealWindowFloor,
    maxBond,
  ]);

  m.call(allocationRegistry, "grantRole", [id("ALLOCATOR_ROLE"), migrationAuction], { id: "GrantAllocatorRole" });
  m.call(allocationRegistry, "grantRole", [id("MIRROR_RECORDER_ROLE"), mirrorRecorder], {
    id: "GrantMirrorRecorderRole",
  });
  const adminRole = "0x0000000000000000000000000000000000000000000000000000000000000000";
  m.call(hostRegistry, "grantRole", [adminRole, admin], { id: "GrantHostRegistryAdmin" });
  m.call(hostRegistry, "grantRole", [id("PAUSER_ROLE"), admin], { id: "GrantHostRegistryPauser" });
  m.call(allocationRegistry, "grantRole", [adminRole, admin], { id: "GrantAllocationRegistryAdmin" });
  m.call(allocationRegistry, "grantRole", [id("PAUSER_ROLE"), admin], { id: "GrantAllocationRegistryPauser" });

  return { hostRegistry, allocationRegistry, migrationAuction };
});
