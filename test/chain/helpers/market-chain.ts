import { network } from "hardhat";
import type { Provider } from "ethers";
import { deploySuite, LOCAL_AUCTION_LIMITS } from "../../../deploy/deploy-suite.js";
import { connectionFromProvider, type ChainConnection, type SuiteAddresses } from "../../../orchestrator/chain/index.js";

export const ONE_ETH = 10n ** 18n;

/** A fresh in-process chain with the suite deployed (1 ETH stake), for tests of the market clients and host steps. */
export interface MarketChain {
  provider: Provider;
  chain: ChainConnection;
  addresses: SuiteAddresses;
  /** Moves the chain's clock forward. */
  increaseTime(seconds: number): Promise<void>;
  /** Sends 20 ETH from the deployer. */
  fund(to: string): Promise<void>;
  /** A raw JSON-RPC call to the node (evm_setIntervalMining, evm_increaseTime, ...). */
  rpc(method: string, params: unknown[]): Promise<unknown>;
}

export async function startMarketChain(): Promise<MarketChain> {
  const { ethers, networkHelpers } = await network.create();
  const [deployer] = await ethers.getSigners();
  const suite = await deploySuite(deployer!, { minStake: ONE_ETH, withdrawalDelay: 3600n, confirmationTimeout: 600n, auctionLimits: LOCAL_AUCTION_LIMITS });
  return {
    provider: ethers.provider,
    chain: await connectionFromProvider(ethers.provider, { url: "edr", pollIntervalMs: 10 }),
    addresses: { hostRegistry: suite.hostRegistry, migrationAuction: suite.migrationAuction, allocationRegistry: suite.allocationRegistry },
    increaseTime: async (seconds) => {
      await networkHelpers.time.increase(seconds);
    },
    fund: async (to) => {
      await (await deployer!.sendTransaction({ to, value: 20n * ONE_ETH })).wait();
    },
    rpc: (method, params) => ethers.provider.send(method, params),
  };
}
