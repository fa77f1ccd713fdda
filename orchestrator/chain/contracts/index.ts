export { AllocationRegistryClient, ALLOCATION_STATES } from "./allocation-registry-client.js";
export type { Allocation, AllocationStateName, MirrorRecord } from "./allocation-registry-client.js";
export { HostRegistryClient, HOST_STATES } from "./host-registry-client.js";
export type { HostInfo, HostPublication, HostStateName, PlatformSummary } from "./host-registry-client.js";
export { AUCTION_STATES, BID_STATUSES, bidCommitment, MigrationAuctionClient } from "./migration-auction-client.js";
export type { CommitmentDomain } from "./migration-auction-client.js";
export type {
  AdmissionTicket,
  AuctionInfo,
  AuctionStateName,
  BidInfo,
  BidStatusName,
  FinalizeOutcome,
  OpenAuctionParams,
  TcbRequirement,
} from "./migration-auction-client.js";
export { openMarket, SUITE_ERROR_INTERFACES } from "./market.js";
export type { Market, OpenMarketOptions } from "./market.js";
