import type { Wallet } from "ethers";
import type { AdmissionTicket, FinalizeOutcome, Market, TcbRequirement } from "../chain/index.js";
import { isTvmxError, TvmxError } from "../errors/index.js";
import type { HostJournal } from "../journal/index.js";
import type { Logger } from "../log/index.js";
import type { HostMetrics } from "../metrics/index.js";
import { pollUntil } from "../util/index.js";
import type { ChainClock } from "./chain-clock.js";

/**
 * The source's side of the auction, as named steps:
 *
 *   open (openAuction with the reserve in escrow; journal: auction.opened)
 *   → admit (an EIP-712 admission ticket for each host that acknowledged and passed the policy)
 *   → finalize (after the reveal deadline; journal: auction.settled)
 *
 * `finalizeWhenDue` is idempotent: after a restart it finds a finalized auction and journals its outcome.
 */
export interface SourceAuctionContext {
  market: Market;
  wallet: Wallet;
  journal: HostJournal;
  clock: ChainClock;
  logger: Logger;
  metrics?: HostMetrics;
  signal?: AbortSignal;
}

export interface OpenRequest {
  tdId: string;
  tvmId: string;
  requestId: string;
  configHash: string;
  tcb: TcbRequirement;
  reserveWei: bigint;
  bondWei: bigint;
  commitWindowSec: number;
  revealWindowSec: number;
  /** Hosts that acknowledged and passed the policy. */
  admitted: string[];
}

export interface OpenedAuction {
  auctionId: bigint;
  commitDeadline: number;
  revealDeadline: number;
  tickets: AdmissionTicket[];
  txHash: string;
}

export async function openAuction(ctx: SourceAuctionContext, req: OpenRequest): Promise<OpenedAuction> {
  const log = ctx.logger.child({ tvmId: req.tvmId, step: "open-auction" });
  // step: open — deadlines counted from when the chain will mine the opening transaction (not from its latest
  // block, which on an idle on-demand node is as old as the idle time), so the windows are the configured ones.
  const now = await ctx.clock.inclusionSec();
  const commitDeadline = now + req.commitWindowSec;
  const revealDeadline = commitDeadline + req.revealWindowSec;
  const { auctionId, report } = await ctx.market.auction.open(
    { requestId: req.requestId, tvmId: req.tvmId, configHash: req.configHash, tcb: req.tcb, commitDeadline, revealDeadline, bondWei: req.bondWei },
    req.reserveWei,
  );
  await ctx.journal.record({
    type: "auction.opened",
    auctionId,
    tvmId: req.tvmId,
    tdId: req.tdId,
    requestId: req.requestId,
    reserveWei: req.reserveWei,
    commitDeadline,
    revealDeadline,
    admitted: req.admitted,
    txHash: report.hash,
  });
  ctx.metrics?.auctionsTotal.inc({ outcome: "opened" });
  log.info("auction opened", { auctionId, commitDeadline, revealDeadline, reserveWei: req.reserveWei, admitted: req.admitted.length, txHash: report.hash });
  // step: admit
  const tickets = await Promise.all(req.admitted.map((host) => ctx.market.auction.signTicket(ctx.wallet, auctionId, host)));
  return { auctionId, commitDeadline, revealDeadline, tickets, txHash: report.hash };
}

/** Gas limit of a finalize sent without estimation (it allocates, which writes a few slots: well below this). */
export const FINALIZE_GAS_LIMIT = 1_000_000n;

/** Waits for the reveal deadline, finalizes (or finds it finalized), journals the outcome. */
export async function finalizeWhenDue(ctx: SourceAuctionContext, auctionId: bigint): Promise<FinalizeOutcome | { kind: "already"; state: string; winner?: string; allocationId?: bigint }> {
  const log = ctx.logger.child({ auctionId, step: "finalize" });
  const record = ctx.journal.state.auctions.get(auctionId);
  if (!record) throw new TvmxError("AUCTION_NOT_FOUND", `auction ${auctionId} is not one this host opened`, { details: { auctionId } });
  await ctx.clock.until(record.revealDeadline, ctx.signal);
  const info = await ctx.market.auction.info(auctionId);
  if (info.state === "Finalized" || info.state === "Failed" || info.state === "Cancelled") {
    const status = info.state === "Finalized" ? "finalized" : info.state === "Failed" ? "failed" : "cancelled";
    if (record.status === "open") {
      await ctx.journal.record({
        type: "auction.settled",
        auctionId,
        status,
        ...(info.state === "Finalized" ? { winner: info.bestBidder, allocationId: info.allocationId } : {}),
      });
    }
    return { kind: "already", state: info.state, ...(info.state === "Finalized" ? { winner: info.bestBidder, allocationId: info.allocationId } : {}) };
  }
  const outcome = await finalizeOnceEnded(ctx, auctionId, record.revealDeadline, log);
  if (outcome.kind === "finalized") {
    await ctx.journal.record({ type: "auction.settled", auctionId, status: "finalized", winner: outcome.winner, priceWei: outcome.price, allocationId: outcome.allocationId });
    ctx.metrics?.auctionsTotal.inc({ outcome: "finalized" });
    log.info("auction finalized", { winner: outcome.winner, priceWei: outcome.price, winningBid: outcome.winningBid, allocationId: outcome.allocationId, txHash: outcome.report.hash });
  } else {
    await ctx.journal.record({ type: "auction.settled", auctionId, status: "failed" });
    ctx.metrics?.auctionsTotal.inc({ outcome: "failed" });
    log.warn("auction failed: no bid was revealed, or the best bidder was no longer eligible at finalize", { txHash: outcome.report.hash });
  }
  return outcome;
}

/**
 * Sends finalize; when it was mined in a block still before the reveal deadline (the clock's estimate is a lower
 * bound only while the chain keeps its lead over the wall clock: a local node whose blocks each add a second and come
 * late, under load, loses it), waits until the latest block is past the deadline and sends it once more.
 */
async function finalizeOnceEnded(ctx: SourceAuctionContext, auctionId: bigint, revealDeadline: number, log: Logger): Promise<FinalizeOutcome> {
  try {
    return await ctx.market.auction.finalize(auctionId, { gasLimit: FINALIZE_GAS_LIMIT });
  } catch (err) {
    if (!isTvmxError(err) || err.code !== "CHAIN_TX_REVERTED") throw err;
    const { state } = await ctx.market.auction.info(auctionId);
    if (state !== "Commit" && state !== "Reveal") throw err;
    log.warn("finalize reverted: the chain is still before the reveal deadline; sending it again once a block is past it", { revealDeadline, err });
    await pollUntil(async () => ((await ctx.market.chain.provider.getBlock("latest"))?.timestamp ?? 0) >= revealDeadline || undefined, {
      intervalMs: ctx.market.chain.pollIntervalMs,
      timeoutMs: 120_000,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    return ctx.market.auction.finalize(auctionId, { gasLimit: FINALIZE_GAS_LIMIT });
  }
}

/** Recovery: finalizes every journaled auction still open. */
export async function finalizePending(ctx: SourceAuctionContext): Promise<void> {
  const open = [...ctx.journal.state.auctions.values()].filter((a) => a.status === "open");
  await Promise.all(
    open.map((a) =>
      finalizeWhenDue(ctx, a.auctionId).catch((err: unknown) => ctx.logger.error("recovery: finalize failed", { auctionId: a.auctionId, err })),
    ),
  );
}
