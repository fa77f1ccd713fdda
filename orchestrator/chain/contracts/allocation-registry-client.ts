import { Contract, Signature, TypedDataEncoder, verifyTypedData, type TypedDataDomain, type Wallet } from "ethers";
import { TvmxError } from "../../errors/index.js";
import { AllocationRegistry__factory, type AllocationRegistry } from "../../../types/ethers-contracts/index.js";
import type { ChainConnection } from "../connection.js";
import type { TxReport, TxSender } from "../tx-sender.js";
import { readWithRetry } from "./read.js";

export const ALLOCATION_STATES = ["None", "Allocated", "Committed", "Aborted"] as const;
export type AllocationStateName = (typeof ALLOCATION_STATES)[number];

export interface Allocation {
  id: bigint;
  auctionId: bigint;
  state: AllocationStateName;
  source: string;
  destination: string;
  price: bigint;
  deposit: bigint;
  allocatedAt: number;
  confirmDeadline: number;
  settledAt: number;
  abortReason: number;
  tvmId: string;
  configHash: string;
  stateDigest: string;
  /** 0 unless the source asked to abort alone: from then anyone may settle the abort (the destination may confirm until then). */
  abortSettleAt: number;
  /** Whether the destination accepted the allocation on-chain (its bond is then refunded however it ends). */
  accepted: boolean;
  /** From this time the source may abort at once an allocation its destination has not accepted. */
  acceptDeadline: number;
}

export interface MirrorRecord {
  sourceChainId: bigint;
  sourceAllocationId: bigint;
  sourceTxHash: string;
  tvmId: string;
  source: string;
  destination: string;
  price: bigint;
  configHash: string;
  /** How the allocation settled on the source chain. */
  outcome: "Committed" | "Aborted";
}

/** ERC-1271's answer for a signature the contract accepts (`isValidSignature.selector`). */
const ERC1271_MAGIC = "0x1626ba7e";
const ERC1271_ABI = ["function isValidSignature(bytes32 hash, bytes signature) view returns (bytes4)"];

const RECEIPT_TYPES = {
  MigrationReceipt: [
    { name: "allocationId", type: "uint64" },
    { name: "tvmId", type: "bytes32" },
    { name: "stateDigest", type: "bytes32" },
  ],
};

/** Typed access to AllocationRegistry (on the auction's chain, or on a winner's own chain for mirrors). */
export class AllocationRegistryClient {
  readonly contract: AllocationRegistry;
  readonly address: string;
  readonly #chain: ChainConnection;
  readonly #sender: TxSender | undefined;

  constructor(chain: ChainConnection, address: string, sender?: TxSender) {
    this.#chain = chain;
    this.#sender = sender;
    this.address = address;
    this.contract = AllocationRegistry__factory.connect(address, chain.provider);
  }

  get chainId(): bigint {
    return this.#chain.chainId;
  }

  #tx(): TxSender {
    if (!this.#sender) throw new TvmxError("CHAIN_TX_FAILED", "this AllocationRegistry client is read-only (no key)", {});
    return this.#sender;
  }

  get domain(): TypedDataDomain {
    return { name: "AllocationRegistry", version: "1", chainId: this.#chain.chainId, verifyingContract: this.address };
  }

  /** The source's countersignature of the migrated state (65-byte signature, EIP-712 MigrationReceipt). */
  async signReceipt(source: Wallet, allocationId: bigint, tvmId: string, stateDigest: string): Promise<string> {
    return Signature.from(await source.signTypedData(this.domain, RECEIPT_TYPES, { allocationId, tvmId, stateDigest })).serialized;
  }

  /**
   * The address whose key made `signature` over MigrationReceipt(allocationId, tvmId, stateDigest) in this registry's
   * domain (what `confirmMigration` recovers). Throws on a malformed or non-canonical (high-s) signature, which the
   * registry would refuse too.
   */
  receiptSigner(allocationId: bigint, tvmId: string, stateDigest: string, signature: string): string {
    void Signature.from(signature).s;
    return verifyTypedData(this.domain, RECEIPT_TYPES, { allocationId, tvmId, stateDigest }, signature);
  }

  /**
   * Whether `account` is a contract (an ERC-1271 wallet) that accepts `signature` over MigrationReceipt(allocationId,
   * tvmId, stateDigest) in this registry's domain: what `confirmMigration` asks a contract-wallet source when the
   * signature is not an ECDSA signature of its address. False for an account without code, and when the chain does
   * not answer (the caller then refuses, which is the safe side).
   */
  async contractAcceptsReceipt(account: string, allocationId: bigint, tvmId: string, stateDigest: string, signature: string): Promise<boolean> {
    try {
      if ((await this.#chain.provider.getCode(account)) === "0x") return false;
      const digest = TypedDataEncoder.hash(this.domain, RECEIPT_TYPES, { allocationId, tvmId, stateDigest });
      const wallet = new Contract(account, ERC1271_ABI, this.#chain.provider);
      const answer = (await wallet.getFunction("isValidSignature").staticCall(digest, signature)) as string;
      return answer.toLowerCase() === ERC1271_MAGIC;
    } catch {
      return false;
    }
  }

  /** The destination takes the allocation up (see the registry's acceptance rule): sent on seeing `Allocated`. */
  accept(allocationId: bigint): Promise<TxReport> {
    return this.#tx().send("AllocationRegistry.acceptAllocation", this.contract, "acceptAllocation", [allocationId]);
  }

  confirm(allocationId: bigint, stateDigest: string, sourceSignature: string): Promise<TxReport> {
    return this.#tx().send("AllocationRegistry.confirmMigration", this.contract, "confirmMigration", [allocationId, stateDigest, sourceSignature]);
  }

  /**
   * The destination's abort (at once); the source's abort of an allocation not accepted by its acceptance deadline (at
   * once); or the source's lone abort request (after the confirmation deadline).
   */
  abort(allocationId: bigint, reason: number): Promise<TxReport> {
    return this.#tx().send("AllocationRegistry.abortMigration", this.contract, "abortMigration", [allocationId, reason]);
  }

  /** Settles a source's abort request once its dispute window is over (anyone may). */
  settleAbort(allocationId: bigint): Promise<TxReport> {
    return this.#tx().send("AllocationRegistry.settleAbort", this.contract, "settleAbort", [allocationId]);
  }

  withdraw(): Promise<TxReport> {
    return this.#tx().send("AllocationRegistry.withdraw", this.contract, "withdraw", []);
  }

  recordMirror(record: MirrorRecord): Promise<TxReport> {
    return this.#tx().send("AllocationRegistry.recordMirror", this.contract, "recordMirror", [{ ...record, outcome: ALLOCATION_STATES.indexOf(record.outcome) }]);
  }

  async allocation(id: bigint): Promise<Allocation> {
    const a = await readWithRetry(this.#chain, this.contract, "AllocationRegistry.allocation", () => this.contract.allocation(id));
    return toAllocation(a);
  }

  async currentPlacement(tvmId: string): Promise<{ host: string; allocationId: bigint }> {
    const [host, allocationId] = await readWithRetry(this.#chain, this.contract, "AllocationRegistry.currentPlacement", () => this.contract.currentPlacement(tvmId));
    return { host, allocationId };
  }

  liveAllocation(tvmId: string): Promise<bigint> {
    return readWithRetry(this.#chain, this.contract, "AllocationRegistry.liveAllocation", () => this.contract.liveAllocation(tvmId));
  }

  async history(tvmId: string, offset = 0n, limit = 100n): Promise<Allocation[]> {
    const page = await readWithRetry(this.#chain, this.contract, "AllocationRegistry.allocationHistory", () => this.contract.allocationHistory(tvmId, offset, limit));
    return page.map(toAllocation);
  }

  /** The mirror of allocation `sourceAllocationId` of chain `sourceChainId` naming `destination` (records are keyed by all three). */
  async mirrored(sourceChainId: bigint, sourceAllocationId: bigint, destination: string): Promise<(MirrorRecord & { recordedBy: string; recordedAt: number }) | undefined> {
    const m = await readWithRetry(this.#chain, this.contract, "AllocationRegistry.mirroredAllocation", () => this.contract.mirroredAllocation(sourceChainId, sourceAllocationId, destination));
    if (m.record.sourceChainId === 0n) return undefined;
    const r = m.record;
    return {
      sourceChainId: r.sourceChainId,
      sourceAllocationId: r.sourceAllocationId,
      sourceTxHash: r.sourceTxHash,
      tvmId: r.tvmId,
      source: r.source,
      destination: r.destination,
      price: r.price,
      configHash: r.configHash,
      outcome: ALLOCATION_STATES[Number(r.outcome)] === "Aborted" ? "Aborted" : "Committed",
      recordedBy: m.recordedBy,
      recordedAt: Number(m.recordedAt),
    };
  }

  balanceOf(account: string): Promise<bigint> {
    return readWithRetry(this.#chain, this.contract, "AllocationRegistry.balanceOf", () => this.contract.balanceOf(account));
  }
}

function toAllocation(a: Awaited<ReturnType<AllocationRegistry["allocation"]>>): Allocation {
  return {
    id: a.id,
    auctionId: a.auctionId,
    state: ALLOCATION_STATES[Number(a.state)] ?? "None",
    source: a.source,
    destination: a.destination,
    price: a.price,
    deposit: a.deposit,
    allocatedAt: Number(a.allocatedAt),
    confirmDeadline: Number(a.confirmDeadline),
    settledAt: Number(a.settledAt),
    abortReason: Number(a.abortReason),
    tvmId: a.tvmId,
    configHash: a.configHash,
    stateDigest: a.stateDigest,
    abortSettleAt: Number(a.abortSettleAt),
    accepted: a.accepted,
    acceptDeadline: Number(a.acceptDeadline),
  };
}
