import { routeOf, type ControlRequest, type ControlRoute } from "../control/index.js";
import { TvmxError } from "../errors/index.js";
import type { ControlledHost, HostControlApi } from "./control-api.js";
import type { TdSpec } from "./td-manager.js";

const route = routeOf<HostControlApi>();

/**
 * The routes of the control API (control-api.ts lists them): each checks its input, then asks the host. Amounts of
 * wei arrive as decimal strings. The TD spec is checked by the TD manager, which refuses a bad one with its code.
 */
export function controlRoutes(host: ControlledHost): ControlRoute[] {
  return [
    route("GET /v1/status", () => host.status()),
    route("GET /v1/tds", () => host.trustDomains()),
    route("POST /v1/tds", ({ body }) => host.createTd(body as TdSpec)),
    route("GET /v1/tds/:id", ({ params }) => host.trustDomain(params.id)),
    route("POST /v1/tds/:id/migrate", ({ params, body }) => host.migrate({ tdId: params.id, ...migrateOptions(body) })),
    route("GET /v1/auctions", () => host.auctions()),
    route("GET /v1/auctions/:id", ({ params }) => {
      if (!/^[0-9]{1,20}$/.test(params.id)) throw badRequest(`auction id must be a number, got ${JSON.stringify(params.id)}`, { id: params.id });
      return host.auction(BigInt(params.id));
    }),
    route("GET /v1/allocations/:tvmId", ({ params }) => {
      if (!/^0x[0-9a-fA-F]{64}$/.test(params.tvmId)) throw badRequest(`TVM id must be 32 bytes of 0x-hex, got ${JSON.stringify(params.tvmId)}`, { tvmId: params.tvmId });
      return host.placement(params.tvmId);
    }),
    route("GET /v1/transactions", () => host.transactions()),
  ];
}

/** The optional reserve price and downtime target of a migrate request, checked. */
function migrateOptions(body: ControlRequest["body"]): { reservePriceWei?: bigint; downtimeTargetMs?: number } {
  const b = (body ?? {}) as { reservePriceWei?: unknown; downtimeMs?: unknown };
  const reserve = b.reservePriceWei;
  if (reserve !== undefined && (typeof reserve !== "string" || !/^[0-9]{1,30}$/.test(reserve) || BigInt(reserve) === 0n)) {
    throw badRequest(`reservePriceWei: expected a positive decimal string, got ${JSON.stringify(reserve)}`, { field: "reservePriceWei", value: reserve });
  }
  const downtime = b.downtimeMs;
  if (downtime !== undefined && (typeof downtime !== "number" || !Number.isInteger(downtime) || downtime < 1 || downtime > 600_000)) {
    throw badRequest(`downtimeMs: expected an integer from 1 to 600000, got ${JSON.stringify(downtime)}`, { field: "downtimeMs", value: downtime });
  }
  return { ...(reserve !== undefined ? { reservePriceWei: BigInt(reserve) } : {}), ...(downtime !== undefined ? { downtimeTargetMs: downtime } : {}) };
}

function badRequest(message: string, details: Record<string, unknown>): TvmxError {
  return new TvmxError("CONTROL_BAD_REQUEST", message, { details });
}
