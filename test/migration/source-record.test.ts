import { expect } from "chai";
import { completedMigration } from "../../orchestrator/migration/source-record.js";
import type { SourceMeasurements } from "../../orchestrator/migration/source-record.js";

const measured: SourceMeasurements = {
  migrationId: "m-1",
  streams: 2,
  migrationVersion: 1,
  rounds: 3,
  roundLog: [],
  finalDecision: { action: "switchover", reason: "converged", estimatedDowntimeMs: 12 },
  throttlePercent: 0,
  pagesSent: 100,
  bytesSent: 500_000,
  streamingMs: 40,
  startedAt: 1_000,
  pausedAt: 1_050,
  startTokenAt: 1_060,
  readyAt: 1_070,
  blackoutPages: 4,
  sourceDigest: "ab",
};

describe("completed-migration record", () => {
  it("splits the time to running on the destination into the total, the downtime and the blackout's parts", () => {
    const record = completedMigration(measured, { runningAt: 1_100, digest: "ab" }, false);
    expect(record.totalMs).to.equal(100);
    expect(record.downtimeMs).to.equal(50);
    expect(record.blackout).to.deep.equal({ exportMs: 10, readyMs: 10, commitMs: 30, pages: 4 });
    expect(record.runningAt).to.equal(1_100);
  });

  it("names the switch-over's reason, and 'unknown' when pre-copy ended without one", () => {
    expect(completedMigration(measured, { runningAt: 1_100, digest: "" }, false).convergence).to.deep.equal({ reason: "converged", estimatedDowntimeMs: 12 });
    const none = completedMigration({ ...measured, finalDecision: undefined }, { runningAt: 1_100, digest: "" }, false);
    expect(none.convergence.reason).to.equal("unknown");
    expect(none.convergence.estimatedDowntimeMs).to.be.NaN;
  });

  it("compares the digests only when both sides computed one", () => {
    expect(completedMigration(measured, { runningAt: 1_100, digest: "ab" }, false).digestMatch).to.equal(true);
    expect(completedMigration(measured, { runningAt: 1_100, digest: "cd" }, false).digestMatch).to.equal(false);
    expect(completedMigration(measured, { runningAt: 1_100, digest: "" }, false).digestMatch).to.equal(undefined);
    expect(completedMigration({ ...measured, sourceDigest: "" }, { runningAt: 1_100, digest: "ab" }, false).digestMatch).to.equal(undefined);
  });

  it("says whether the commit was learned through a recovery connection", () => {
    expect(completedMigration(measured, { runningAt: 1_100, digest: "" }, true).recovered).to.equal(true);
  });
});
