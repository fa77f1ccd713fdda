import { expect } from "chai";
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { withErrorTable } from "../../orchestrator/errors/docs-table.js";
import { ERROR_REGISTRY, isErrorCode, SUBSYSTEM_BASE, type Subsystem } from "../../orchestrator/errors/index.js";

const ROOT = new URL("../../", import.meta.url).pathname;

/**
 * Which folder of orchestrator/ may throw which subsystem's codes: a code names the part that decided. The demo
 * is the top layer that runs hosts as an operator would: it reports what it sees of them (a host that is
 * stopping, busy, late or unreachable) with the hosts' own codes.
 */
const OWNERS: Readonly<Record<string, readonly Subsystem[]>> = {
  config: ["CONFIG"],
  keystore: ["KEYSTORE"],
  chain: ["CHAIN", "DEPLOYMENT"],
  journal: ["JOURNAL"],
  control: ["CONTROL"],
  host: ["HOST", "AUCTION", "CONFIG", "CONTROL", "POLICY"],
  migration: ["MIGRATION"],
  tdx: ["TDX"],
  attestation: ["ATTESTATION", "POLICY"],
  "attestation-issuer": ["ATTESTATION"],
  channel: ["CHANNEL"],
  pricing: ["PRICING"],
  metrics: ["METRICS"],
  cli: ["CLI"],
  demo: ["HOST", "CONTROL", "CONFIG", "DEPLOYMENT"],
};

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sources(path)));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

describe("errors/registry", () => {
  it("has the generated table of docs/errors.md up to date (npm run docs:errors rewrites it)", async () => {
    const doc = await readFile(join(ROOT, "docs/errors.md"), "utf8");
    expect(withErrorTable(doc) === doc, "docs/errors.md is stale: run npm run docs:errors").to.equal(true);
  });

  it("gives every code a meaning and a number of its own subsystem's block", () => {
    for (const [code, [n, meaning]] of Object.entries(ERROR_REGISTRY)) {
      const base = SUBSYSTEM_BASE[code.split("_", 1)[0] as Subsystem];
      expect(n, code).to.be.greaterThan(base).and.lessThan(base + 99);
      expect(meaning, code).to.match(/^[a-z]/);
    }
  });

  it("lets each folder throw only registry codes of its own subsystems", async () => {
    const wrong: string[] = [];
    for (const file of await sources(join(ROOT, "orchestrator"))) {
      const folder = relative(join(ROOT, "orchestrator"), file).split("/")[0]!;
      const text = await readFile(file, "utf8");
      for (const m of text.matchAll(/(?:new \w*Error|expectSuccess)\(\s*"([A-Z][A-Z0-9]*_[A-Z0-9_]+)"/g)) {
        const code = m[1]!;
        const subsystem = code.split("_", 1)[0] as Subsystem;
        if (!isErrorCode(code) || !(OWNERS[folder] ?? []).includes(subsystem)) wrong.push(`${relative(ROOT, file)}: ${code}`);
      }
    }
    expect(wrong).to.deep.equal([]);
  });
});
