import type { Allocation, AuctionInfo, MirrorRecord, TxReport } from "../chain/index.js";
import type { BidRecord, SourceAuctionRecord } from "../journal/index.js";
import type { AuctionSummary, MigrateRequest } from "./source-flow.js";
import type { HostStatus } from "./status.js";
import type { TdSpec, TdSummary } from "./td-manager.js";

/**
 * The control API of a running host, written down once: the routes (control-routes.ts) are checked against it, and
 * the CLI and the demo call it through `ApiClient<HostControlApi>`, receiving each answer in its JSON form
 * (`JsonForm`: bigints as decimal strings). Request bodies are given in the form they travel in.
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
export interface HostControlApi {
  "GET /v1/status": { request: undefined; response: HostStatus };
  "GET /v1/tds": { request: undefined; response: TdSummary[] };
  "POST /v1/tds": { request: TdSpec; response: TdSummary };
  "GET /v1/tds/:id": { request: undefined; response: TdSummary };
  "POST /v1/tds/:id/migrate": { request: MigrateBody | undefined; response: AuctionSummary };
  "GET /v1/auctions": { request: undefined; response: AuctionsView };
  "GET /v1/auctions/:id": { request: undefined; response: AuctionInfo };
  "GET /v1/allocations/:tvmId": { request: undefined; response: PlacementView };
  "GET /v1/transactions": { request: undefined; response: TransactionReport[] };
}

/** The body of `POST /v1/tds/:id/migrate`: a reserve price (wei, a decimal string) and a downtime target. */
export interface MigrateBody {
  reservePriceWei?: string;
  downtimeMs?: number;
}

/** The auctions this host opened as a source and the bids it made as a destination (bids without their salt). */
export interface AuctionsView {
  opened: SourceAuctionRecord[];
  bids: Omit<BidRecord, "salt">[];
}

/** Where a TVM runs, its allocation history, and (with a mirror chain) each allocation's mirror record there. */
export interface PlacementView {
  tvmId: string;
  placement: { host: string; allocationId: bigint };
  history: Allocation[];
  /** Present when the host has a mirror chain. */
  mirrorChainId?: bigint;
  mirrors?: { allocationId: bigint; destination: string; record: (MirrorRecord & { recordedBy: string; recordedAt: number }) | null }[];
}

/** A transaction this host sent (either chain), with its gas; the receipt object itself stays in the host. */
export type TransactionReport = Omit<TxReport, "receipt">;

/** The host as its control API sees it: the routes reach nothing else (not its context, journal or market). */
export interface ControlledHost {
  status(): Promise<HostStatus>;
  trustDomains(): TdSummary[];
  trustDomain(id: string): TdSummary;
  createTd(spec: TdSpec): Promise<TdSummary>;
  migrate(req: MigrateRequest): Promise<AuctionSummary>;
  auctions(): AuctionsView;
  auction(auctionId: bigint): Promise<AuctionInfo>;
  placement(tvmId: string): Promise<PlacementView>;
  transactions(): TransactionReport[];
}
