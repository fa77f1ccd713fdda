/**
 * docs/quickstart.md is run as written: the ```sh blocks under its numbered headings ("## 3. Start the two
 * chains"), in order, as one bash script (`set -euo pipefail`) in a fresh directory inside the clone, so that
 * `npx tvmx` finds the CLI and the shell's variables carry from step to step as they do for a reader.
 *
 * What the test changes, and nothing else:
 * - a line ending in `&` (a daemon) gets its stdout sent to a file, and the script waits until the daemon has
 *   printed its line there (the doc's convention: the next command may run once that line is there), failing
 *   when the daemon exits first; `set -m` gives every daemon its own process group, which the test stops;
 * - the ports of the two chains, 8545 and 8546 in the doc, become free ports, so that the test does not meet
 *   another node on this machine;
 * - a marker line before each step, for the timings.
 * Then it checks the outcome on both chains directly (not through a host) and on the hosts with the CLI.
 */
import { expect } from "chai";
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AllocationRegistryClient, connectChain, freePort, loadDeploymentFile } from "../../orchestrator/chain/index.js";
import { keystoreAddress } from "../../orchestrator/keystore/index.js";
import { ROOT, tvmx } from "./helpers.js";

const DOC = join(ROOT, "docs", "quickstart.md");
const DOC_PORTS = { auction: 8545, mirror: 8546 };

interface Step {
  number: number;
  title: string;
  blocks: string[];
}

/** The numbered steps of the doc and their ```sh blocks (other fences and unnumbered sections are prose). */
function quickstartSteps(markdown: string): Step[] {
  const steps: Step[] = [];
  let current: Step | undefined;
  let block: string[] | undefined;
  for (const line of markdown.split("\n")) {
    if (block) {
      if (line.trim() === "```") {
        current?.blocks.push(block.join("\n"));
        block = undefined;
      } else block.push(line);
      continue;
    }
    const heading = /^## (?:(\d+)\. )?(.+)$/.exec(line);
    if (heading) {
      current = heading[1] !== undefined ? { number: Number(heading[1]), title: heading[2]!, blocks: [] } : undefined;
      if (current) steps.push(current);
      continue;
    }
    if (line.trim() === "```sh" && current) block = [];
  }
  return steps;
}

/** One bash script of the steps, with the daemons' convention and the step markers (see the file comment). */
function scriptOf(steps: Step[], ports: { auction: number; mirror: number }): { script: string; daemons: number } {
  const out = [
    "set -euo pipefail",
    "set -m",
    // Waits until the daemon with pid $2 has written its line to $1; fails when it exits first.
    `__qs_wait() { for _ in $(seq 1 1800); do if [ -s "$1" ]; then cat "$1"; return 0; fi; if ! kill -0 "$2" 2>/dev/null; then echo "daemon $2 exited before printing its line" >&2; return 1; fi; sleep 0.1; done; echo "daemon $2 printed nothing in 180 s" >&2; return 1; }`,
  ];
  let daemons = 0;
  for (const step of steps) {
    out.push(`echo "::qs-step ${step.number} $(date +%s%3N)"`);
    for (const block of step.blocks) {
      let heredoc: string | undefined;
      for (const line of block.split("\n")) {
        if (heredoc !== undefined) {
          if (line === heredoc) heredoc = undefined;
          out.push(line);
          continue;
        }
        const opens = /<<-?\s*'?([A-Za-z_]+)'?/.exec(line);
        if (opens) heredoc = opens[1];
        const trimmed = line.trimEnd();
        if (trimmed.endsWith("&") && !trimmed.endsWith("&&")) {
          const file = `"$__QS_RUN/daemon-${++daemons}.out"`;
          out.push(`${trimmed.slice(0, -1).trimEnd()} > ${file} &`, `echo "$!" >> "$__QS_RUN/pids"`, `__qs_wait ${file} "$!"`);
        } else out.push(line);
      }
    }
  }
  out.push(`echo "::qs-end $(date +%s%3N)"`);
  const script = `${out.join("\n")}\n`.replace(/\b8545\b/g, String(ports.auction)).replace(/\b8546\b/g, String(ports.mirror));
  return { script, daemons };
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM to each daemon's process group (the hosts before the chains), SIGKILL after 20 s; true when all are gone. */
async function stopDaemons(pgids: number[]): Promise<boolean> {
  for (const pgid of [...pgids].reverse()) {
    if (!groupAlive(pgid)) continue;
    process.kill(-pgid, "SIGTERM");
    const deadline = Date.now() + 20_000;
    while (groupAlive(pgid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (groupAlive(pgid)) process.kill(-pgid, "SIGKILL");
  }
  await new Promise((r) => setTimeout(r, 500));
  return pgids.every((p) => !groupAlive(p));
}

describe("e2e: docs/quickstart.md, run as written", function () {
  this.timeout(400_000);

  it("takes a clean clone to a committed migration between three hand-started hosts, checked on both chains", async () => {
    const steps = quickstartSteps(await readFile(DOC, "utf8"));
    expect(steps.map((s) => s.number), "the steps are numbered 1, 2, ... in order").to.deep.equal(steps.map((_, i) => i + 1));
    expect(steps.every((s) => s.blocks.length > 0), "every numbered step has a ```sh block").to.equal(true);

    const ports = { auction: await freePort(), mirror: await freePort() };
    const { script, daemons } = scriptOf(steps, ports);
    expect(daemons, "two chains and three hosts run in the background").to.equal(5);

    await mkdir(join(ROOT, ".tvmx"), { recursive: true });
    const runDir = await mkdtemp(join(ROOT, ".tvmx", "quickstart-e2e-"));
    await writeFile(join(runDir, "quickstart.sh"), script);
    const work = join(runDir, "quickstart");
    const pgids = async () =>
      (await readFile(join(runDir, "pids"), "utf8").catch(() => ""))
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map(Number);
    let passed = false;
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, __QS_RUN: runDir };
      delete env.TVMX_PASSWORD; // the doc sets it
      const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn("bash", [join(runDir, "quickstart.sh")], { cwd: runDir, env, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        const timer = setTimeout(() => child.kill("SIGKILL"), 240_000);
        child.on("close", (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
      });
      expect(run.code, `the quickstart failed (kept in ${runDir}):\n${run.stdout.slice(-6000)}\n--- stderr\n${run.stderr.slice(-4000)}`).to.equal(0);

      // How long each step took.
      const marks = [...run.stdout.matchAll(/^::qs-(?:step (\d+)|end) (\d+)$/gm)].map((m) => ({ step: m[1] === undefined ? undefined : Number(m[1]), at: Number(m[2]) }));
      const timings = marks.slice(0, -1).map((m, i) => ({ step: m.step!, title: steps[m.step! - 1]!.title, seconds: (marks[i + 1]!.at - m.at) / 1000 }));
      console.log(`      quickstart steps (total ${((marks.at(-1)!.at - marks[0]!.at) / 1000).toFixed(1)} s):`);
      for (const t of timings) console.log(`        ${String(t.step).padStart(2)}. ${t.title.padEnd(48)} ${t.seconds.toFixed(1).padStart(6)} s`);

      const tvmId = /^0x[0-9a-f]{64}$/m.exec(run.stdout)?.[0];
      expect(tvmId, "step 11 echoes the TVM id").to.be.a("string");
      expect(run.stdout).to.match(/^status:\s+Committed$/m);
      const allocationTx = /^allocation tx:\s+(0x[0-9a-f]{64})$/m.exec(run.stdout)?.[1];
      expect(allocationTx, "migrate prints the allocation transaction").to.be.a("string");

      const [a, b] = await Promise.all(["a", "b"].map((h) => keystoreAddress(join(work, h, "key.json"))));

      // The auction chain, read directly: the TVM is placed on b and its allocation is Committed.
      const auctionChain = await connectChain({ rpcUrl: `http://127.0.0.1:${ports.auction}`, confirmations: 1, pollIntervalMs: 200, rpcRetries: 2 });
      const mirrorChain = await connectChain({ rpcUrl: `http://127.0.0.1:${ports.mirror}`, confirmations: 1, pollIntervalMs: 200, rpcRetries: 2 });
      try {
        const auctionSuite = await loadDeploymentFile(join(work, "auction-chain.json"));
        const mirrorSuite = await loadDeploymentFile(join(work, "mirror-chain.json"));
        const allocations = new AllocationRegistryClient(auctionChain, auctionSuite.allocationRegistry!);
        const placement = await allocations.currentPlacement(tvmId!);
        expect(placement.host, "the chain places the TVM on b").to.equal(b);
        const allocation = await allocations.allocation(placement.allocationId);
        expect(allocation).to.deep.include({ state: "Committed", source: a, destination: b });

        // The mirror chain: b's record of that allocation, referencing its transaction (written shortly after).
        const mirrors = new AllocationRegistryClient(mirrorChain, mirrorSuite.allocationRegistry!);
        const deadline = Date.now() + 30_000;
        let mirror = await mirrors.mirrored(auctionChain.chainId, placement.allocationId, b);
        while (!mirror && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 250));
          mirror = await mirrors.mirrored(auctionChain.chainId, placement.allocationId, b);
        }
        expect(mirror, "b's mirror record on the mirror chain").to.not.equal(undefined);
        expect(mirror).to.deep.include({ tvmId: tvmId, source: a, destination: b, recordedBy: b, sourceTxHash: allocationTx });
      } finally {
        auctionChain.close();
        mirrorChain.close();
      }

      // The hosts: the TD runs on b and no longer on a.
      const list = async (h: string) => {
        const r = await tvmx(["td", "list", "--config", join(work, h, "host.json"), "--json"]);
        expect(r.code, r.stderr).to.equal(0);
        return JSON.parse(r.stdout) as { tvmId: string; running: boolean }[];
      };
      expect((await list("b")).find((t) => t.tvmId === tvmId), "the TD runs on b").to.deep.include({ running: true });
      expect((await list("a")).map((t) => t.tvmId)).to.not.include(tvmId);
      // The doc's own checks printed the allocation as Committed and b's mirror record.
      expect(run.stdout).to.match(/^\s+\d+\s+\d+\s+Committed\s/m);
      expect(run.stdout).to.contain("mirror records on chain 31338:");
      passed = true;
    } finally {
      const started = await pgids();
      const allGone = await stopDaemons(started);
      if (passed && !process.env.TVMX_KEEP_E2E) await rm(runDir, { recursive: true, force: true });
      expect(allGone, `every daemon the quickstart started is stopped (process groups ${started.join(", ")})`).to.equal(true);
    }
  });
});
