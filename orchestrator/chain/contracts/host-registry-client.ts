import { TvmxError } from "../../errors/index.js";
import { HostRegistry__factory, type HostRegistry } from "../../../types/ethers-contracts/index.js";
import type { ChainConnection } from "../connection.js";
import type { RetryDeadline } from "../retry.js";
import type { TxReport, TxSender } from "../tx-sender.js";
import { readWithRetry } from "./read.js";

/** HostState of IHostRegistry, by name. */
export const HOST_STATES = ["Unregistered", "Active", "Suspended", "Exiting", "Withdrawable"] as const;
export type HostStateName = (typeof HOST_STATES)[number];

export interface PlatformSummary {
  /** 16 bytes, 0x-hex. */
  teeTcbSvn: string;
  /** major << 8 | minor. */
  tdxModuleVersion: number;
  /** keccak256 of the quote, 0x-hex. */
  quoteHash: string;
}

export interface HostPublication {
  endpoint: string;
  /** SHA-256 of the channel key, 0x-hex (32 bytes). */
  channelKeyFingerprint: string;
  platform: PlatformSummary;
  capacity: number;
}

export interface HostInfo extends HostPublication {
  address: string;
  state: HostStateName;
  suspended: boolean;
  stake: bigint;
  registeredAt: number;
  /** End of the withdrawal delay (0 while not exiting). */
  unlockAt: number;
  /** The stake backs an allocation the host won until then (HostRegistry.lockStake); 0 if never locked. */
  stakeLockedUntil: number;
}

/** Typed access to HostRegistry; writes need a sender (the host's key). */
export class HostRegistryClient {
  readonly contract: HostRegistry;
  readonly #chain: ChainConnection;
  readonly #sender: TxSender | undefined;

  constructor(chain: ChainConnection, address: string, sender?: TxSender) {
    this.#chain = chain;
    this.#sender = sender;
    this.contract = HostRegistry__factory.connect(address, chain.provider);
  }

  #tx(): TxSender {
    if (!this.#sender) throw new TvmxError("CHAIN_TX_FAILED", "this HostRegistry client is read-only (no key)", {});
    return this.#sender;
  }

  /** `until`: retry through an outage until that deadline rather than the connection's `rpcRetries` times. */
  async hostInfo(address: string, until?: RetryDeadline): Promise<HostInfo> {
    const h = await readWithRetry(this.#chain, this.contract, "HostRegistry.hostInfo", () => this.contract.hostInfo(address), undefined, until);
    return {
      address,
      state: HOST_STATES[Number(h.state)] ?? "Unregistered",
      suspended: h.suspended,
      capacity: Number(h.capacity),
      stake: h.stake,
      registeredAt: Number(h.registeredAt),
      unlockAt: Number(h.unlockAt),
      stakeLockedUntil: Number(h.stakeLockedUntil),
      channelKeyFingerprint: h.channelKeyFingerprint,
      platform: { teeTcbSvn: h.platform.teeTcbSvn, tdxModuleVersion: Number(h.platform.tdxModuleVersion), quoteHash: h.platform.quoteHash },
      endpoint: h.endpoint,
    };
  }

  isActive(address: string): Promise<boolean> {
    return readWithRetry(this.#chain, this.contract, "HostRegistry.isActive", () => this.contract.isActive(address));
  }

  minStake(): Promise<bigint> {
    return readWithRetry(this.#chain, this.contract, "HostRegistry.minStake", () => this.contract.minStake());
  }

  register(p: HostPublication, stakeWei: bigint): Promise<TxReport> {
    return this.#tx().send("HostRegistry.register", this.contract, "register", [p.endpoint, p.channelKeyFingerprint, p.platform, p.capacity], { value: stakeWei });
  }

  update(p: HostPublication): Promise<TxReport> {
    return this.#tx().send("HostRegistry.update", this.contract, "update", [p.endpoint, p.channelKeyFingerprint, p.platform, p.capacity]);
  }

  increaseStake(wei: bigint): Promise<TxReport> {
    return this.#tx().send("HostRegistry.increaseStake", this.contract, "increaseStake", [], { value: wei });
  }

  deregister(): Promise<TxReport> {
    return this.#tx().send("HostRegistry.deregister", this.contract, "deregister", []);
  }

  /**
   * Makes the registry say what `p` says about this host, with at least `stakeWei` staked: registers when
   * unknown, updates when the published data differs, tops the stake up when below. Sends nothing when all
   * is already so (a restart does not cost gas). Returns the transactions sent.
   */
  async ensureRegistered(p: HostPublication, stakeWei: bigint): Promise<TxReport[]> {
    const me = this.#tx().address;
    const info = await this.hostInfo(me);
    if (info.state === "Exiting" || info.state === "Withdrawable") {
      throw new TvmxError("CHAIN_HOST_DEREGISTERED", `host ${me} has deregistered (state ${info.state}); withdraw its stake before registering again`, {
        details: { host: me, state: info.state },
      });
    }
    if (info.state === "Unregistered") {
      const min = await this.minStake();
      return [await this.register(p, stakeWei > min ? stakeWei : min)];
    }
    const reports: TxReport[] = [];
    const same =
      info.endpoint === p.endpoint &&
      info.channelKeyFingerprint.toLowerCase() === p.channelKeyFingerprint.toLowerCase() &&
      info.capacity === p.capacity &&
      info.platform.teeTcbSvn.toLowerCase() === p.platform.teeTcbSvn.toLowerCase() &&
      info.platform.tdxModuleVersion === p.platform.tdxModuleVersion &&
      info.platform.quoteHash.toLowerCase() === p.platform.quoteHash.toLowerCase();
    if (!same) reports.push(await this.update(p));
    if (info.stake < stakeWei) reports.push(await this.increaseStake(stakeWei - info.stake));
    return reports;
  }
}
