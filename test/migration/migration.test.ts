import { expect } from "chai";
import { describeEachBackend } from "../tdx/codec-backends.js";
import { migrateOut } from "../../orchestrator/migration/index.js";
import type { MigrationProgress } from "../../orchestrator/migration/index.js";
import { isSuccess, tdStateDigest, TDX_STATUS } from "../../orchestrator/tdx/index.js";
import { destinationListener, makeHosts, MiB, runningTd, startWorkload } from "./fixtures/setup.js";

describeEachBackend("live migration over loopback TCP", function () {
  this.timeout(30_000);

  it("migrates a running TD with two forward streams: the destination's state equals the source's at pause", async () => {
    const hosts = makeHosts();
    const { listener, states, ranBeforeCommit } = await destinationListener(hosts);
    try {
      const td = runningTd(hosts.source, 8 * MiB);
      const workload = startWorkload(td);
      await new Promise((r) => setTimeout(r, 30));
      const progress: MigrationProgress[] = [];
      const incoming = listener.accept();
      const done = await migrateOut({
        td,
        module: hosts.source.module,
        peer: { host: listener.host, port: listener.port },
        key: hosts.key,
        streams: 2,
        downtimeTargetMs: 20,
        workload,
        onProgress: (p) => progress.push(p),
      });
      workload.stop();
      const imported = await incoming;
      expect(done.digestMatch).to.equal(true);
      expect(done.sourceDigest).to.equal(imported.digest);
      expect(tdStateDigest(imported.td).toString("hex")).to.equal(done.sourceDigest);
      expect(workload.writes, "the guest wrote during pre-copy").to.be.greaterThan(0);
      expect(done.streams).to.equal(2);
      expect(done.rounds).to.be.at.least(1);
      expect(done.downtimeMs).to.be.greaterThan(0);
      expect(imported.td.isRunning).to.equal(true);
      // The source can never resume: torn down, and the leaves that would bring it back refuse.
      expect(td.lifecycle.kind).to.equal("torn-down");
      expect(td.isRunning).to.equal(false);
      expect(isSuccess(hosts.source.module.exportAbort(td, { tdId: td.id, migsIndex: 0 }).status)).to.equal(false);
      expect(isSuccess(hosts.source.module.exportRestore(td).status)).to.equal(false);
      expect(td.guestWrite(0, Buffer.from([1]))).to.not.equal(TDX_STATUS.TDX_SUCCESS);
      expect(ranBeforeCommit()).to.equal(false);
      expect(states.get(done.migrationId)).to.include.members(["importing", "ready", "committed"]);
      expect(progress.at(-1)!.phase).to.equal("committed");
      expect(progress.some((p) => p.phase === "precopy" && p.bytesSent > 0)).to.equal(true);
    } finally {
      await listener.close();
    }
  });
});
