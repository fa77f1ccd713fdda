import type { ControlRoute } from "../control/index.js";
import { TvmxError } from "../errors/index.js";
import { summarize } from "./td-manager.js";
import type { Host } from "./host.js";

/**
 * The control API of a running host (used by the CLI): JSON in and out, amounts of wei as decimal strings.
 *
 *   GET  /v1/status                 this host: address, ports, capacity, registration, journal
 *   GET  /v1/tds                    TDs running here
 *   POST /v1/tds                    create a TD {memoryMiB, vcpus, workload?: {bytesPerSecond, hotSetMiB, seed}}
 *   GET  /v1/tds/:id                one TD (by TD id or TVM id)
 *   POST /v1/tds/:id/migrate        run the migration {reservePriceWei?, downtimeMs?}; answers with its summary
 *   GET  /v1/auctions               auctions opened and bids made by this host (from the journal)
 *   GET  /v1/auctions/:id           one auction as the chain sees it
 *   GET  /v1/allocations/:tvmId     where a TVM runs, its allocation history and (with a mirror chain) the mirror records
 *   GET  /v1/transactions           every transaction this host sent, with its gas
 */
export function controlRoutes(host: Host): ControlRoute[] {
  return [
    { method: "GET", path: "/v1/status", handler: () => host.status() },
    { method: "GET", path: "/v1/tds", handler: () => host.context.tds.list() },
    {
      method: "POST",
      path: "/v1/tds",
      handler: async ({ body }) => summarize(await host.context.tds.create(body as never)),
    },
    { method: "GET", path: "/v1/tds/:id", handler: ({ params }) => summarize(host.context.tds.get(params.id!)) },
    {
      method: "POST",
      path: "/v1/tds/:id/migrate",
      handler: async ({ params, body }) => {
        const b = (body ?? {}) as { reservePriceWei?: unknown; downtimeMs?: unknown };
        const reserve = b.reservePriceWei;
        if (reserve !== undefined && (typeof reserve !== "string" || !/^[0-9]{1,30}$/.test(reserve) || BigInt(reserve) === 0n)) {
          throw new TvmxError("CONTROL_BAD_REQUEST", `reservePriceWei: expected a positive decimal string, got ${JSON.stringify(reserve)}`, { details: { field: "reservePriceWei", value: reserve } });
        }
        const downtime = b.downtimeMs;
        if (downtime !== undefined && (!Number.isInteger(downtime) || (downtime as number) < 1 || (downtime as number) > 600_000)) {
          throw new TvmxError("CONTROL_BAD_REQUEST", `downtimeMs: expected an integer from 1 to 600000, got ${JSON.stringify(downtime)}`, { details: { field: "downtimeMs", value: downtime } });
        }
        return host.migrate({
          tdId: params.id!,
          ...(reserve !== undefined ? { reservePriceWei: BigInt(reserve as string) } : {}),
          ...(downtime !== undefined ? { downtimeTargetMs: downtime as number } : {}),
        });
      },
    },
    {
      method: "GET",
      path: "/v1/auctions",
      handler: () => ({
        opened: [...host.context.journal.state.auctions.values()],
        bids: [...host.context.journal.state.bids.values()].map(({ salt: _secret, ...bid }) => bid),
      }),
    },
    {
      method: "GET",
      path: "/v1/auctions/:id",
      handler: async ({ params }) => {
        if (!/^[0-9]{1,20}$/.test(params.id!)) throw new TvmxError("CONTROL_BAD_REQUEST", `auction id must be a number, got ${JSON.stringify(params.id)}`, { details: { id: params.id } });
        const info = await host.context.market.auction.info(BigInt(params.id!));
        if (info.state === "None") throw new TvmxError("AUCTION_NOT_FOUND", `no auction ${params.id}`, { details: { auctionId: params.id } });
        return info;
      },
    },
    {
      method: "GET",
      path: "/v1/allocations/:tvmId",
      handler: async ({ params }) => {
        const tvmId = params.tvmId!;
        if (!/^0x[0-9a-fA-F]{64}$/.test(tvmId)) throw new TvmxError("CONTROL_BAD_REQUEST", `TVM id must be 32 bytes of 0x-hex, got ${JSON.stringify(tvmId)}`, { details: { tvmId } });
        const allocations = host.context.market.allocations;
        const [placement, history] = await Promise.all([allocations.currentPlacement(tvmId), allocations.history(tvmId)]);
        // The mirror record of each allocation as this host's own chain has it (keyed by source chain,
        // allocation id and destination), when the host has one: the winner writes it there after the outcome.
        const mirrorRegistry = host.context.mirror;
        if (!mirrorRegistry) return { tvmId, placement, history };
        const sourceChainId = allocations.chainId;
        const mirrors = await Promise.all(
          history.map(async (a) => ({ allocationId: a.id, destination: a.destination, record: (await mirrorRegistry.mirrored(sourceChainId, a.id, a.destination)) ?? null })),
        );
        return { tvmId, placement, history, mirrorChainId: mirrorRegistry.chainId, mirrors };
      },
    },
    { method: "GET", path: "/v1/transactions", handler: () => host.transactions() },
  ];
}
