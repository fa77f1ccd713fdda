/** The host daemon: one process per host (see docs/host.md). */
export { Host } from "./host.js";
export type { HostDeps } from "./host.js";
export { STATUS_CHAIN_BUDGET_MS } from "./status.js";
export type { ChainAvailability, HostPorts, HostStatus, MigrationStatus } from "./status.js";
export type { AuctionsView, ControlledHost, HostControlApi, MigrateBody, PlacementView, TransactionReport } from "./control-api.js";
export { readHostFiles, readPolicy, startHostFromConfig } from "./bootstrap.js";
export type { HostFiles } from "./bootstrap.js";
export type { AuctionSummary, MigrateRequest } from "./source-flow.js";
export type { MigrationOutcomeReport } from "./context.js";
export { DEFAULT_PLATFORM_FILE, readPlatformFile, setupPlatform } from "./platform-setup.js";
export type { HostPlatform, HostPlatformFile } from "./platform-setup.js";
export { formatEndpoint, parseEndpoint } from "./endpoint.js";
export type { HostEndpoint } from "./endpoint.js";
export type { TdSpec, TdSummary } from "./td-manager.js";
export { chainClock } from "./chain-clock.js";
export type { ChainClock } from "./chain-clock.js";
