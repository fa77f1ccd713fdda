import { createHash } from "node:crypto";
import type { Hash } from "node:crypto";
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
  updateInChunks(h, td.memory);
  return h.digest();
}

/** Hash.update refuses inputs of 2 GiB and more (ERR_OUT_OF_RANGE): a large TD's memory goes in in slices. */
const UPDATE_CHUNK_BYTES = 256 * 1024 * 1024;

function updateInChunks(h: Hash, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length; at += UPDATE_CHUNK_BYTES) h.update(bytes.subarray(at, Math.min(bytes.length, at + UPDATE_CHUNK_BYTES)));
}

/** SHA-384 of the private memory alone. */
export function tdMemoryDigest(td: TrustDomain): Buffer {
  const h = createHash("sha384");
  updateInChunks(h, td.memory);
  return h.digest();
}

/** SHA-384 of the vCPU states alone. */
export function tdVcpuDigest(td: TrustDomain): Buffer {
  const h = createHash("sha384");
  for (let vp = 0; vp < td.numVcpus; vp++) h.update(td.vcpuStateView(vp));
  return h.digest();
}
