import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeQuote } from "../../orchestrator/attestation/index.js";
import { ProvisioningAuthority } from "../../orchestrator/attestation-issuer/index.js";

const ROOT = join(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin/tvmx.mjs");
const FIXTURES = join(ROOT, "test/fixtures/policy");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the `tvmx` binary in a child process, as a user would. */
function tvmx(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe("tvmx CLI", function () {
  this.timeout(60_000);
  let dir: string;
  let quoteFile: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tvmx-cli-"));
    quoteFile = join(dir, "quote.bin");
  });

  it("prints its commands with --help", async () => {
    const r = await tvmx("--help");
    expect(r.code).to.equal(0);
    expect(r.stdout).to.contain("quote");
    expect(r.stdout).to.contain("verify-quote");
  });

  it("writes a quote and its root and collateral, which verify-quote accepts (and --json reports)", async () => {
    const rootFile = join(dir, "root.pem");
    const collateralFile = join(dir, "collateral.json");
    const q = await tvmx("quote", "--report-data", "0xc0ffee", "--out", quoteFile, "--root-out", rootFile, "--collateral-out", collateralFile);
    expect(q.code, q.stderr).to.equal(0);
    expect(q.stdout).to.match(/wrote a \d+-byte TDX quote v4/);
    const parsed = decodeQuote(await readFile(quoteFile));
    expect(parsed.body.reportData.subarray(0, 3).toString("hex")).to.equal("c0ffee");

    const human = await tvmx("verify-quote", quoteFile, "--root", rootFile, "--collateral", collateralFile, "--policy", join(FIXTURES, "tcb-status-up-to-date-only.json"));
    expect(human.code, human.stderr).to.equal(0);
    expect(human.stdout).to.contain("TEE type 0x81 (TDX)");
    expect(human.stdout).to.match(/reportData\s+c0ffee0+/);
    expect(human.stdout).to.contain("TCB status: UpToDate");
    expect(human.stdout).to.contain("policy: accepted");

    const json = await tvmx("verify-quote", quoteFile, "--json");
    expect(json.code, json.stderr).to.equal(0);
    const out = JSON.parse(json.stdout);
    expect(out.verified).to.equal(true);
    expect(out.quote.header).to.include({ version: 4, attestationKeyType: 2, teeType: "0x81" });
    expect(out.tcb.status).to.equal("UpToDate");
    expect(out.pck.fmspc).to.equal("90c06f000000");
  });

  it("quotes the platform a config file describes, and a policy refuses it naming the rule (exit 2)", async () => {
    const platform = join(dir, "platform.json");
    await writeFile(platform, JSON.stringify({ td: { teeTcbSvn: "03010100000000000000000000000000" } }));
    const out = join(dir, "stale.bin");
    expect((await tvmx("quote", "--report-data", "01", "--out", out, "--platform", platform)).code).to.equal(0);
    const r = await tvmx("verify-quote", out, "--policy", join(FIXTURES, "tcb-status-no-out-of-date.json"), "--json");
    expect(r.code).to.equal(2);
    const verdict = JSON.parse(r.stdout).policy;
    expect(verdict.accepted).to.equal(false);
    expect(verdict.violations[0]).to.include({ rule: "acceptedTcbStatuses", actual: "OutOfDate" });
  });

  it("reports a quote under an untrusted root as a verification failure (exit 1)", async () => {
    const other = join(dir, "other-root.pem");
    await writeFile(other, (await ProvisioningAuthority.create()).rootPem);
    const r = await tvmx("verify-quote", quoteFile, "--root", other);
    expect(r.code).to.equal(1);
    expect(r.stdout).to.contain("verification: FAILED [ATTESTATION_UNTRUSTED_ROOT]");
    // The same with the default root of another provisioning-service seed.
    const seeded = await tvmx("verify-quote", quoteFile, "--authority-seed", "another-deployment", "--json");
    expect(seeded.code).to.equal(1);
    expect(JSON.parse(seeded.stdout).error.code).to.equal("ATTESTATION_UNTRUSTED_ROOT");
  });

  it("rejects bad arguments with a clear error and a non-zero exit", async () => {
    const [missing, badHex, tooLong, noFile, unknown] = await Promise.all([
      tvmx("quote", "--report-data", "00"),
      tvmx("quote", "--report-data", "xyz", "--out", join(dir, "x.bin")),
      tvmx("quote", "--report-data", "ff".repeat(65), "--out", join(dir, "x.bin")),
      tvmx("verify-quote", join(dir, "absent.bin")),
      tvmx("verify-quote", quoteFile, "--polcy", "x.json"),
    ]);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.contain("required option '--out <file>' not specified");
    expect(badHex.code).to.equal(1);
    expect(badHex.stderr).to.contain("argument 'xyz' is invalid. expected hex bytes");
    expect(tooLong.code).to.equal(1);
    expect(tooLong.stderr).to.contain("expected at most 64 bytes, got 65");
    expect(noFile.code).to.equal(1);
    expect(noFile.stderr).to.contain("error [CLI_BAD_ARGUMENT]: <file>: cannot read");
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr).to.contain("unknown option '--polcy'");
  });

  it("refuses random bytes as a quote and a malformed policy file, naming the problem", async () => {
    const junk = join(dir, "junk.bin");
    await writeFile(junk, Buffer.from("this is not a quote at all, not even close, whatever its length may be".repeat(2)));
    const r = await tvmx("verify-quote", junk);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain("error [ATTESTATION_QUOTE_MALFORMED]: quote header.version");

    const p = await tvmx("verify-quote", quoteFile, "--policy", join(FIXTURES, "invalid/unknown-rule.json"));
    expect(p.code).to.equal(1);
    expect(p.stderr).to.contain('error [POLICY_INVALID]: policy: unknown rule "acceptedTcbStatus"');
  });
});
