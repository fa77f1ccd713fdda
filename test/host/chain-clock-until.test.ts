import { expect } from "chai";
import type { Provider } from "ethers";
import { chainClock } from "../../orchestrator/host/chain-clock.js";

describe("host/chain clock: waiting for a deadline", () => {
  it("looks at the chain about once a second while the deadline is far, and is not late", async () => {
    let calls = 0;
    // a chain whose latest block is stamped with the wall clock's current second
    const provider = {
      getBlock: async () => {
        calls++;
        return { number: Math.floor(Date.now() / 1000), timestamp: Math.floor(Date.now() / 1000) };
      },
    } as unknown as Provider;
    const clock = chainClock(provider, 200);
    const deadline = (await clock.nowSec()) + 5;
    calls = 0;
    await clock.until(deadline);
    const reachedAt = Date.now() / 1000;
    // a look every 200 ms would be ~22 looks; a look a second, then every 200 ms in the last second, about 10
    expect(calls).to.be.at.most(12);
    expect(reachedAt).to.be.at.least(deadline);
    expect(reachedAt - deadline).to.be.lessThan(0.4);
  });

  it("notices a chain whose clock jumped ahead within about a second", async () => {
    let jump = 0;
    const provider = {
      getBlock: async () => ({ number: Math.floor(Date.now() / 1000) + jump, timestamp: Math.floor(Date.now() / 1000) + jump }),
    } as unknown as Provider;
    const clock = chainClock(provider, 50);
    const deadline = (await clock.nowSec()) + 60;
    const started = Date.now();
    setTimeout(() => (jump = 120), 200);
    await clock.until(deadline);
    expect(Date.now() - started).to.be.lessThan(2_500);
  });
});
