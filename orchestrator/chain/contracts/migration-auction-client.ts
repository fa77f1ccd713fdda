import { AbiCoder, keccak256, Signature, type TypedDataDomain, type Wallet } from "ethers";
import { TvmxError } from "../../errors/index.js";
import { MigrationAuction__factory, type MigrationAuction } from "../../../types/ethers-contracts/index.js";
import type { ChainConnection } from "../connection.js";
import type { RetryDeadline } from "../retry.js";
import type { TxReport, TxSender } from "../tx-sender.js";
import { readWithRetry } from "./read.js";

export const AUCTION_STATES = ["None", "Commit", "Reveal", "Ended", "Cancelled", "Failed", "Finalized"] as const;
export type AuctionStateName = (typeof AUCTION_STATES)[number];
export const BID_STATUSES = ["None", "Committed", "Revealed", "Refunded", "Forfeited"] as const;
export type BidStatusName = (typeof BID_STATUSES)[number];

export interface TcbRequirement {
  /** 16 bytes, 0x-hex. */
  minTeeTcbSvn: string;
  minTdxModuleVersion: number;
}

export interface OpenAuctionParams {
  requestId: string;
  tvmId: string;
  configHash: string;
  tcb: TcbRequirement;
  commitDeadline: number;
  revealDeadline: number;
  bondWei: bigint;
}

export interface AuctionInfo {
  auctionId: bigint;
  state: AuctionStateName;
  source: string;
  commitDeadline: number;
  revealDeadline: number;
  reserve: bigint;
  bond: bigint;
  revealCount: number;
  bestBidder: string;
  bestPrice: bigint;
  secondPrice: bigint;
  allocationId: bigint;
  requestId: string;
  tvmId: string;
  configHash: string;
  tcb: TcbRequirement;
}

export interface BidInfo {
  status: BidStatusName;
  commitment: string;
  price: bigint;
  capacity: number;
}

/** An EIP-2098 compact signature of an admission ticket, as `commitBid` takes it. */
export interface AdmissionTicket {
  auctionId: bigint;
  host: string;
  r: string;
  vs: string;
}

export type FinalizeOutcome =
  | { kind: "finalized"; winner: string; allocationId: bigint; winningBid: bigint; price: bigint; report: TxReport }
  | { kind: "failed"; report: TxReport };

const ADMISSION_TICKET_TYPES = { AdmissionTicket: [{ name: "auctionId", type: "uint64" }, { name: "host", type: "address" }] };

/** The chain and the MigrationAuction contract a commitment is made for (both are bound into it). */
export interface CommitmentDomain {
  chainId: bigint;
  migrationAuction: string;
}

/**
 * `keccak256(abi.encode(chainId, migrationAuction, auctionId, bidder, price, capacity, salt))`, as the contract
 * checks at reveal: a commitment made for another chain or another deployment never matches.
 */
export function bidCommitment(domain: CommitmentDomain, auctionId: bigint, bidder: string, price: bigint, capacity: number, salt: string): string {
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(
      ["uint256", "address", "uint64", "address", "uint96", "uint32", "bytes32"],
      [domain.chainId, domain.migrationAuction, auctionId, bidder, price, capacity, salt],
    ),
  );
}

/** Typed access to MigrationAuction; writes need a sender (the host's key). */
export class MigrationAuctionClient {
  readonly contract: MigrationAuction;
  readonly #chain: ChainConnection;
  readonly #sender: TxSender | undefined;
  readonly address: string;

  constructor(chain: ChainConnection, address: string, sender?: TxSender) {
    this.#chain = chain;
    this.#sender = sender;
    this.address = address;
    this.contract = MigrationAuction__factory.connect(address, chain.provider);
  }

  #tx(): TxSender {
    if (!this.#sender) throw new TvmxError("CHAIN_TX_FAILED", "this MigrationAuction client is read-only (no key)", {});
    return this.#sender;
  }

  /** The chain and contract this client's commitments are bound to. */
  get commitmentDomain(): CommitmentDomain {
    return { chainId: this.#chain.chainId, migrationAuction: this.address };
  }

  /** The commitment of a sealed bid in auction `auctionId` of this contract on this chain. */
  commitmentFor(auctionId: bigint, bidder: string, price: bigint, capacity: number, salt: string): string {
    return bidCommitment(this.commitmentDomain, auctionId, bidder, price, capacity, salt);
  }

  get domain(): TypedDataDomain {
    return { name: "MigrationAuction", version: "1", chainId: this.#chain.chainId, verifyingContract: this.address };
  }

  /** Opens an auction, depositing `reserveWei`; returns its id from the AuctionOpened event. */
  async open(p: OpenAuctionParams, reserveWei: bigint): Promise<{ auctionId: bigint; report: TxReport }> {
    const params = {
      requestId: p.requestId,
      tvmId: p.tvmId,
      configHash: p.configHash,
      tcb: p.tcb,
      commitDeadline: p.commitDeadline,
      revealDeadline: p.revealDeadline,
      bond: p.bondWei,
    };
    const report = await this.#tx().send("MigrationAuction.openAuction", this.contract, "openAuction", [params], { value: reserveWei });
    const event = this.#findEvent(report, "AuctionOpened");
    return { auctionId: event.args.auctionId as bigint, report };
  }

  /** Signs, as the source, the admission ticket of `host` (EIP-712, compact form). */
  async signTicket(source: Wallet, auctionId: bigint, host: string): Promise<AdmissionTicket> {
    const sig = Signature.from(await source.signTypedData(this.domain, ADMISSION_TICKET_TYPES, { auctionId, host }));
    return { auctionId, host, r: sig.r, vs: sig.yParityAndS };
  }

  commit(auctionId: bigint, commitment: string, ticket: AdmissionTicket, bondWei: bigint): Promise<TxReport> {
    return this.#tx().send("MigrationAuction.commitBid", this.contract, "commitBid", [auctionId, commitment, ticket.r, ticket.vs], { value: bondWei });
  }

  /** `gasLimit` skips gas estimation (a node may estimate at the latest block's time, before a deadline the next block is past). */
  reveal(auctionId: bigint, priceWei: bigint, capacity: number, salt: string, overrides: { gasLimit?: bigint; until?: RetryDeadline } = {}): Promise<TxReport> {
    return this.#tx().send("MigrationAuction.revealBid", this.contract, "revealBid", [auctionId, priceWei, capacity, salt], overrides);
  }

  async finalize(auctionId: bigint, overrides: { gasLimit?: bigint } = {}): Promise<FinalizeOutcome> {
    const report = await this.#tx().send("MigrationAuction.finalize", this.contract, "finalize", [auctionId], overrides);
    const finalized = this.#events(report).find((e) => e.name === "AuctionFinalized");
    if (finalized) {
      return {
        kind: "finalized",
        winner: finalized.args.winner as string,
        allocationId: finalized.args.allocationId as bigint,
        winningBid: finalized.args.winningBid as bigint,
        price: finalized.args.price as bigint,
        report,
      };
    }
    return { kind: "failed", report };
  }

  cancel(auctionId: bigint): Promise<TxReport> {
    return this.#tx().send("MigrationAuction.cancelAuction", this.contract, "cancelAuction", [auctionId]);
  }

  withdrawBond(auctionId: bigint): Promise<TxReport> {
    return this.#tx().send("MigrationAuction.withdrawBond", this.contract, "withdrawBond", [auctionId]);
  }

  forfeitBond(auctionId: bigint, bidder: string): Promise<TxReport> {
    return this.#tx().send("MigrationAuction.forfeitBond", this.contract, "forfeitBond", [auctionId, bidder]);
  }

  withdraw(): Promise<TxReport> {
    return this.#tx().send("MigrationAuction.withdraw", this.contract, "withdraw", []);
  }

  /** `until`: retry through an outage until that deadline rather than the connection's `rpcRetries` times. */
  async info(auctionId: bigint, until?: RetryDeadline): Promise<AuctionInfo> {
    const a = await readWithRetry(this.#chain, this.contract, "MigrationAuction.auctionInfo", () => this.contract.auctionInfo(auctionId), undefined, until);
    return {
      auctionId,
      state: AUCTION_STATES[Number(a.state)] ?? "None",
      source: a.source,
      commitDeadline: Number(a.commitDeadline),
      revealDeadline: Number(a.revealDeadline),
      reserve: a.reserve,
      bond: a.bond,
      revealCount: Number(a.revealCount),
      bestBidder: a.bestBidder,
      bestPrice: a.bestPrice,
      secondPrice: a.secondPrice,
      allocationId: a.allocationId,
      requestId: a.requestId,
      tvmId: a.tvmId,
      configHash: a.configHash,
      tcb: { minTeeTcbSvn: a.tcb.minTeeTcbSvn, minTdxModuleVersion: Number(a.tcb.minTdxModuleVersion) },
    };
  }

  async bid(auctionId: bigint, bidder: string, until?: RetryDeadline): Promise<BidInfo> {
    const b = await readWithRetry(this.#chain, this.contract, "MigrationAuction.bidInfo", () => this.contract.bidInfo(auctionId, bidder), undefined, until);
    return { status: BID_STATUSES[Number(b.status)] ?? "None", commitment: b.commitment, price: b.price, capacity: Number(b.capacity) };
  }

  async state(auctionId: bigint): Promise<AuctionStateName> {
    const s = await readWithRetry(this.#chain, this.contract, "MigrationAuction.state", () => this.contract.state(auctionId));
    return AUCTION_STATES[Number(s)] ?? "None";
  }

  balanceOf(account: string): Promise<bigint> {
    return readWithRetry(this.#chain, this.contract, "MigrationAuction.balanceOf", () => this.contract.balanceOf(account));
  }

  auctionCount(): Promise<bigint> {
    return readWithRetry(this.#chain, this.contract, "MigrationAuction.auctionCount", () => this.contract.auctionCount());
  }

  #events(report: TxReport): { name: string; args: Record<string, unknown> & unknown[] }[] {
    const out: { name: string; args: Record<string, unknown> & unknown[] }[] = [];
    for (const log of report.receipt.logs) {
      if (log.address.toLowerCase() !== this.address.toLowerCase()) continue;
      const parsed = this.contract.interface.parseLog(log);
      if (parsed) out.push({ name: parsed.name, args: parsed.args as unknown as Record<string, unknown> & unknown[] });
    }
    return out;
  }

  #findEvent(report: TxReport, name: string): { name: string; args: Record<string, unknown> & unknown[] } {
    const event = this.#events(report).find((e) => e.name === name);
    if (!event) throw new TvmxError("CHAIN_EVENT_DECODE", `${report.label}: no ${name} event in transaction ${report.hash}`, { details: { hash: report.hash } });
    return event;
  }
}
