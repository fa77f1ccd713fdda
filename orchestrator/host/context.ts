import type { Wallet } from "ethers";
import type { AllocationRegistryClient, Market, TcbRequirement } from "../chain/index.js";
import type { ChannelIdentity, ChannelTrust } from "../channel/index.js";
import type { HostConfig } from "../config/index.js";
import type { HostJournal } from "../journal/index.js";
import type { Logger } from "../log/index.js";
import type { HostMetrics } from "../metrics/index.js";
import type { CompletedImport } from "../migration/index.js";
import type { MigRequestDescriptor } from "../tdx/index.js";
import type { ChainClock } from "./chain-clock.js";
import type { ChainHostDirectory } from "./chain-directory.js";
import type { Peers } from "./peers.js";
import type { HostPlatform } from "./platform-setup.js";
import type { TdManager } from "./td-manager.js";

/** A session key agreed in a protected session, waiting for the migration that uses it. */
export interface SessionKey {
  key: Buffer;
  migrationVersion: number;
  peer: string;
  keyId: string;
}

/** What the destination remembers of a request it acknowledged. */
export interface AcknowledgedRequest {
  migrationId: string;
  source: string;
  descriptor: MigRequestDescriptor;
  tvmId: string;
  memoryMiB: number;
  /** keccak256 of the signed descriptor, and its TCB capability as an on-chain requirement: the terms the
   * auction must carry for this host to bid. */
  configHash: string;
  tcb: TcbRequirement;
}

/** Everything the source and destination pipelines use; built once by Host.start. */
export interface HostContext {
  config: HostConfig;
  wallet: Wallet;
  address: string;
  market: Market;
  /** The AllocationRegistry on this host's own chain (mirror records), when configured. */
  mirror: AllocationRegistryClient | undefined;
  journal: HostJournal;
  tds: TdManager;
  hp: HostPlatform;
  identity: ChannelIdentity;
  trust: ChannelTrust;
  peers: Peers;
  directory: ChainHostDirectory;
  clock: ChainClock;
  logger: Logger;
  metrics: HostMetrics;
  signal: AbortSignal;
  /** The port of this host's incoming-migration listener. */
  migrationPort: number;
  /** Session keys by `${migrationId}/${peer}`. */
  sessions: Map<string, SessionKey>;
  /** Requests this host acknowledged, by migration id. */
  acknowledged: Map<string, AcknowledgedRequest>;
  /** Imports awaited by migration id (resolved by the listener's accept loop, rejected on abort). */
  imports: Map<string, { resolve(c: CompletedImport): void; reject(e: Error): void; promise: Promise<CompletedImport> }>;
  /** Acceptances this host sent as a winner, by allocation id (the import commits only once its acceptance is mined). */
  acceptances: Map<bigint, Promise<void>>;
  /** Downtime targets asked by `migrate --downtime-ms`, by auction id, until its migration starts (source). */
  downtimeTargets: Map<bigint, number>;
  /** Outcomes of source-side migrations, by auction id, for whoever started them. */
  outcomes: Map<bigint, { resolve(o: MigrationOutcomeReport): void; reject(e: Error): void; promise: Promise<MigrationOutcomeReport> }>;
  /** Called with each migration's progress (the progress bar, control API status). */
  onProgress?: (p: { migrationId: string; phase: string; round: number; bytesSent: number; memoryBytes: number; elapsedMs: number }) => void;
}

/** What a finished migration looked like, for the CLI, the demo and the logs. */
export interface MigrationOutcomeReport {
  status: "Committed" | "Aborted";
  /** The host's 32-byte migration id: the same in both hosts' logs, journals and control API answers. */
  migrationId: string;
  allocationId: bigint;
  auctionId: bigint;
  tvmId: string;
  source: string;
  destination: string;
  priceWei: bigint;
  allocationTx: string;
  mirrorTx?: string;
  rounds?: number;
  bytesSent?: number;
  totalMs?: number;
  downtimeMs?: number;
  digestMatch?: boolean;
  sourceDigest?: string;
  destinationDigest?: string;
  reason?: string;
  resultCode?: number;
  /** What the source does next after an abort (`migration.onFailure`), when it does something. */
  followUp?: "runner-up" | "new-auction";
}
