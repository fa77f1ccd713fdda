import { randomBytes } from "node:crypto";
import type { AdmissionTicket, Market, RetryDeadline, TxReport } from "../chain/index.js";
import { isTvmxError, TvmxError } from "../errors/index.js";
import type { BidRecord, HostJournal } from "../journal/index.js";
import type { Logger } from "../log/index.js";
import type { HostMetrics } from "../metrics/index.js";
import type { ChainClock } from "./chain-clock.js";

/**
 * The destination's side of a sealed-bid auction, as named steps:
 *
 *   prepare (salt, journal: bid.prepared — durable BEFORE anything is sent)
 *   → commit (commitBid with the source's admission ticket and the bond; journal: bid.committed)
 *   → reveal (once the commit deadline has passed; journal: bid.revealed)
 *
 * Every step is idempotent against the chain: after a crash, `revealPending` looks at what the chain says
 * about each journaled bid and finishes the job (a bid committed just before the crash is still revealed).
 */
export interface BiddingContext {
  market: Market;
  journal: HostJournal;
  clock: ChainClock;
  logger: Logger;
  metrics?: HostMetrics;
  signal?: AbortSignal;
}

export interface BidRequest {
  auctionId: bigint;
  tvmId: string;
  source: string;
  ticket: AdmissionTicket;
  priceWei: bigint;
  capacity: number;
  bondWei: bigint;
  commitDeadline: number;
  revealDeadline: number;
}

/** Steps prepare and commit. Returns the commit transaction's report. */
export async function placeSealedBid(ctx: BiddingContext, req: BidRequest): Promise<{ commitment: string; report: TxReport }> {
  const log = ctx.logger.child({ auctionId: req.auctionId, step: "bid" });
  const me = senderOf(ctx).address;
  // step: prepare — the salt is the only secret of a sealed bid; lose it and the bond is forfeited.
  const salt = `0x${randomBytes(32).toString("hex")}`;
  await ctx.journal.record({
    type: "bid.prepared",
    auctionId: req.auctionId,
    tvmId: req.tvmId,
    source: req.source,
    priceWei: req.priceWei,
    capacity: req.capacity,
    salt,
    revealDeadline: req.revealDeadline,
  });
  log.info("bid prepared", { priceWei: req.priceWei, capacity: req.capacity });
  // step: commit — the commitment binds this chain's id and the auction contract's address as well
  const commitment = ctx.market.auction.commitmentFor(req.auctionId, me, req.priceWei, req.capacity, salt);
  const report = await ctx.market.auction.commit(req.auctionId, commitment, req.ticket, req.bondWei);
  await ctx.journal.record({ type: "bid.committed", auctionId: req.auctionId, txHash: report.hash });
  ctx.metrics?.bidsTotal.inc({ outcome: "committed" });
  log.info("bid committed", { txHash: report.hash, gasUsed: report.gasUsed });
  return { commitment, report };
}

/**
 * Step reveal for one journaled bid: waits for the commit deadline (read from the chain), then reveals.
 * Returns "revealed", or why it did not: the chain never saw the commit, or the reveal window closed.
 *
 * The retry budget of every chain call on the way is the reveal window itself, not a number of attempts: through
 * an RPC outage the reads and the reveal are retried (with backoff) for as long as the window is open, and once it
 * has closed no further attempt is made: CHAIN_DEADLINE_PASSED, naming the chain RPC and the window.
 */
export async function revealBid(ctx: BiddingContext, auctionId: bigint): Promise<"revealed" | "not-committed" | "too-late"> {
  const log = ctx.logger.child({ auctionId, step: "reveal" });
  const bid = ctx.journal.state.bids.get(auctionId);
  if (!bid) throw new TvmxError("AUCTION_BID_MISSING", `no journaled bid for auction ${auctionId}`, { details: { auctionId } });
  const me = senderOf(ctx).address;
  const until = await revealWindowDeadline(ctx, auctionId, bid.revealDeadline);
  const onChain = await ctx.market.auction.bid(auctionId, me, until);
  if (onChain.status === "Revealed" || onChain.status === "Refunded") {
    if (bid.status !== "revealed") await ctx.journal.record({ type: "bid.revealed", auctionId, txHash: bid.revealTx ?? "" });
    return "revealed";
  }
  if (onChain.status === "None") {
    // Prepared, but the commit never made it on-chain (a crash before it was mined): nothing to reveal.
    await ctx.journal.record({ type: "bid.settled", auctionId, status: "lost" });
    log.warn("bid was never committed on-chain; dropping it", {});
    return "not-committed";
  }
  if (onChain.status === "Forfeited") {
    await ctx.journal.record({ type: "bid.settled", auctionId, status: "forfeited" });
    return "too-late";
  }
  if (bid.status === "prepared") await ctx.journal.record({ type: "bid.committed", auctionId, txHash: "" });
  const info = await ctx.market.auction.info(auctionId, until);
  await ctx.clock.until(info.commitDeadline, ctx.signal);
  if ((await ctx.clock.nowSec()) >= info.revealDeadline) {
    await ctx.journal.record({ type: "bid.settled", auctionId, status: "forfeited" });
    log.error("reveal window closed before the bid could be revealed; the bond is forfeited", { revealDeadline: info.revealDeadline });
    ctx.metrics?.bidsTotal.inc({ outcome: "forfeited" });
    return "too-late";
  }
  const report = await sendReveal(ctx, bid, log, until);
  await ctx.journal.record({ type: "bid.revealed", auctionId, txHash: report.hash });
  ctx.metrics?.bidsTotal.inc({ outcome: "revealed" });
  log.info("bid revealed", { txHash: report.hash, priceWei: bid.priceWei });
  return "revealed";
}

/** Gas limit of a reveal sent without estimation (a reveal costs about 40k-60k). */
export const REVEAL_GAS_LIMIT = 200_000n;

/** The reveal transaction; a node whose clock lags the deadline by a second gets a few more tries. */
async function sendReveal(ctx: BiddingContext, bid: BidRecord, log: Logger, until: RetryDeadline): Promise<TxReport> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await ctx.market.auction.reveal(bid.auctionId, bid.priceWei, bid.capacity, bid.salt, { gasLimit: REVEAL_GAS_LIMIT, until });
    } catch (err) {
      // MigrationAuctionUnexpectedState(auctionId, current, expected) with current = Commit (1): not yet.
      const args = isTvmxError(err) ? (err.details.args as { current?: unknown } | undefined) : undefined;
      const tooEarly = isTvmxError(err, "CHAIN_TX_REVERTED") && err.details.error === "MigrationAuctionUnexpectedState" && args?.current === 1n && attempt < 10;
      if (!tooEarly) throw err;
      log.debug("reveal too early for the chain's clock, retrying", { attempt });
      await ctx.clock.until((await ctx.clock.nowSec()) + 1, ctx.signal);
    }
  }
}

/**
 * The end of auction `auctionId`'s reveal window (chain time `revealDeadlineSec`) as a wall-clock retry deadline:
 * the chain clock's estimate of chain time now (which needs no RPC answer) tells how far away it is.
 */
export async function revealWindowDeadline(ctx: Pick<BiddingContext, "clock">, auctionId: bigint, revealDeadlineSec: number, wallNowMs = Date.now()): Promise<RetryDeadline> {
  const chainNow = await ctx.clock.nowSec();
  return { atMs: wallNowMs + (revealDeadlineSec - chainNow) * 1000, what: `the reveal window of auction ${auctionId}` };
}

/** Recovery: reveals every journaled bid that is committed (or may be) and not yet revealed. */
export async function revealPending(ctx: BiddingContext): Promise<Map<bigint, Awaited<ReturnType<typeof revealBid>> | Error>> {
  const results = new Map<bigint, Awaited<ReturnType<typeof revealBid>> | Error>();
  const pending = [...ctx.journal.state.bids.values()].filter((b) => b.status === "prepared" || b.status === "committed");
  await Promise.all(
    pending.map(async (b) => {
      try {
        results.set(b.auctionId, await revealBid(ctx, b.auctionId));
      } catch (err) {
        ctx.logger.error("recovery: reveal failed", { auctionId: b.auctionId, err });
        results.set(b.auctionId, err as Error);
      }
    }),
  );
  return results;
}

function senderOf(ctx: BiddingContext) {
  if (!ctx.market.sender) throw new TvmxError("HOST_NO_SIGNER", "bidding needs a market with the host's key", {});
  return ctx.market.sender;
}
