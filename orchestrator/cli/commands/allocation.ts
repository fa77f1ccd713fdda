/**
 * `tvmx allocation show <tvm>`: where a TVM runs and its allocation history, from the auction chain, and, when
 * the host has a mirror chain, each allocation's mirror record there (written by the winner after the outcome).
 */
import type { CliIo } from "../io.js";
import { hostApiFor, type HostTargetOptions } from "./host-target.js";
import { formatWei } from "../../util/index.js";
import { fields, printJson, table } from "./output.js";

export async function show(tvmId: string, options: HostTargetOptions & { json?: boolean }, io: CliIo): Promise<number> {
  const v = await (await hostApiFor(options)).call("GET /v1/allocations/:tvmId", { params: { tvmId } });
  if (options.json) {
    printJson(io, v);
    return 0;
  }
  io.out(fields([["TVM", v.tvmId], ["runs on", /^0x0{40}$/.test(v.placement.host) ? "no allocation recorded" : v.placement.host], ["allocation", v.placement.allocationId]]));
  io.out("history:");
  io.out(
    v.history.length
      ? table([["  id", "auction", "state", "source", "destination", "price"], ...v.history.map((h) => ["  " + h.id, h.auctionId, h.state + (h.state === "Aborted" ? ` (reason ${h.abortReason})` : ""), h.source, h.destination, formatWei(h.price)])])
      : "  none",
  );
  if (v.mirrors !== undefined) {
    io.out(`mirror records on chain ${v.mirrorChainId}:`);
    io.out(
      v.mirrors.length
        ? table([
            ["  allocation", "destination", "outcome", "recorded", "source tx"],
            ...v.mirrors.map((m) => ["  " + m.allocationId, m.destination, m.record?.outcome ?? "-", m.record ? `by ${m.record.recordedBy} at ${new Date(m.record.recordedAt * 1000).toISOString()}` : "not (yet)", m.record?.sourceTxHash ?? "-"]),
          ])
        : "  none",
    );
  }
  return 0;
}
