import type { Wallet } from "ethers";
import { nullLogger, type Logger } from "../../log/index.js";
import type { HostMetrics } from "../../metrics/index.js";
import { AllocationRegistry__factory, HostRegistry__factory, MigrationAuction__factory } from "../../../types/ethers-contracts/index.js";
import type { ChainConnection } from "../connection.js";
import type { SuiteAddresses } from "../deployment.js";
import { TxSender, type TxReport } from "../tx-sender.js";
import { AllocationRegistryClient } from "./allocation-registry-client.js";
import { HostRegistryClient } from "./host-registry-client.js";
import { MigrationAuctionClient } from "./migration-auction-client.js";

/** The three contracts of one chain, sharing one sender (one key, one nonce sequence). */
export interface Market {
  chain: ChainConnection;
  addresses: SuiteAddresses;
  hostRegistry: HostRegistryClient;
  auction: MigrationAuctionClient;
  allocations: AllocationRegistryClient;
  /** Absent for a read-only market. */
  sender?: TxSender;
}

/** Every contract's errors, so a revert bubbling up from a called contract is still decoded. */
export const SUITE_ERROR_INTERFACES = [HostRegistry__factory.createInterface(), MigrationAuction__factory.createInterface(), AllocationRegistry__factory.createInterface()];

export interface OpenMarketOptions {
  /** The host's key; omit for read-only access. */
  wallet?: Wallet;
  logger?: Logger;
  metrics?: HostMetrics;
  onMined?: (report: TxReport) => void;
  signal?: AbortSignal;
}

export function openMarket(chain: ChainConnection, addresses: SuiteAddresses, options: OpenMarketOptions = {}): Market {
  const logger = options.logger ?? nullLogger;
  const metrics = options.metrics;
  const sender = options.wallet
    ? new TxSender(chain, options.wallet, {
        logger,
        errorInterfaces: SUITE_ERROR_INTERFACES,
        ...(options.signal ? { signal: options.signal } : {}),
        onMined: (r) => {
          metrics?.transactionsTotal.inc({ method: r.label, outcome: "mined" });
          metrics?.gasUsedTotal.inc({ method: r.label }, Number(r.gasUsed));
          options.onMined?.(r);
        },
        onFailed: (label, err) => metrics?.transactionsTotal.inc({ method: label, outcome: err.code === "CHAIN_TX_REVERTED" ? "reverted" : "failed" }),
        onRetry: () => metrics?.rpcRetriesTotal.inc({ chain: chain.chainId.toString() }),
      })
    : undefined;
  return {
    chain,
    addresses,
    hostRegistry: new HostRegistryClient(chain, addresses.hostRegistry, sender),
    auction: new MigrationAuctionClient(chain, addresses.migrationAuction, sender),
    allocations: new AllocationRegistryClient(chain, addresses.allocationRegistry, sender),
    ...(sender ? { sender } : {}),
  };
}
