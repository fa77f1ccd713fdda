import { expect } from "chai";
import {
  DEFAULT_AUTO_CONVERGE_POLICY,
  guestSpeedFactor,
  INITIAL_AUTO_CONVERGE_STATE,
  nextAutoConverge,
} from "../../orchestrator/migration/auto-converge.js";
import type { AutoConvergeState } from "../../orchestrator/migration/auto-converge.js";

const policy = DEFAULT_AUTO_CONVERGE_POLICY;
const hot = { dirtiedBytes: 80, sentBytes: 100 }; // dirtied 80% of what was sent: above the 50% threshold
const calm = { dirtiedBytes: 10, sentBytes: 100 };

describe("auto-converge", () => {
  it("does not throttle after a single high-dirty round (QEMU needs two in a row)", () => {
    const s = nextAutoConverge(INITIAL_AUTO_CONVERGE_STATE, hot, policy);
    expect(s).to.deep.equal({ throttlePercent: 0, highDirtyRounds: 1 });
  });

  it("throttles to the initial percentage after two high-dirty rounds", () => {
    let s: AutoConvergeState = INITIAL_AUTO_CONVERGE_STATE;
    s = nextAutoConverge(s, hot, policy);
    s = nextAutoConverge(s, hot, policy);
    expect(s).to.deep.equal({ throttlePercent: 20, highDirtyRounds: 0 });
    expect(guestSpeedFactor(s)).to.equal(0.8);
  });

  it("adds the increment on every further trigger, up to the maximum", () => {
    let s: AutoConvergeState = INITIAL_AUTO_CONVERGE_STATE;
    const seen: number[] = [];
    for (let i = 0; i < 40; i++) {
      s = nextAutoConverge(s, hot, policy);
      if (s.highDirtyRounds === 0) seen.push(s.throttlePercent);
    }
    expect(seen.slice(0, 4)).to.deep.equal([20, 30, 40, 50]);
    expect(Math.max(...seen)).to.equal(99);
    expect(seen.at(-1)).to.equal(99);
  });

  it("resets the streak after a calm round", () => {
    let s: AutoConvergeState = INITIAL_AUTO_CONVERGE_STATE;
    s = nextAutoConverge(s, hot, policy);
    s = nextAutoConverge(s, calm, policy);
    s = nextAutoConverge(s, hot, policy);
    expect(s).to.deep.equal({ throttlePercent: 0, highDirtyRounds: 1 });
  });

  it("keeps the current throttle during calm rounds", () => {
    const s = nextAutoConverge({ throttlePercent: 40, highDirtyRounds: 1 }, calm, policy);
    expect(s).to.deep.equal({ throttlePercent: 40, highDirtyRounds: 0 });
  });

  it("does nothing when disabled", () => {
    const s = nextAutoConverge(INITIAL_AUTO_CONVERGE_STATE, hot, { ...policy, enabled: false });
    const t = nextAutoConverge(s, hot, { ...policy, enabled: false });
    expect(t).to.deep.equal(INITIAL_AUTO_CONVERGE_STATE);
  });
});
