import { expect } from "chai";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ENGINE_NODE_FLAGS, INITIAL_OLD_SPACE_MIB, initialOldSpaceMiB } from "../../orchestrator/runtime/engine-flags.js";

const ROOT = join(import.meta.dirname, "../..");

/** Runs `node <flags> -e <script>` with this Node and returns its stdout. */
function nodeEval(flags: readonly string[], script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [...flags, "-e", script], { timeout: 30_000 }, (error, stdout, stderr) => (error ? reject(new Error(stderr || error.message)) : resolve(stdout)));
  });
}

describe("engine V8 flags", function () {
  this.timeout(60_000);

  it("reads the initial old space from a process's arguments (the last one wins, both spellings)", () => {
    expect(initialOldSpaceMiB([])).to.equal(undefined);
    expect(initialOldSpaceMiB(["--inspect", "--initial-old-space-size=64"])).to.equal(64);
    expect(initialOldSpaceMiB(["--initial_old_space_size=32", "--initial-old-space-size=256"])).to.equal(256);
    expect(initialOldSpaceMiB(["--initial-old-space-size="])).to.equal(undefined);
  });

  it("are flags this Node accepts on its command line, and a process started with them sees them", async () => {
    const child = await nodeEval(ENGINE_NODE_FLAGS, "process.stdout.write(JSON.stringify(process.execArgv))");
    expect(initialOldSpaceMiB(JSON.parse(child) as string[])).to.equal(INITIAL_OLD_SPACE_MIB);
  });

  it("are the ones every launcher passes: bin/tvmx.mjs, the demo and benchmark scripts", async () => {
    const flags = ENGINE_NODE_FLAGS.join(" ");
    const bin = await readFile(join(ROOT, "bin/tvmx.mjs"), "utf8");
    expect(bin.split("\n")[0]).to.equal(`#!/usr/bin/env -S node ${flags}`);
    const scripts = (JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
    expect(scripts["demo"]).to.include(`node ${flags} bin/tvmx.mjs demo`);
    expect(scripts["bench:migrate"]).to.match(new RegExp(`^node ${flags} --import tsx scripts/bench-migrate\\.ts$`));
  });
});
