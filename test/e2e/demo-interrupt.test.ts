import { expect } from "chai";
import { execFileSync, spawn } from "node:child_process";
import { TVMX_BIN } from "../../orchestrator/demo/host-process.js";
import { alive, ROOT } from "./helpers.js";

/**
 * The chains and hosts the demo started: its child processes running `hardhat … node` or `tvmx … host start`
 * (tsx's esbuild service is a child too, and ends on its own when the demo exits).
 */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync("ps", ["-o", "pid=,args=", "--ppid", String(pid)], { encoding: "utf8" })
      .split("\n")
      .map((l) => l.trim().match(/^(\d+)\s+(.*)$/))
      .filter((m): m is RegExpMatchArray => m !== null && (/hardhat.* node /.test(m[2]!) || / host start /.test(m[2]!)))
      .map((m) => Number(m[1]));
  } catch {
    return []; // ps exits 1 when there is none
  }
}

describe("e2e: the demo interrupted with Ctrl-C", function () {
  this.timeout(180_000);

  it("stops every process it started and exits non-zero", async () => {
    const demo = spawn(process.execPath, [TVMX_BIN, "demo"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => demo.on("exit", (code, signal) => res({ code, signal })));
    // wait until the hosts are up and the migration runs: the chains and four hosts are then its children
    await new Promise<void>((resolve, reject) => {
      demo.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes("creating a ")) resolve();
      });
      void exited.then(() => reject(new Error(`demo exited early: ${stderr}`)));
    });
    const children = childrenOf(demo.pid!);
    expect(children.length, stderr).to.equal(6);
    demo.kill("SIGINT");
    const { code } = await exited;
    expect(code).to.equal(1);
    expect(stderr).to.contain("SIGINT: stopping every process the demo started");
    expect(stderr).to.match(/error \[HOST_SHUTTING_DOWN\]: interrupted/);
    for (const pid of children) expect(alive(pid), `child ${pid} still running`).to.equal(false);
  });
});
