import { createHash } from "node:crypto";
import { IMMUTABLE_STATE_SIZE } from "./td-config.js";
import { TDCS_OFFSET } from "./td-shared.js";
import type { TrustDomain } from "./trust-domain.js";

/**
 * SHA-384 over everything a migration must carry: the immutable configuration, the TD-scope state (RTMRs, TD
 * TSC), every vCPU's registers and XSAVE area, and all private memory. Equal digests on source (at pause) and
 * destination (after commit) mean nothing was lost.
 */
export function tdStateDigest(td: TrustDomain): Buffer {
  const h = createHash("sha384");
  h.update("tdx-td-state-v1");
  h.update(td.tdcs.subarray(TDCS_OFFSET.immutable, TDCS_OFFSET.immutable + IMMUTABLE_STATE_SIZE));
  h.update(td.tdStateView());
  for (let vp = 0; vp < td.numVcpus; vp++) h.update(td.vcpuStateView(vp));
  h.update(td.memory);
  return h.digest();
}

/** SHA-384 of the private memory alone. */
export function tdMemoryDigest(td: TrustDomain): Buffer {
  return createHash("sha384").update(td.memory).digest();
}

/** SHA-384 of the vCPU states alone. */
export function tdVcpuDigest(td: TrustDomain): Buffer {
  const h = createHash("sha384");
  for (let vp = 0; vp < td.numVcpus; vp++) h.update(td.vcpuStateView(vp));
  return h.digest();
}
