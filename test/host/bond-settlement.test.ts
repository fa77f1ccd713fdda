import { expect } from "chai";
import { Wallet } from "ethers";
import { TvmxError, isTvmxError } from "../../orchestrator/errors/index.js";
import { acceptAllocation, refundLosingBond, requireAccepted } from "../../orchestrator/host/bond-settlement.js";
import { createLogger } from "../../orchestrator/log/index.js";

/**
 * The bond steps of a host against a scripted market: what it sends, in which order, for each answer of the chain.
 * The contracts' side of the same rules is played in test/contracts/attacks/griefing-winner.test.ts.
 */
const ME = Wallet.createRandom().address;
const OTHER = Wallet.createRandom().address;
const log = createLogger(() => undefined);

interface Script {
  bestBidder: string;
  states: string[];
  finalizeFails?: boolean;
  accepted?: boolean;
  acceptFails?: boolean;
}

function fakeContext(script: Script) {
  const calls: string[] = [];
  const journal: unknown[] = [];
  const states = [...script.states];
  const ctx = {
    address: ME,
    signal: new AbortController().signal,
    config: { migration: { peerTimeoutMs: 300 } },
    clock: { until: async () => undefined, nowSec: async () => 0 },
    journal: { record: async (e: unknown) => void journal.push(e) },
    acceptances: new Map<bigint, Promise<void>>(),
    market: {
      chain: { pollIntervalMs: 10 },
      auction: {
        info: async () => ({ revealDeadline: 100, bestBidder: script.bestBidder }),
        state: async () => (states.length > 1 ? states.shift()! : states[0]!),
        finalize: async () => {
          calls.push("finalize");
          if (script.finalizeFails) throw new Error("finalized by someone else");
          states.splice(0, states.length, "Finalized");
        },
        withdrawBond: async () => {
          calls.push("withdrawBond");
          return { hash: "0x01" };
        },
      },
      allocations: {
        accept: async () => {
          calls.push("accept");
          if (script.acceptFails) throw new TvmxError("CHAIN_TX_FAILED", "dropped");
          return { hash: "0x02", gasUsed: 30_000n };
        },
        allocation: async () => ({ state: "Allocated", accepted: script.accepted ?? false }),
      },
    },
  };
  return { ctx: ctx as never, calls, journal };
}

describe("host: bond settlement", () => {
  it("withdraws at once after the reveal deadline when its bid is not the best", async () => {
    const { ctx, calls, journal } = fakeContext({ bestBidder: OTHER, states: ["Ended"] });
    expect(await refundLosingBond(ctx, 1n, 100, log)).to.equal("refunded");
    expect(calls).to.deep.equal(["withdrawBond"]);
    expect(journal).to.deep.equal([{ type: "bid.settled", auctionId: 1n, status: "refunded" }]);
  });

  it("leaves the best bid's bond alone once the auction is finalized: it won, and the allocation settles it", async () => {
    const { ctx, calls } = fakeContext({ bestBidder: ME, states: ["Ended", "Finalized"] });
    expect(await refundLosingBond(ctx, 1n, 100, log)).to.equal("won");
    expect(calls).to.deep.equal([]);
  });

  it("finalizes the auction itself when nobody did within a peer timeout", async () => {
    const { ctx, calls } = fakeContext({ bestBidder: ME, states: ["Ended"] });
    expect(await refundLosingBond(ctx, 1n, 100, log)).to.equal("won");
    expect(calls).to.deep.equal(["finalize"]);
  });

  it("withdraws the best bid's bond when the auction failed (rescued)", async () => {
    const { ctx, calls } = fakeContext({ bestBidder: ME, states: ["Failed"] });
    expect(await refundLosingBond(ctx, 1n, 100, log)).to.equal("refunded");
    expect(calls).to.deep.equal(["withdrawBond"]);
  });

  it("reports an auction it could not settle, and withdraws nothing", async () => {
    const { ctx, calls } = fakeContext({ bestBidder: ME, states: ["Ended"], finalizeFails: true });
    expect(await refundLosingBond(ctx, 1n, 100, log)).to.equal("unsettled");
    expect(calls).to.deep.equal(["finalize"]);
  });

  it("lets the commit through once the acceptance this host sent is mined", async () => {
    const { ctx } = fakeContext({ bestBidder: ME, states: ["Finalized"] });
    const c = ctx as unknown as { acceptances: Map<bigint, Promise<void>> };
    c.acceptances.set(7n, acceptAllocation(ctx, 7n, log));
    await requireAccepted(ctx, 7n);
  });

  it("refuses the commit (HOST_ALLOCATION_NOT_ACCEPTED) when the acceptance failed and the chain says not accepted", async () => {
    const { ctx } = fakeContext({ bestBidder: ME, states: ["Finalized"], acceptFails: true });
    const c = ctx as unknown as { acceptances: Map<bigint, Promise<void>> };
    c.acceptances.set(7n, acceptAllocation(ctx, 7n, log));
    const err = await requireAccepted(ctx, 7n).then(() => undefined, (e: unknown) => e);
    expect(isTvmxError(err, "HOST_ALLOCATION_NOT_ACCEPTED"), String(err)).to.equal(true);
    expect((err as TvmxError).cause).to.be.instanceOf(TvmxError);
  });

  it("takes a failed acceptance whose allocation is accepted on-chain after all (a retry landed) as accepted", async () => {
    const { ctx } = fakeContext({ bestBidder: ME, states: ["Finalized"], acceptFails: true, accepted: true });
    await acceptAllocation(ctx, 7n, log);
  });

  it("asks the chain after a restart (no acceptance sent by this process)", async () => {
    const yes = fakeContext({ bestBidder: ME, states: ["Finalized"], accepted: true });
    await requireAccepted(yes.ctx, 7n);
    const no = fakeContext({ bestBidder: ME, states: ["Finalized"], accepted: false });
    const err = await requireAccepted(no.ctx, 7n).then(() => undefined, (e: unknown) => e);
    expect(isTvmxError(err, "HOST_ALLOCATION_NOT_ACCEPTED"), String(err)).to.equal(true);
  });
});
