import { TvmxError } from "../errors/index.js";
import type { AuctionInfo } from "../chain/index.js";
import type { AuctionsView, PlacementView } from "./control-api.js";
import type { HostContext } from "./context.js";

/** What the control API reads of the host's journal and the chain; the routes see only their answers. */

/** The auctions this host opened and the bids it made, from the journal (a bid's salt stays secret). */
export function auctionsView(ctx: HostContext): AuctionsView {
  return {
    opened: [...ctx.journal.state.auctions.values()],
    bids: [...ctx.journal.state.bids.values()].map(({ salt: _secret, ...bid }) => bid),
  };
}

/** One auction as the chain sees it; AUCTION_NOT_FOUND when the chain has no such auction. */
export async function auctionView(ctx: HostContext, auctionId: bigint): Promise<AuctionInfo> {
  const info = await ctx.market.auction.info(auctionId);
  if (info.state === "None") throw new TvmxError("AUCTION_NOT_FOUND", `no auction ${auctionId}`, { details: { auctionId } });
  return info;
}

/**
 * Where a TVM runs and its allocation history on the auction chain, with, when the host has a mirror chain, the
 * mirror record of each allocation there (keyed by source chain, allocation id and destination: the winner writes
 * it after the outcome).
 */
export async function placementView(ctx: HostContext, tvmId: string): Promise<PlacementView> {
  const allocations = ctx.market.allocations;
  const [placement, history] = await Promise.all([allocations.currentPlacement(tvmId), allocations.history(tvmId)]);
  const mirrorRegistry = ctx.mirror;
  if (!mirrorRegistry) return { tvmId, placement, history };
  const sourceChainId = allocations.chainId;
  const mirrors = await Promise.all(
    history.map(async (a) => ({ allocationId: a.id, destination: a.destination, record: (await mirrorRegistry.mirrored(sourceChainId, a.id, a.destination)) ?? null })),
  );
  return { tvmId, placement, history, mirrorChainId: mirrorRegistry.chainId, mirrors };
}
