import { expect } from "chai";
import { MemoryLogger, RateLimitedWarning } from "../../orchestrator/log/index.js";

describe("log/rate-limited warning", () => {
  it("writes at most `limit` warnings per window and one summary of the rest", () => {
    let now = 0;
    const log = new MemoryLogger();
    const warning = new RateLimitedWarning(log, "peer refused", { limit: 2, windowMs: 1000, now: () => now });
    const written = Array.from({ length: 50 }, (_, i) => warning.warn({ i }));
    expect(written.filter(Boolean)).to.have.length(2);
    expect(log.messages()).to.deep.equal(["peer refused", "peer refused"]);
    now = 1000;
    warning.warn({ i: 50 });
    expect(log.messages()).to.deep.equal(["peer refused", "peer refused", "peer refused: suppressed", "peer refused"]);
    expect(log.find("peer refused: suppressed")[0]).to.deep.include({ level: "warn", suppressed: 48, windowMs: 1000 });
    expect(warning.totals).to.deep.equal({ seen: 51, suppressed: 48 });
    warning.close();
    expect(log.records).to.have.length(4);
  });
});
