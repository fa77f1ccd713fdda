import { expect } from "chai";
import { InvalidStateError } from "../../orchestrator/migration/errors.js";
import { advanceDestination, advanceSource } from "../../orchestrator/migration/session-state.js";
import type { SourceState } from "../../orchestrator/migration/session-state.js";

describe("migration session states", () => {
  const toAwaitingCommit = (): SourceState => {
    let s: SourceState = { phase: "created" };
    s = advanceSource(s, { type: "connect" });
    s = advanceSource(s, { type: "round", round: 1 });
    s = advanceSource(s, { type: "round", round: 2 });
    s = advanceSource(s, { type: "pause", pausedAt: 10 });
    return advanceSource(s, { type: "start-token-sent" });
  };

  it("walks the source through pre-copy, blackout and commit", () => {
    const s = advanceSource(toAwaitingCommit(), { type: "committed", runningAt: 12 });
    expect(s).to.deep.equal({ phase: "committed", pausedAt: 10, runningAt: 12 });
  });

  it("lets the source abort on its own before the start token", () => {
    let s: SourceState = advanceSource(advanceSource({ phase: "created" }, { type: "connect" }), { type: "round", round: 1 });
    s = advanceSource(s, { type: "pause", pausedAt: 1 });
    expect(advanceSource(s, { type: "abort", reason: "cut", withAbortToken: false }).phase).to.equal("aborted");
  });

  it("refuses to resume the source after the start token without the destination's abort token", () => {
    expect(() => advanceSource(toAwaitingCommit(), { type: "abort", reason: "cut", withAbortToken: false })).to.throw(InvalidStateError);
    expect(advanceSource(toAwaitingCommit(), { type: "abort", reason: "rejected", withAbortToken: true }).phase).to.equal("aborted");
  });

  it("never lets the source leave the committed state", () => {
    const s = advanceSource(toAwaitingCommit(), { type: "committed", runningAt: 12 });
    expect(() => advanceSource(s, { type: "abort", reason: "late", withAbortToken: true })).to.throw(InvalidStateError);
    expect(() => advanceSource(s, { type: "round", round: 3 })).to.throw(InvalidStateError);
  });

  it("keeps a source whose outcome is unknown paused until it learns the outcome", () => {
    const s = advanceSource(toAwaitingCommit(), { type: "outcome-lost" });
    expect(s.phase).to.equal("outcome-unknown");
    expect(() => advanceSource(s, { type: "abort", reason: "guess", withAbortToken: false })).to.throw(InvalidStateError);
  });

  it("lets the destination run only after the start token was verified", () => {
    const importing = advanceDestination({ phase: "handshake" }, { type: "streams-open" });
    expect(() => advanceDestination(importing, { type: "commit", runningAt: 1 })).to.throw(InvalidStateError);
    const ready = advanceDestination(importing, { type: "start-token-verified" });
    expect(advanceDestination(ready, { type: "commit", runningAt: 1 }).phase).to.equal("committed");
  });

  it("refuses to abort the destination after commit", () => {
    const committed = advanceDestination({ phase: "ready" }, { type: "commit", runningAt: 1 });
    expect(() => advanceDestination(committed, { type: "abort", status: "x", reason: "y" })).to.throw(InvalidStateError);
  });
});
