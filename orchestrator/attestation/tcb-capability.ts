import type { TcbRequirement } from "../tdx/index.js";
import type { TvmTcbCapability } from "./policy.js";

/** A TD's TCB requirement (from its configuration / migration request) as a policy capability. */
export function tcbCapabilityOf(requirement: TcbRequirement): TvmTcbCapability {
  return {
    minTeeTcbSvn: Buffer.from(requirement.minTeeTcbSvn).toString("hex"),
    minTdxModuleMajorVersion: requirement.minModuleVersion.major,
  };
}
