import { getAddress } from "ethers";
import { scanLogs } from "../chain/index.js";
import type { HostContext, MigrationOutcomeReport } from "./context.js";
import { migrateTd, scanFrom } from "./source-flow.js";

/**
 * After a failed migration the TD runs on the source again; `migration.onFailure` says what next:
 * "runner-up" offers it to the next-cheapest bidder of the same auction (a new auction with that host only),
 * "new-auction" asks every host again except the one that failed, "none" leaves it here.
 */
export function followUp(ctx: HostContext, tdId: string, auctionId: bigint, failed: string, report: MigrationOutcomeReport, log: HostContext["logger"]): void {
  const policy = ctx.config.migration.onFailure;
  if (policy === "none" || ctx.signal.aborted) return;
  report.followUp = policy;
  void (async () => {
    let only: string[] | undefined;
    if (policy === "runner-up") {
      const next = await runnerUp(ctx, auctionId, failed);
      if (!next) {
        log.warn("no runner-up to offer the TD to", { step: "follow-up" });
        return;
      }
      only = [next];
    } else {
      only = (await ctx.directory.activeHosts(ctx.market.chain.provider, scanFrom(ctx))).map((h) => getAddress(h.address)).filter((h) => h !== failed);
    }
    log.info("offering the TD again", { step: "follow-up", policy, hosts: only });
    const summary = await migrateTd(ctx, { tdId, only });
    log.info("follow-up migration finished", { step: "follow-up", policy, status: summary.status, winner: summary.winner });
  })().catch((err: unknown) => log.error("follow-up migration failed", { step: "follow-up", err }));
}

/** The lowest revealed bidder of `auctionId` other than `failed` (ties: the order of the reveals). */
export async function runnerUp(ctx: HostContext, auctionId: bigint, failed: string): Promise<string | undefined> {
  const auction = ctx.market.auction.contract;
  const { fromBlock, confirmations } = scanFrom(ctx);
  const provider = ctx.market.chain.provider;
  const { logs } = await scanLogs(
    provider,
    { address: await auction.getAddress(), topics: [auction.interface.getEvent("BidRevealed")!.topicHash, `0x${auctionId.toString(16).padStart(64, "0")}`] },
    { fromBlock, toBlock: (await provider.getBlockNumber()) - (confirmations - 1) },
  );
  const bids = logs
    .map((l) => auction.interface.parseLog(l))
    .filter((p): p is NonNullable<typeof p> => p !== null)
    .map((p) => ({ bidder: getAddress(p.args.bidder as string), price: p.args.price as bigint }))
    .filter((b) => b.bidder !== getAddress(failed))
    .sort((a, b) => (a.price < b.price ? -1 : a.price > b.price ? 1 : 0));
  return bids[0]?.bidder;
}

