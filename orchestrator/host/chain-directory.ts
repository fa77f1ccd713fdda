import type { Provider } from "ethers";
import { getAddress } from "ethers";
import { scanLogs, type HostInfo, type HostRegistryClient } from "../chain/index.js";
import type { HostDirectory, HostRecord } from "../channel/index.js";
import { parseEndpoint } from "./endpoint.js";

/**
 * The channel's host directory, read from HostRegistry: a peer is accepted when it is an Active host whose
 * published channel key fingerprint is the one it presents. Answers are cached briefly (`ttlMs`), so a
 * burst of connections does not become a burst of RPC calls, and a host that registers is seen soon.
 */
export class ChainHostDirectory implements HostDirectory {
  readonly #registry: HostRegistryClient;
  readonly #ttlMs: number;
  readonly #cache = new Map<string, { at: number; info: HostInfo }>();

  constructor(registry: HostRegistryClient, ttlMs = 2_000) {
    this.#registry = registry;
    this.#ttlMs = ttlMs;
  }

  async info(address: string): Promise<HostInfo> {
    const key = getAddress(address);
    const hit = this.#cache.get(key);
    if (hit && Date.now() - hit.at < this.#ttlMs) return hit.info;
    const info = await this.#registry.hostInfo(key);
    this.#cache.set(key, { at: Date.now(), info });
    return info;
  }

  async lookup(address: string): Promise<HostRecord | undefined> {
    const info = await this.info(address);
    if (info.state !== "Active") return { registered: false };
    let endpoint: string | undefined;
    try {
      const e = parseEndpoint(info.endpoint);
      endpoint = `${e.host}:${e.channelPort}`;
    } catch {
      endpoint = undefined;
    }
    return { registered: true, channelKeyFingerprint: info.channelKeyFingerprint, ...(endpoint ? { endpoint } : {}) };
  }

  /** Every Active host, found through the HostRegistered events (the registry keeps no list). */
  async activeHosts(provider: Provider, scan: { fromBlock: number; confirmations: number }): Promise<HostInfo[]> {
    const contract = this.#registry.contract;
    const { logs } = await scanLogs(
      provider,
      { address: await contract.getAddress(), topics: [contract.interface.getEvent("HostRegistered")!.topicHash] },
      { fromBlock: scan.fromBlock, toBlock: (await provider.getBlockNumber()) - (scan.confirmations - 1) },
    );
    const addresses = new Set(logs.map((l) => getAddress(`0x${l.topics[1]!.slice(26)}`)));
    const infos = await Promise.all([...addresses].map((a) => this.info(a)));
    return infos.filter((i) => i.state === "Active");
  }
}
