import { getAddress } from "ethers";
import { isTvmxError, resultCodeOf } from "../errors/index.js";
import type { HostContext } from "./context.js";

/**
 * Settlement of an allocation this host is party to, as either role: the abort (the destination's at once; the
 * source's at once when the winner did not accept in time, else a request with a dispute window), and the
 * withdrawals of what the two contracts credited it.
 */

/** Abort of an allocation this host is party to, with the error's stable result code as the on-chain reason. */
export async function abortOnChain(ctx: HostContext, allocationId: bigint, err: unknown, log = ctx.logger): Promise<void> {
  const reason = isTvmxError(err) ? resultCodeOf(err.code) : resultCodeOf("MIGRATION_ABORTED");
  try {
    let a = await ctx.market.allocations.allocation(allocationId);
    if (a.state === "Allocated" && getAddress(a.source) === ctx.address) {
      // The source may abort alone at once when the winner has not accepted by its acceptance deadline, otherwise only
      // after the confirmation deadline; the destination usually aborts first.
      log.info("waiting for the destination's abort, the acceptance deadline or the confirmation deadline", { allocationId, acceptDeadline: a.acceptDeadline, confirmDeadline: a.confirmDeadline });
      for (;;) {
        while (a.state === "Allocated" && !(await sourceMayAbort(ctx, a))) {
          await new Promise((r) => setTimeout(r, Math.max(100, ctx.market.chain.pollIntervalMs)));
          if (ctx.signal.aborted) return;
          a = await ctx.market.allocations.allocation(allocationId);
        }
        if (a.state !== "Allocated" || a.accepted) break;
        // Not accepted in time: the winner's own fault, and the abort is settled at once (its bond is burned).
        try {
          const tx = await ctx.market.allocations.abort(allocationId, reason);
          log.warn("migration aborted on-chain: the winner did not accept the allocation in time", { allocationId, reason, txHash: tx.hash });
        } catch (err) {
          log.warn("abort of the unaccepted allocation failed (accepted meanwhile?)", { allocationId, err });
        }
        a = await ctx.market.allocations.allocation(allocationId);
      }
    }
    if (a.state === "Allocated" && getAddress(a.destination) === ctx.address) {
      const tx = await ctx.market.allocations.abort(allocationId, reason);
      log.warn("migration aborted on-chain", { allocationId, reason, txHash: tx.hash });
      a = { ...a, state: "Aborted", abortReason: reason };
    } else if (a.state === "Allocated") {
      // The source's lone abort is a request: it opens a dispute window in which a destination holding the
      // hand-over still confirms (a destination that committed the TD is paid). Only after it is the abort settled.
      if (a.abortSettleAt === 0) {
        const tx = await ctx.market.allocations.abort(allocationId, reason);
        a = await ctx.market.allocations.allocation(allocationId);
        log.warn("abort requested on-chain: the destination may still confirm until the dispute window ends", { allocationId, reason, settleAt: a.abortSettleAt, txHash: tx.hash });
      }
      while (a.state === "Allocated" && (await ctx.clock.nowSec()) < a.abortSettleAt) {
        await new Promise((r) => setTimeout(r, Math.max(100, ctx.market.chain.pollIntervalMs)));
        if (ctx.signal.aborted) return;
        a = await ctx.market.allocations.allocation(allocationId);
      }
      if (a.state === "Allocated") {
        const tx = await ctx.market.allocations.settleAbort(allocationId);
        log.warn("migration aborted on-chain (dispute window over)", { allocationId, reason: a.abortReason, txHash: tx.hash });
        a = { ...a, state: "Aborted" };
      } else {
        log.info("allocation settled during the dispute window", { allocationId, state: a.state });
      }
    } else {
      log.info("allocation already settled on-chain", { allocationId, state: a.state });
    }
    // The journal says what the chain says: an abort that came too late finds the allocation Committed.
    const outcome = a.state === "Committed" ? "Committed" : "Aborted";
    const known = ctx.journal.state.migrations.get(allocationId);
    if (known?.status !== outcome) {
      await ctx.journal.record(
        outcome === "Committed"
          ? { type: "migration.finished", allocationId, outcome, stateDigest: a.stateDigest }
          : { type: "migration.finished", allocationId, outcome, reason: a.abortReason },
      );
      ctx.metrics.migrationsTotal.inc({ role: known?.role ?? "destination", outcome });
    }
  } catch (abortErr) {
    log.error("could not record the abort on-chain", { allocationId, err: abortErr });
  }
}

/** Whether the source may abort `a` now: not accepted by its acceptance deadline, or past its confirmation deadline. */
async function sourceMayAbort(ctx: HostContext, a: { accepted: boolean; acceptDeadline: number; confirmDeadline: number }): Promise<boolean> {
  const now = await ctx.clock.nowSec();
  return (!a.accepted && now >= a.acceptDeadline) || now > a.confirmDeadline;
}

export async function withdrawAll(ctx: HostContext, auctionId: bigint, log = ctx.logger): Promise<void> {
  const me = ctx.address;
  try {
    if ((await ctx.market.allocations.balanceOf(me)) > 0n) {
      const tx = await ctx.market.allocations.withdraw();
      log.info("escrow withdrawn", { step: "withdraw", txHash: tx.hash });
    }
    const bid = await ctx.market.auction.bid(auctionId, me);
    if (bid.status === "Revealed") {
      const tx = await ctx.market.auction.withdrawBond(auctionId);
      await ctx.journal.record({ type: "bid.settled", auctionId, status: "refunded" });
      log.info("bond withdrawn", { step: "withdraw", txHash: tx.hash });
    }
    if ((await ctx.market.auction.balanceOf(me)) > 0n) {
      const tx = await ctx.market.auction.withdraw();
      log.info("auction balance withdrawn", { step: "withdraw", txHash: tx.hash });
    }
  } catch (err) {
    log.error("withdrawal failed (funds stay claimable)", { err });
  }
}
