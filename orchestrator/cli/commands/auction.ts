/** `tvmx auction list|show`: the auctions a host opened and the bids it made; one auction as the chain sees it. */
import type { CliIo } from "../io.js";
import { hostApiFor, type HostTargetOptions } from "./host-target.js";
import { formatWei } from "../../util/index.js";
import { fields, printJson, table } from "./output.js";

export async function list(options: HostTargetOptions & { json?: boolean }, io: CliIo): Promise<number> {
  const view = await (await hostApiFor(options)).call("GET /v1/auctions");
  if (options.json) {
    printJson(io, view);
    return 0;
  }
  io.out("auctions opened by this host:");
  io.out(view.opened.length
      ? table([["  auction", "TD", "admitted", "status", "winner", "price (wei)"], ...view.opened.map((a) => ["  " + a.auctionId, a.tdId, a.admitted?.length, a.status, a.winner, a.priceWei])])
      : "  none");
  io.out("bids made by this host:");
  io.out(view.bids.length ? table([["  auction", "source", "price (wei)", "status"], ...view.bids.map((b) => ["  " + b.auctionId, b.source, b.priceWei, b.status])]) : "  none");
  return 0;
}

export async function show(id: string, options: HostTargetOptions & { json?: boolean }, io: CliIo): Promise<number> {
  const a = await (await hostApiFor(options)).call("GET /v1/auctions/:id", { params: { id } });
  if (options.json) printJson(io, a);
  else
    io.out(
      fields([
        ["auction", a.auctionId],
        ["state", a.state],
        ["source", a.source],
        ["TVM", a.tvmId],
        ["commit deadline", new Date(a.commitDeadline * 1000).toISOString()],
        ["reveal deadline", new Date(a.revealDeadline * 1000).toISOString()],
        ["reserve", formatWei(a.reserve)],
        ["bond", formatWei(a.bond)],
        ["reveals", a.revealCount],
        ["best bidder", a.bestBidder],
        ["best bid", formatWei(a.bestPrice)],
        ["second price (paid)", formatWei(a.secondPrice)],
        ["allocation", a.allocationId],
      ]),
    );
  return 0;
}
