/**
 * The TCB statuses of Intel's TCB Info and QE Identity collateral, a leaf module: the collateral parsers
 * (tcb-info.ts, qe-identity.ts) and the policy all read it, and none of them may import another for it.
 */
export const TCB_STATUSES = [
  "UpToDate",
  "SWHardeningNeeded",
  "ConfigurationNeeded",
  "ConfigurationAndSWHardeningNeeded",
  "OutOfDate",
  "OutOfDateConfigurationNeeded",
  "Revoked",
] as const;
export type TcbStatus = (typeof TCB_STATUSES)[number];
