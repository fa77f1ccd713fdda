import { expect } from "chai";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import {
  AttestationError,
  assertPolicy,
  evaluatePolicy,
  parsePolicy,
  PolicyViolationError,
  type AttestationPolicy,
  type VerifiedQuote,
} from "../../orchestrator/attestation/index.js";
import { DEFAULT_XFAM } from "../../orchestrator/attestation-issuer/index.js";
import { createBench, teeTcbSvn, type AttestationBench, type PlatformVariant } from "./platforms.js";

const FIXTURES = join(import.meta.dirname, "../fixtures/policy");
const load = (name: string): AttestationPolicy => parsePolicy(JSON.parse(readFileSync(join(FIXTURES, name), "utf8")));

/** One fixture per rule: a platform it accepts, one it refuses, and the rule the refusal must name. */
const FIXTURE_CASES: { file: string; rule: string; accepts: PlatformVariant; refuses: PlatformVariant; values: [unknown, unknown] }[] = [
  { file: "tcb-status-up-to-date-only.json", rule: "acceptedTcbStatuses", accepts: {}, refuses: { td: { teeTcbSvn: teeTcbSvn(3, 2) } }, values: [["UpToDate"], "SWHardeningNeeded"] },
  { file: "tcb-status-no-out-of-date.json", rule: "acceptedTcbStatuses", accepts: { td: { teeTcbSvn: teeTcbSvn(3, 2) } }, refuses: { td: { teeTcbSvn: teeTcbSvn(3, 1) } }, values: [undefined, "OutOfDate"] },
  { file: "min-tee-tcb-svn.json", rule: "minTeeTcbSvn", accepts: {}, refuses: { td: { teeTcbSvn: teeTcbSvn(3, 2) } }, values: ["00000300000000000000000000000000", teeTcbSvn(3, 2)] },
  { file: "min-sgx-tcb-components.json", rule: "minSgxTcbComponents", accepts: {}, refuses: { tcb: { sgxTcbComponents: [2, 2, 2, 2, 2, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0] } }, values: [undefined, [2, 2, 2, 2, 2, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]] },
  { file: "min-pce-svn.json", rule: "minPceSvn", accepts: {}, refuses: { tcb: { pceSvn: 12 } }, values: [13, 12] },
  { file: "min-tdx-module-svn.json", rule: "minTdxModuleSvn", accepts: { td: { teeTcbSvn: teeTcbSvn(4, 3) } }, refuses: { td: { teeTcbSvn: teeTcbSvn(2, 3) } }, values: [3, 2] },
  { file: "tdx-module-major-1.json", rule: "tdxModuleMajorVersions", accepts: {}, refuses: { td: { teeTcbSvn: teeTcbSvn(3, 3, 0) } }, values: [[1], 0] },
  { file: "td-attributes-no-debug.json", rule: "tdAttributes", accepts: { td: { tdAttributes: "0000002000000000" } }, refuses: { td: { tdAttributes: "0100000000000000" } }, values: [undefined, "0100000000000000"] },
  { file: "xfam-exact.json", rule: "xfam", accepts: {}, refuses: { td: { xfam: "0300000000000000" } }, values: [undefined, "0300000000000000"] },
  { file: "allowed-mrtd.json", rule: "allowedMrTds", accepts: {}, refuses: { td: { mrTd: "11".repeat(48) } }, values: [undefined, "11".repeat(48)] },
  { file: "tvm-tcb-capability.json", rule: "tvmTcbCapability.requiredXfam", accepts: {}, refuses: { td: { xfam: "0700000000000000" } }, values: ["e000000000000000", "0700000000000000"] },
];

describe("attestation policy", () => {
  let bench: AttestationBench;
  const verified = async (variant: PlatformVariant): Promise<VerifiedQuote> => bench.verify(await bench.quote(variant));
  before(async () => {
    bench = await createBench();
  });

  it("has a test case for every fixture file", () => {
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith(".json"));
    const covered = new Set([...FIXTURE_CASES.map((c) => c.file), "accept-any-verified.json"]);
    expect(files.sort()).to.deep.equal([...covered].sort());
  });

  it("accept-any-verified.json accepts any verified quote, even a Revoked one", async () => {
    expect(evaluatePolicy(await verified({ td: { teeTcbSvn: teeTcbSvn(3, 0) } }), load("accept-any-verified.json")).accepted).to.equal(true);
  });

  for (const c of FIXTURE_CASES) {
    it(`${c.file} tests ${c.rule}: accepts a conforming host, refuses one that is not, naming the rule and the values`, async () => {
      const policy = load(c.file);
      expect(evaluatePolicy(await verified(c.accepts), policy)).to.deep.equal({ accepted: true, violations: [] });
      const verdict = evaluatePolicy(await verified(c.refuses), policy);
      expect(verdict.accepted).to.equal(false);
      expect(verdict.violations.map((v) => v.rule)).to.deep.equal([c.rule]);
      const [expected, actual] = c.values;
      if (expected !== undefined) expect(verdict.violations[0]!.expected).to.deep.equal(expected);
      expect(verdict.violations[0]!.actual).to.deep.equal(actual);
      expect(verdict.violations[0]!.message).to.contain(c.rule);
    });
  }

  it("the default deployment policy accepts the reference platform", async () => {
    const policy = parsePolicy(JSON.parse(readFileSync(join(import.meta.dirname, "../../orchestrator/attestation/policies/default.json"), "utf8")));
    expect(evaluatePolicy(await verified({}), policy).accepted).to.equal(true);
    expect(evaluatePolicy(await verified({ td: { teeTcbSvn: teeTcbSvn(3, 1) } }), policy).accepted).to.equal(false);
  });

  it("reports every failed rule at once, and the error names the host, the rules and the values", async () => {
    const q = await verified({ td: { teeTcbSvn: teeTcbSvn(2, 1), xfam: "0300000000000000" } });
    const policy = parsePolicy({ policyVersion: 1, acceptedTcbStatuses: ["UpToDate"], minTdxModuleSvn: 3, xfam: { value: DEFAULT_XFAM, mask: "ffffffffffffffff" } });
    try {
      assertPolicy(q, policy, { subject: "0x00000000000000000000000000000000000000aa" });
      expect.fail("policy should refuse");
    } catch (err) {
      expect(err).to.be.instanceOf(PolicyViolationError);
      const e = err as PolicyViolationError;
      expect(e.code).to.equal("POLICY_REJECTED");
      expect(e.violations.map((v) => v.rule)).to.deep.equal(["acceptedTcbStatuses", "minTdxModuleSvn", "xfam"]);
      expect(e.message).to.contain("host 0x00000000000000000000000000000000000000aa");
      expect(e.message).to.contain("TCB status OutOfDate is not one of UpToDate");
      expect(e.message).to.contain("TDX module SVN 2 < 3");
    }
  });

  it("checks a TVM's capability given with the request as well as the policy's own", async () => {
    const q = await verified({});
    const verdict = evaluatePolicy(q, { policyVersion: 1 }, { tvmCapability: { minTdxModuleMajorVersion: 2 } });
    expect(verdict.violations.map((v) => v.rule)).to.deep.equal(["tvmTcbCapability(request).minTdxModuleMajorVersion"]);
  });

  const invalid = readdirSync(join(FIXTURES, "invalid"));
  for (const file of invalid) {
    it(`refuses the malformed policy file invalid/${file} with POLICY_INVALID`, () => {
      expect(() => parsePolicy(JSON.parse(readFileSync(join(FIXTURES, "invalid", file), "utf8"))))
        .to.throw(AttestationError)
        .with.property("code", "POLICY_INVALID");
    });
  }

  it("names the unknown rule of a misspelt policy", () => {
    expect(() => parsePolicy({ policyVersion: 1, acceptedTcbStatus: [] })).to.throw(/unknown rule "acceptedTcbStatus"/);
  });
});
