/**
 * An auction opened by `source` that admits one bidder, and that bidder's sealed bid committed: the starting point of
 * the host tests that play what happens to a reveal or an allocation afterwards (an outage, a reorg, a restart).
 */
import { hexlify, randomBytes } from "ethers";
import { tvmIdFor } from "../../orchestrator/chain/index.js";
import { placeSealedBid } from "../../orchestrator/host/bidding.js";
import { openAuction } from "../../orchestrator/host/source-auction.js";

const MILLI = 10n ** 15n;

export type SourceContext = Parameters<typeof openAuction>[0];
export type BidderContext = Parameters<typeof placeSealedBid>[0];

export interface OneBidOptions {
  commitWindowSec: number;
  revealWindowSec: number;
  /** The TVM's TCB requirement's SVN byte, repeated (default 0x02); every test platform meets 0x01-0x03. */
  svnByte?: string;
}

/** Opens the auction (reserve 10 mETH, bond 1 mETH) and commits `bidder`'s bid of 4 mETH; returns the opening. */
export async function openWithOneBid(source: SourceContext, bidder: BidderContext, bidderAddress: string, options: OneBidOptions) {
  const opened = await openAuction(source, {
    tdId: "td-1",
    tvmId: tvmIdFor(source.wallet.address),
    requestId: hexlify(randomBytes(32)),
    configHash: hexlify(randomBytes(32)),
    tcb: { minTeeTcbSvn: `0x${(options.svnByte ?? "02").repeat(16)}`, minTdxModuleVersion: 0x0105 },
    reserveWei: 10n * MILLI,
    bondWei: MILLI,
    commitWindowSec: options.commitWindowSec,
    revealWindowSec: options.revealWindowSec,
    admitted: [bidderAddress],
  });
  await placeSealedBid(bidder, {
    auctionId: opened.auctionId,
    tvmId: "0x",
    source: source.wallet.address,
    ticket: opened.tickets[0]!,
    priceWei: 4n * MILLI,
    capacity: 2,
    bondWei: MILLI,
    commitDeadline: opened.commitDeadline,
    revealDeadline: opened.revealDeadline,
  });
  return opened;
}
