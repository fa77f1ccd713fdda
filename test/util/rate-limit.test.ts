import { expect } from "chai";
import { RateLimit } from "../../orchestrator/util/index.js";

describe("util/rate limit", () => {
  it("passes `limit` events per window, counts the rest and reports them once when the window ends", () => {
    let now = 1_000;
    const reports: number[] = [];
    const limit = new RateLimit({ limit: 3, windowMs: 100, now: () => now, onSuppressed: (k) => reports.push(k) });
    const first = Array.from({ length: 10 }, () => limit.take());
    expect(first).to.deep.equal([true, true, true, false, false, false, false, false, false, false]);
    expect(limit.suppressed).to.equal(7);
    expect(reports).to.deep.equal([]);
    now += 100;
    expect(limit.take()).to.equal(true);
    expect(reports).to.deep.equal([7]);
    expect(limit.totals).to.deep.equal({ seen: 11, suppressed: 7 });
  });

  it("reports nothing for a window that suppressed nothing, and what is left on close", () => {
    let now = 0;
    const reports: number[] = [];
    const limit = new RateLimit({ limit: 1, windowMs: 50, now: () => now, onSuppressed: (k) => reports.push(k) });
    limit.take();
    now = 60;
    limit.take();
    limit.take();
    expect(reports).to.deep.equal([]);
    limit.close();
    expect(reports).to.deep.equal([1]);
    limit.close();
    expect(reports).to.deep.equal([1]);
  });

  it("reports a window's suppressed count from its timer when no further event comes", async () => {
    const reports: number[] = [];
    const limit = new RateLimit({ limit: 0, windowMs: 30, onSuppressed: (k) => reports.push(k) });
    limit.take();
    limit.take();
    await new Promise((r) => setTimeout(r, 120));
    expect(reports).to.deep.equal([2]);
  });

  it("refuses a negative limit or an empty window", () => {
    expect(() => new RateLimit({ limit: -1, windowMs: 10 })).to.throw(RangeError, "whole number");
    expect(() => new RateLimit({ limit: 1, windowMs: 0 })).to.throw(RangeError, "window");
  });
});
