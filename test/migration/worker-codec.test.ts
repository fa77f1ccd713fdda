import { expect } from "chai";
import { migrationWorkerEntry, WorkerPool } from "../../orchestrator/migration/index.js";
import { describeEachBackend } from "../tdx/codec-backends.js";

describeEachBackend("migration workers' page codec", function (backend) {
  this.timeout(20_000);

  it("every worker seals and opens with the backend TVMX_CRYPTO_BACKEND names", async () => {
    const pool = await WorkerPool.start({ size: 2, entry: migrationWorkerEntry(), name: "codec-test" });
    try {
      const reports = await pool.codecs();
      expect(reports.map((r) => r.backend)).to.deep.equal([backend, backend]);
      expect(reports.every((r) => r.requested === backend)).to.equal(true);
    } finally {
      await pool.close();
    }
  });
});
