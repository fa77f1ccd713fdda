/**
 * `tvmx migrate <td>`: asks the TD's host to migrate it (broadcast, acknowledgements, auction, live migration)
 * and prints the outcome. Waits until the migration has an outcome; exit status 0 only when it committed.
 */
import type { JsonForm } from "../../control/index.js";
import type { AuctionSummary } from "../../host/index.js";
import type { CliIo } from "../io.js";
import { hostApiFor, type HostTargetOptions } from "./host-target.js";
import { formatWei } from "../../util/index.js";
import { fields, printJson, table } from "./output.js";

export interface MigrateOptions extends HostTargetOptions {
  reservePrice?: string;
  downtimeMs?: number;
  timeoutSec: number;
  json?: boolean;
}

type Summary = JsonForm<AuctionSummary>;

/**
 * The bids as a labelled table: the bidder (address and registered endpoint, the winner marked), what the chain says
 * of the bid after finalize and, once revealed, its price; the commitment and commit transaction last.
 */
export function bidTable(s: Pick<Summary, "bids" | "winner">): string {
  const winner = s.winner?.toLowerCase();
  return table([
    ["  bidder", "endpoint", "bid status", "bid price", "commitment", "commit tx"],
    ...s.bids.map((b) => [
      `  ${b.host}${b.host.toLowerCase() === winner ? " (winner)" : ""}`,
      b.endpoint,
      b.status ?? "committed (not read back)",
      b.priceWei === undefined ? "sealed" : formatWei(b.priceWei),
      b.commitment,
      b.txHash,
    ]),
  ]);
}

export async function run(td: string, options: MigrateOptions, io: CliIo): Promise<number> {
  const api = await hostApiFor(options, options.timeoutSec * 1000);
  const s = await api.call("POST /v1/tds/:id/migrate", {
    params: { id: td },
    body: {
      ...(options.reservePrice !== undefined ? { reservePriceWei: options.reservePrice } : {}),
      ...(options.downtimeMs !== undefined ? { downtimeMs: options.downtimeMs } : {}),
    },
  });
  if (options.json) printJson(io, s);
  else {
    const o = s.outcome;
    io.out(
      [
        fields([
          ["migration", s.migrationId],
          ["TD / TVM", `${s.tdId} / ${s.tvmId}`],
          ["status", s.status],
          ["auction", s.auctionId],
          ["winner", s.winner],
          ["price paid", formatWei(s.priceWei)],
          ["allocation tx", o?.allocationTx],
          ["rounds", o?.rounds],
          ["bytes sent", o?.bytesSent],
          ["total", o?.totalMs === undefined ? undefined : `${o.totalMs.toFixed(1)} ms`],
          ["downtime", o?.downtimeMs === undefined ? undefined : `${o.downtimeMs.toFixed(1)} ms`],
          ["digest match", o?.digestMatch],
          ...(o?.reason ? [["reason", o.reason] as const] : []),
        ]),
        "",
        "acknowledged:",
        s.acknowledged.length ? table(s.acknowledged.map((a) => ["  " + a.host, `capacity ${a.capacity}`])) : "  none",
        "refused:",
        s.refused.length ? table(s.refused.map((r) => ["  " + r.host, r.code ?? "", r.reason])) : "  none",
        "bids:",
        s.bids.length ? bidTable(s) : "  none",
      ].join("\n"),
    );
  }
  return s.status === "Committed" ? 0 : 3;
}
