import { expect } from "chai";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { migrateOut } from "../../orchestrator/migration/index.js";
import { Platform } from "../../orchestrator/tdx/index.js";
import { MiB, runningTd, startWorkload } from "./fixtures/setup.js";

describe("live migration between two processes", function () {
  this.timeout(60_000);

  it("migrates a running TD to a destination host in another process", async () => {
    const key = randomBytes(32);
    const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("./fixtures/destination-process.ts", import.meta.url))], {
      env: { ...process.env, MIGRATION_KEY: key.toString("hex") },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    try {
      const { port } = JSON.parse((await lines.next()).value as string) as { port: number };
      const source = new Platform({ name: "source" });
      const td = runningTd(source, 8 * MiB);
      const workload = startWorkload(td);
      const done = await migrateOut({ td, module: source.module, peer: { host: "127.0.0.1", port }, key, streams: 2, downtimeTargetMs: 20, workload });
      workload.stop();
      const outcome = JSON.parse((await lines.next()).value as string) as { committed: boolean; digest: string; running: boolean; recomputed: string };
      expect(outcome.committed).to.equal(true);
      expect(outcome.running).to.equal(true);
      expect(outcome.digest).to.equal(done.sourceDigest);
      expect(outcome.recomputed).to.equal(done.sourceDigest);
      expect(done.digestMatch).to.equal(true);
      expect(td.lifecycle.kind).to.equal("torn-down");
    } finally {
      child.kill();
    }
  });
});
