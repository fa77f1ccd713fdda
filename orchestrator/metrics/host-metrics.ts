import { MetricsRegistry, type Counter, type Gauge, type Histogram } from "./registry.js";

/** The metrics a host exports. Names follow Prometheus conventions (base units: seconds, bytes). */
export interface HostMetrics {
  registry: MetricsRegistry;
  /** Migrations finished, by role (source|destination) and outcome (Committed|Aborted). */
  migrationsTotal: Counter;
  /** Bids, by outcome: committed, revealed, won, lost, declined (did not bid), failed. */
  bidsTotal: Counter;
  /** Auctions opened as the source, by outcome: opened, finalized, failed. */
  auctionsTotal: Counter;
  /** Blackout of committed migrations (seconds). */
  downtimeSeconds: Histogram;
  /** Whole migration time (seconds). */
  migrationSeconds: Histogram;
  /** Migration stream payload bytes sent/received, by direction. */
  migrationBytesTotal: Counter;
  /** Transactions sent, by contract method and outcome (mined|reverted|failed). */
  transactionsTotal: Counter;
  /** Gas used by mined transactions, by contract method. */
  gasUsedTotal: Counter;
  /** RPC errors that were retried. */
  rpcRetriesTotal: Counter;
  /** Migration stream connections refused before admission, by reason. */
  streamRefusedTotal: Counter;
  /** TDs running on this host, and free TVM slots. */
  tdsRunning: Gauge;
  freeSlots: Gauge;
  /** Migrations in flight, by role. */
  migrationsInFlight: Gauge;
  /** Connections the channel listener refused, by reason (limit_total, limit_address, limit_identity, deadline, tls, peer). */
  channelRefusedTotal: Counter;
}

export function createHostMetrics(registry = new MetricsRegistry()): HostMetrics {
  return {
    registry,
    migrationsTotal: registry.counter("tvmx_migrations_total", "Migrations finished, by role and outcome.", ["role", "outcome"]),
    bidsTotal: registry.counter("tvmx_bids_total", "Bids by outcome.", ["outcome"]),
    auctionsTotal: registry.counter("tvmx_auctions_total", "Auctions opened as the source, by outcome.", ["outcome"]),
    downtimeSeconds: registry.histogram(
      "tvmx_migration_downtime_seconds",
      "Blackout of committed migrations, from pause on the source to running on the destination.",
      ["role"],
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.3, 1, 3],
    ),
    migrationSeconds: registry.histogram("tvmx_migration_duration_seconds", "Whole migration time.", ["role"], [0.1, 0.5, 1, 2, 5, 10, 30, 60, 300]),
    migrationBytesTotal: registry.counter("tvmx_migration_bytes_total", "Migration stream bytes, by direction.", ["direction"]),
    transactionsTotal: registry.counter("tvmx_transactions_total", "Transactions sent, by method and outcome.", ["method", "outcome"]),
    gasUsedTotal: registry.counter("tvmx_gas_used_total", "Gas used by mined transactions, by method.", ["method"]),
    rpcRetriesTotal: registry.counter("tvmx_rpc_retries_total", "RPC calls retried after a transient error.", ["chain"]),
    streamRefusedTotal: registry.counter("tvmx_stream_refused_total", "Migration stream connections refused before admission, by reason.", ["reason"]),
    tdsRunning: registry.gauge("tvmx_tds_running", "Trust domains running on this host."),
    freeSlots: registry.gauge("tvmx_free_tvm_slots", "Free TVM slots on this host."),
    migrationsInFlight: registry.gauge("tvmx_migrations_in_flight", "Migrations in progress, by role.", ["role"]),
    channelRefusedTotal: registry.counter("tvmx_channel_refused_total", "Connections the channel listener refused, by reason.", ["reason"]),
  };
}
