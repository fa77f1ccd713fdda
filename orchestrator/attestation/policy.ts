/**
 * Appraisal policy as data. A policy file is JSON; every key is one rule, and a quote is accepted when it
 * satisfies every rule present. Evaluation collects all failed rules, each naming the rule, the expected
 * and the actual values.
 *
 *   {
 *     "policyVersion": 1,
 *     "acceptedTcbStatuses": ["UpToDate", "SWHardeningNeeded"],
 *     "minTeeTcbSvn": "03010300000000000000000000000000",   // per byte, TEE_TCB_SVN ≥
 *     "minSgxTcbComponents": [2,2,2,2,2,1,0,2,0,0,0,0,0,0,0,0], "minPceSvn": 11,
 *     "minTdxModuleSvn": 3,                                   // TEE_TCB_SVN[0]
 *     "tdxModuleMajorVersions": [1],                          // TEE_TCB_SVN[1]
 *     "tdAttributes": { "value": "0000000000000000", "mask": "0100000000000000" },  // DEBUG off
 *     "xfam": { "value": "e702060000000000", "mask": "ffffffffffffffff" },
 *     "allowedMrTds": ["<96 hex>"],
 *     "tvmTcbCapability": { "minTeeTcbSvn": "...", "minTdxModuleMajorVersion": 1, "requiredXfam": "..." }
 *   }
 */
import { AttestationError, PolicyViolationError, type PolicyViolation } from "./errors.js";
import { TCB_STATUSES, type TcbStatus } from "./tcb-status.js";
import type { VerifiedQuote } from "./quote-verifier.js";

/** What a TVM needs from the platform that will run it (carried in its migration request). */
export interface TvmTcbCapability {
  /** hex, 16 bytes: each TEE_TCB_SVN byte of the destination must be ≥. */
  readonly minTeeTcbSvn?: string;
  readonly minTdxModuleMajorVersion?: number;
  /** hex, 8 bytes: XFAM features the TVM uses; the destination's XFAM must include them all. */
  readonly requiredXfam?: string;
}

export interface MaskedValue {
  readonly value: string;
  readonly mask: string;
}

export interface AttestationPolicy {
  readonly policyVersion: 1;
  /** Free text: what this policy is for. */
  readonly description?: string;
  readonly acceptedTcbStatuses?: readonly TcbStatus[];
  readonly minTeeTcbSvn?: string;
  readonly minSgxTcbComponents?: readonly number[];
  readonly minPceSvn?: number;
  readonly minTdxModuleSvn?: number;
  readonly tdxModuleMajorVersions?: readonly number[];
  readonly tdAttributes?: MaskedValue;
  readonly xfam?: MaskedValue;
  readonly allowedMrTds?: readonly string[];
  readonly tvmTcbCapability?: TvmTcbCapability;
}

export interface PolicyVerdict {
  readonly accepted: boolean;
  readonly violations: readonly PolicyViolation[];
}

const RULES = [
  "policyVersion",
  "description",
  "acceptedTcbStatuses",
  "minTeeTcbSvn",
  "minSgxTcbComponents",
  "minPceSvn",
  "minTdxModuleSvn",
  "tdxModuleMajorVersions",
  "tdAttributes",
  "xfam",
  "allowedMrTds",
  "tvmTcbCapability",
] as const;

function invalid(message: string, details: Record<string, unknown> = {}): AttestationError {
  return new AttestationError("POLICY_INVALID", `policy: ${message}`, { details });
}

function isHex(value: unknown, bytes: number): value is string {
  return typeof value === "string" && value.length === bytes * 2 && /^[0-9a-fA-F]*$/.test(value);
}

function checkHex(value: unknown, bytes: number, rule: string): void {
  if (!isHex(value, bytes)) throw invalid(`${rule} must be ${bytes} bytes of hex`, { rule, value });
}

function checkUint(value: unknown, max: number, rule: string): void {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > max) throw invalid(`${rule} must be an integer 0..${max}`, { rule, value });
}

function checkMasked(value: unknown, rule: string): void {
  const v = value as Partial<MaskedValue> | null;
  if (typeof v !== "object" || v === null) throw invalid(`${rule} must be { value, mask }`, { rule });
  checkHex(v.value, 8, `${rule}.value`);
  checkHex(v.mask, 8, `${rule}.mask`);
}

function checkCapability(value: unknown, rule: string): void {
  const c = value as Record<string, unknown> | null;
  if (typeof c !== "object" || c === null || Array.isArray(c)) throw invalid(`${rule} must be an object`, { rule });
  for (const key of Object.keys(c)) {
    if (!["minTeeTcbSvn", "minTdxModuleMajorVersion", "requiredXfam"].includes(key)) throw invalid(`${rule} has an unknown key ${key}`, { rule, key });
  }
  if (c.minTeeTcbSvn !== undefined) checkHex(c.minTeeTcbSvn, 16, `${rule}.minTeeTcbSvn`);
  if (c.minTdxModuleMajorVersion !== undefined) checkUint(c.minTdxModuleMajorVersion, 255, `${rule}.minTdxModuleMajorVersion`);
  if (c.requiredXfam !== undefined) checkHex(c.requiredXfam, 8, `${rule}.requiredXfam`);
}

/** Validates a parsed policy file: unknown keys and malformed values are POLICY_INVALID naming the key. */
export function parsePolicy(value: unknown): AttestationPolicy {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalid("must be a JSON object");
  const p = value as Record<string, unknown>;
  for (const key of Object.keys(p)) {
    if (!(RULES as readonly string[]).includes(key)) throw invalid(`unknown rule "${key}"`, { rule: key, known: RULES });
  }
  if (p.policyVersion !== 1) throw invalid("policyVersion must be 1", { rule: "policyVersion", value: p.policyVersion });
  if (p.acceptedTcbStatuses !== undefined) {
    const list = p.acceptedTcbStatuses;
    if (!Array.isArray(list) || list.some((s) => !(TCB_STATUSES as readonly string[]).includes(s))) {
      throw invalid(`acceptedTcbStatuses must list TCB statuses (${TCB_STATUSES.join(", ")})`, { rule: "acceptedTcbStatuses", value: list });
    }
  }
  if (p.minTeeTcbSvn !== undefined) checkHex(p.minTeeTcbSvn, 16, "minTeeTcbSvn");
  if (p.minSgxTcbComponents !== undefined) {
    const list = p.minSgxTcbComponents;
    if (!Array.isArray(list) || list.length !== 16 || list.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) {
      throw invalid("minSgxTcbComponents must be 16 numbers 0..255", { rule: "minSgxTcbComponents", value: list });
    }
  }
  if (p.minPceSvn !== undefined) checkUint(p.minPceSvn, 0xffff, "minPceSvn");
  if (p.minTdxModuleSvn !== undefined) checkUint(p.minTdxModuleSvn, 255, "minTdxModuleSvn");
  if (p.tdxModuleMajorVersions !== undefined) {
    const list = p.tdxModuleMajorVersions;
    if (!Array.isArray(list) || list.length === 0) throw invalid("tdxModuleMajorVersions must be a non-empty list", { rule: "tdxModuleMajorVersions" });
    list.forEach((n, i) => checkUint(n, 255, `tdxModuleMajorVersions[${i}]`));
  }
  if (p.tdAttributes !== undefined) checkMasked(p.tdAttributes, "tdAttributes");
  if (p.xfam !== undefined) checkMasked(p.xfam, "xfam");
  if (p.allowedMrTds !== undefined) {
    const list = p.allowedMrTds;
    if (!Array.isArray(list)) throw invalid("allowedMrTds must be a list", { rule: "allowedMrTds" });
    list.forEach((m, i) => checkHex(m, 48, `allowedMrTds[${i}]`));
  }
  if (p.tvmTcbCapability !== undefined) checkCapability(p.tvmTcbCapability, "tvmTcbCapability");
  return p as unknown as AttestationPolicy;
}

/** Checks a capability given at run time (e.g. from a migration request) with the same rules as a policy file. */
export function parseTvmTcbCapability(value: unknown): TvmTcbCapability {
  checkCapability(value, "tvmTcbCapability");
  return value as TvmTcbCapability;
}

const hex = (b: Buffer) => b.toString("hex");

function bytesAtLeast(actual: Buffer, minimum: Buffer): boolean {
  return minimum.every((m, i) => actual[i]! >= m);
}

function maskedMatch(actual: Buffer, rule: MaskedValue): boolean {
  const value = Buffer.from(rule.value, "hex");
  const mask = Buffer.from(rule.mask, "hex");
  return mask.every((m, i) => (actual[i]! & m) === (value[i]! & m));
}

function capabilityViolations(cap: TvmTcbCapability, q: VerifiedQuote, rule: string): PolicyViolation[] {
  const out: PolicyViolation[] = [];
  const tee = q.quote.body.teeTcbSvn;
  if (cap.minTeeTcbSvn !== undefined && !bytesAtLeast(tee, Buffer.from(cap.minTeeTcbSvn, "hex"))) {
    out.push({ rule: `${rule}.minTeeTcbSvn`, expected: cap.minTeeTcbSvn, actual: hex(tee), message: `${rule}.minTeeTcbSvn: TEE_TCB_SVN ${hex(tee)} is below ${cap.minTeeTcbSvn}` });
  }
  if (cap.minTdxModuleMajorVersion !== undefined && tee[1]! < cap.minTdxModuleMajorVersion) {
    out.push({ rule: `${rule}.minTdxModuleMajorVersion`, expected: cap.minTdxModuleMajorVersion, actual: tee[1], message: `${rule}.minTdxModuleMajorVersion: module major ${tee[1]} < ${cap.minTdxModuleMajorVersion}` });
  }
  if (cap.requiredXfam !== undefined) {
    const need = Buffer.from(cap.requiredXfam, "hex");
    const have = q.quote.body.xfam;
    if (!need.every((b, i) => (have[i]! & b) === b)) {
      out.push({ rule: `${rule}.requiredXfam`, expected: cap.requiredXfam, actual: hex(have), message: `${rule}.requiredXfam: XFAM ${hex(have)} lacks features ${cap.requiredXfam}` });
    }
  }
  return out;
}

/**
 * Evaluates every rule of `policy` on a verified quote. `tvmCapability` (from a migration request) is
 * checked in addition to the policy's own `tvmTcbCapability`.
 */
export function evaluatePolicy(q: VerifiedQuote, policy: AttestationPolicy, context: { tvmCapability?: TvmTcbCapability } = {}): PolicyVerdict {
  const v: PolicyViolation[] = [];
  const body = q.quote.body;
  const tee = body.teeTcbSvn;
  const fail = (rule: string, expected: unknown, actual: unknown, message: string) => v.push({ rule, expected, actual, message: `${rule}: ${message}` });

  if (policy.acceptedTcbStatuses && !policy.acceptedTcbStatuses.includes(q.tcb.status)) {
    fail("acceptedTcbStatuses", policy.acceptedTcbStatuses, q.tcb.status, `TCB status ${q.tcb.status} is not one of ${policy.acceptedTcbStatuses.join(", ")}`);
  }
  if (policy.minTeeTcbSvn && !bytesAtLeast(tee, Buffer.from(policy.minTeeTcbSvn, "hex"))) {
    fail("minTeeTcbSvn", policy.minTeeTcbSvn, hex(tee), `TEE_TCB_SVN ${hex(tee)} is below ${policy.minTeeTcbSvn}`);
  }
  if (policy.minSgxTcbComponents && !policy.minSgxTcbComponents.every((m, i) => (q.pck.sgxTcbComponents[i] ?? 0) >= m)) {
    fail("minSgxTcbComponents", policy.minSgxTcbComponents, q.pck.sgxTcbComponents, `SGX TCB [${q.pck.sgxTcbComponents.join(",")}] is below [${policy.minSgxTcbComponents.join(",")}]`);
  }
  if (policy.minPceSvn !== undefined && q.pck.pceSvn < policy.minPceSvn) {
    fail("minPceSvn", policy.minPceSvn, q.pck.pceSvn, `PCE SVN ${q.pck.pceSvn} < ${policy.minPceSvn}`);
  }
  if (policy.minTdxModuleSvn !== undefined && tee[0]! < policy.minTdxModuleSvn) {
    fail("minTdxModuleSvn", policy.minTdxModuleSvn, tee[0], `TDX module SVN ${tee[0]} < ${policy.minTdxModuleSvn}`);
  }
  if (policy.tdxModuleMajorVersions && !policy.tdxModuleMajorVersions.includes(tee[1]!)) {
    fail("tdxModuleMajorVersions", policy.tdxModuleMajorVersions, tee[1], `TDX module major version ${tee[1]} is not one of ${policy.tdxModuleMajorVersions.join(", ")}`);
  }
  if (policy.tdAttributes && !maskedMatch(body.tdAttributes, policy.tdAttributes)) {
    fail("tdAttributes", policy.tdAttributes, hex(body.tdAttributes), `TDATTRIBUTES ${hex(body.tdAttributes)} & ${policy.tdAttributes.mask} != ${policy.tdAttributes.value}`);
  }
  if (policy.xfam && !maskedMatch(body.xfam, policy.xfam)) {
    fail("xfam", policy.xfam, hex(body.xfam), `XFAM ${hex(body.xfam)} & ${policy.xfam.mask} != ${policy.xfam.value}`);
  }
  if (policy.allowedMrTds && !policy.allowedMrTds.some((m) => m.toLowerCase() === hex(body.mrTd))) {
    fail("allowedMrTds", policy.allowedMrTds, hex(body.mrTd), `MRTD ${hex(body.mrTd)} is not in the allowed list`);
  }
  if (policy.tvmTcbCapability) v.push(...capabilityViolations(policy.tvmTcbCapability, q, "tvmTcbCapability"));
  if (context.tvmCapability) v.push(...capabilityViolations(context.tvmCapability, q, "tvmTcbCapability(request)"));
  return { accepted: v.length === 0, violations: v };
}

/** Throws PolicyViolationError naming `subject` (e.g. the host address) and every failed rule. */
export function assertPolicy(q: VerifiedQuote, policy: AttestationPolicy, context: { tvmCapability?: TvmTcbCapability; subject?: string } = {}): void {
  const verdict = evaluatePolicy(q, policy, context);
  if (!verdict.accepted) throw new PolicyViolationError(verdict.violations, context.subject);
}
