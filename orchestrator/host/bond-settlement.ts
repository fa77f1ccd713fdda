import { getAddress } from "ethers";
import { isTvmxError, TvmxError } from "../errors/index.js";
import { pollUntil } from "../util/index.js";
import type { Logger } from "../log/index.js";
import type { HostContext } from "./context.js";

/**
 * A bidder's bond after its reveal, and the winner's acceptance of its allocation.
 *
 * The auction holds the best revealed bid's bond: through finalize it becomes the winner's performance bond, held
 * until its allocation settles (refunded when it committed or when the winner accepted it on-chain, burned when it was
 * aborted without that acceptance: see IAllocationRegistry, Acceptance). Every other revealed bond is refundable at
 * once. So:
 *   - after the reveal deadline a bidder that is not the best withdraws at once; the best one waits for finalize, and
 *     finalizes itself (anyone may) when nobody has after a peer timeout, so a source that stops answering cannot hold
 *     its bond; when it won, the Allocated flow settles the bond with the allocation;
 *   - the winner accepts on seeing `Allocated`, and commits an import only once the acceptance is mined.
 */

type BondContext = Pick<HostContext, "market" | "journal" | "clock" | "config" | "address" | "signal">;

/**
 * Refunds the bond of this host's revealed bid in auction `auctionId` once it may (after `revealDeadline`, the
 * auction's, which the caller read before it bid), unless this host won it.
 */
export async function refundLosingBond(ctx: BondContext, auctionId: bigint, revealDeadline: number, log: Logger): Promise<"refunded" | "won" | "unsettled"> {
  await ctx.clock.until(revealDeadline, ctx.signal);
  if (getAddress((await ctx.market.auction.info(auctionId)).bestBidder) === ctx.address) {
    const state = await settledState(ctx, auctionId, log);
    if (state === "Finalized") return "won";
    if (state === undefined) return "unsettled";
  }
  const tx = await ctx.market.auction.withdrawBond(auctionId);
  await ctx.journal.record({ type: "bid.settled", auctionId, status: "refunded" });
  log.info("bond withdrawn", { step: "refund-bond", auctionId, txHash: tx.hash });
  return "refunded";
}

/** Finalized or Failed, once the auction is; finalizes it when nobody did within a peer timeout. */
async function settledState(ctx: BondContext, auctionId: bigint, log: Logger): Promise<"Finalized" | "Failed" | undefined> {
  const read = async () => {
    const state = await ctx.market.auction.state(auctionId);
    return state === "Finalized" || state === "Failed" ? state : undefined;
  };
  const state = await pollUntil(read, { intervalMs: Math.max(100, ctx.market.chain.pollIntervalMs), timeoutMs: ctx.config.migration.peerTimeoutMs, signal: ctx.signal });
  if (state) return state;
  log.warn("auction not finalized after its reveal deadline: finalizing it (this host's bid is the best)", { step: "refund-bond", auctionId });
  try {
    await ctx.market.auction.finalize(auctionId);
  } catch (err) {
    // Someone else finalized it meanwhile, or the registry refuses the allocation (then the auction is rescued after
    // its grace period, and the bond is refundable from then on).
    log.warn("finalize failed", { step: "refund-bond", auctionId, err });
  }
  return read();
}

/**
 * Sends the acceptance of `allocationId` (the winner's first act on `Allocated`) and returns its promise: the import
 * commits only after it resolved (see `requireAccepted`). An allocation already accepted (a restart) resolves it.
 */
export function acceptAllocation(ctx: Pick<HostContext, "market">, allocationId: bigint, log: Logger): Promise<void> {
  const sent = (async () => {
    try {
      const tx = await ctx.market.allocations.accept(allocationId);
      log.info("allocation accepted on-chain", { step: "accept", allocationId, txHash: tx.hash, gasUsed: tx.gasUsed });
    } catch (err) {
      const a = await ctx.market.allocations.allocation(allocationId);
      if (a.accepted) return;
      throw new TvmxError("HOST_ALLOCATION_NOT_ACCEPTED", `the acceptance of allocation ${allocationId} did not land on-chain (${a.state})`, {
        details: { allocationId, state: a.state },
        cause: err,
      });
    }
  })();
  // Observed at the commit; an unobserved rejection here must not crash the host before that.
  sent.catch(() => undefined);
  return sent;
}

/**
 * Resolves when `allocationId` is accepted on-chain: through the pending acceptance this process sent, or else from
 * the chain (a host restarted since it accepted). Throws HOST_ALLOCATION_NOT_ACCEPTED otherwise: without it the source
 * may abort at once and the TD would run here with the chain saying it did not move.
 */
export async function requireAccepted(ctx: Pick<HostContext, "market" | "acceptances">, allocationId: bigint): Promise<void> {
  const pending = ctx.acceptances.get(allocationId);
  if (pending) {
    await pending;
    return;
  }
  let accepted = false;
  try {
    accepted = (await ctx.market.allocations.allocation(allocationId)).accepted;
  } catch (err) {
    if (!isTvmxError(err)) throw err;
    throw new TvmxError("HOST_ALLOCATION_NOT_ACCEPTED", `could not read whether allocation ${allocationId} is accepted`, { details: { allocationId }, cause: err });
  }
  if (!accepted) throw new TvmxError("HOST_ALLOCATION_NOT_ACCEPTED", `allocation ${allocationId} is not accepted on-chain`, { details: { allocationId } });
}
