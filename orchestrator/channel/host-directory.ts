/**
 * Who the registered hosts are. The channel asks the directory whether the on-chain address a peer proves
 * is a registered host, and (when the registry records one) which channel key it announced. The chain-backed
 * directory (HostRegistry) implements the same interface.
 */
import { getAddress } from "ethers";

export interface HostRecord {
  readonly registered: boolean;
  /** 0x-hex SHA-256 of the channel certificate's SubjectPublicKeyInfo, when the registry records it. */
  readonly channelKeyFingerprint?: string;
  /** Where the host listens, e.g. "127.0.0.1:7001". */
  readonly endpoint?: string;
}

export interface HostDirectory {
  lookup(address: string): HostRecord | undefined | Promise<HostRecord | undefined>;
}

/** A directory held in memory (tests, static deployments). */
export class StaticHostDirectory implements HostDirectory {
  readonly #hosts = new Map<string, HostRecord>();

  constructor(entries: Iterable<[string, HostRecord]> = []) {
    for (const [address, record] of entries) this.set(address, record);
  }

  set(address: string, record: HostRecord): this {
    this.#hosts.set(getAddress(address), record);
    return this;
  }

  delete(address: string): void {
    this.#hosts.delete(getAddress(address));
  }

  lookup(address: string): HostRecord | undefined {
    return this.#hosts.get(getAddress(address));
  }
}
