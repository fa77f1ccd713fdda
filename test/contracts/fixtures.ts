/**
 * Shared fixtures of the contract tests: a deployed suite, registered hosts, and helpers that drive an auction
 * through its phases.
 */
import { getBytes, hexlify, id, randomBytes } from "ethers";
import type { BigNumberish } from "ethers";
import { network } from "hardhat";
import { deploySuite } from "../../deploy/deploy-suite.js";
import type { SuiteParams } from "../../deploy/deploy-suite.js";
import { allocationDomain, auctionDomain, bidCommitment, signAdmissionTicket, signMigrationReceipt } from "../../deploy/eip712.js";
import type { CompactSignature } from "../../deploy/eip712.js";
import { tvmIdFor } from "../../orchestrator/chain/tvm-id.js";

export const connection = await network.create();
export const { ethers, networkHelpers } = connection;
export const { time, loadFixture } = networkHelpers;

export type Signer = Awaited<ReturnType<typeof ethers.getSigners>>[number];

export const PARAMS: SuiteParams = {
  minStake: 10n ** 18n,
  withdrawalDelay: 3600n,
  confirmationTimeout: 600n,
};
export const RESERVE = 10n ** 18n;
export const BOND = 10n ** 16n;
export const PLATFORM = {
  teeTcbSvn: "0x0b010300000000000000000000000000",
  tdxModuleVersion: 0x0105,
  quoteHash: id("quote of host"),
};
export const ENDPOINT = "tcp://127.0.0.1:7400";
export const TCB = { minTeeTcbSvn: PLATFORM.teeTcbSvn, minTdxModuleVersion: PLATFORM.tdxModuleVersion };

/** Auction states, in IMigrationAuction order. */
export const AuctionState = { None: 0n, Commit: 1n, Reveal: 2n, Ended: 3n, Cancelled: 4n, Failed: 5n, Finalized: 6n };
/** Bid statuses, in IMigrationAuction order. */
export const BidStatus = { None: 0n, Committed: 1n, Revealed: 2n, Refunded: 3n, Forfeited: 4n };
/** Host states, in IHostRegistry order. */
export const HostState = { Unregistered: 0n, Active: 1n, Suspended: 2n, Exiting: 3n, Withdrawable: 4n };
/** Allocation states, in IAllocationRegistry order. */
export const AllocationState = { None: 0n, Allocated: 1n, Committed: 2n, Aborted: 3n };

/** A deployed suite with an admin, a source host and four registered bidding hosts. */
export async function suiteFixture() {
  const [admin, source, hostA, hostB, hostC, hostD, outsider] = await ethers.getSigners();
  if (outsider === undefined) throw new Error("the test chain needs at least 7 accounts");
  const suite = await deploySuite(admin!, PARAMS);
  const { hostRegistry, migrationAuction, allocationRegistry } = suite.contracts;
  for (const [i, host] of [source!, hostA!, hostB!, hostC!, hostD!].entries()) {
    await hostRegistry.connect(host).register(ENDPOINT, id(`channel key ${i}`), PLATFORM, 4, { value: PARAMS.minStake });
  }
  const chainId = (await ethers.provider.getNetwork()).chainId;
  return {
    suite,
    hostRegistry,
    migrationAuction,
    allocationRegistry,
    chainId,
    admin: admin!,
    source: source!,
    hosts: [hostA!, hostB!, hostC!, hostD!],
    outsider,
  };
}

export type Suite = Awaited<ReturnType<typeof suiteFixture>>;

/**
 * A TVM id whose origin is `origin` (its high 20 bytes), with a nonce derived from `label`: the form the hosts
 * use (`address ‖ 12 random bytes`), made deterministic for tests.
 */
export function tvmIdOf(origin: string, label = "tvm-1"): string {
  return tvmIdFor(origin, getBytes(id(label)).subarray(0, 12));
}

export interface OpenOptions {
  tvmId?: string;
  reserve?: bigint;
  bond?: bigint;
  commitIn?: number;
  revealIn?: number;
  /** Whether the winner accepts its allocation right after finalize, as an honest host does (default true). */
  accept?: boolean;
}

/** Opens an auction from `s.source` (for its TVM "tvm-1" unless told); returns its id and deadlines. */
export async function openAuction(s: Suite, options: OpenOptions = {}) {
  const now = BigInt(await time.latest());
  const tvmId = options.tvmId ?? tvmIdOf(s.source.address);
  const params = {
    requestId: id(`request ${tvmId}`),
    tvmId,
    configHash: id("td config"),
    tcb: TCB,
    commitDeadline: now + BigInt(options.commitIn ?? 100),
    revealDeadline: now + BigInt(options.revealIn ?? 200),
    bond: options.bond ?? BOND,
  };
  await s.migrationAuction.connect(s.source).openAuction(params, { value: options.reserve ?? RESERVE });
  const auctionId = await s.migrationAuction.auctionCount();
  return { auctionId, params };
}

export async function ticketFor(s: Suite, auctionId: bigint, host: string, signer: Signer = s.source): Promise<CompactSignature> {
  return signAdmissionTicket(signer, auctionDomain(s.chainId, s.suite.migrationAuction), auctionId, host);
}

export interface SealedBid {
  bidder: Signer;
  price: bigint;
  capacity: bigint;
  salt: string;
}

export function sealedBid(bidder: Signer, price: BigNumberish, capacity: BigNumberish = 2n): SealedBid {
  return { bidder, price: BigInt(price), capacity: BigInt(capacity), salt: hexlify(randomBytes(32)) };
}

/** The commitment of `bid` in auction `auctionId` of the suite's MigrationAuction on this chain. */
export function commitmentOf(s: Suite, auctionId: bigint, bid: SealedBid): string {
  return bidCommitment({ chainId: s.chainId, migrationAuction: s.suite.migrationAuction }, auctionId, bid.bidder.address, bid.price, bid.capacity, bid.salt);
}

export async function commit(s: Suite, auctionId: bigint, bid: SealedBid, value: bigint = BOND) {
  const ticket = await ticketFor(s, auctionId, bid.bidder.address);
  return s.migrationAuction
    .connect(bid.bidder)
    .commitBid(auctionId, commitmentOf(s, auctionId, bid), ticket.r, ticket.vs, { value });
}

export async function reveal(s: Suite, auctionId: bigint, bid: SealedBid) {
  return s.migrationAuction.connect(bid.bidder).revealBid(auctionId, bid.price, bid.capacity, bid.salt);
}

/** Opens an auction, commits and reveals `bids`, finalizes; returns the auction and allocation ids. */
export async function runAuction(s: Suite, bids: SealedBid[], options: OpenOptions = {}) {
  const { auctionId, params } = await openAuction(s, options);
  for (const bid of bids) await commit(s, auctionId, bid);
  await time.increaseTo(params.commitDeadline);
  for (const bid of bids) await reveal(s, auctionId, bid);
  await time.increaseTo(params.revealDeadline);
  await s.migrationAuction.finalize(auctionId);
  const info = await s.migrationAuction.auctionInfo(auctionId);
  if (info.allocationId !== 0n && options.accept !== false) {
    const winner = bids.find((b) => b.bidder.address === info.bestBidder);
    if (winner) await s.allocationRegistry.connect(winner.bidder).acceptAllocation(info.allocationId);
  }
  return { auctionId, allocationId: info.allocationId, params };
}

export async function receiptFor(s: Suite, allocationId: bigint, tvmId: string, stateDigest: string, signer: Signer = s.source) {
  return signMigrationReceipt(signer, allocationDomain(s.chainId, s.suite.allocationRegistry), allocationId, tvmId, stateDigest);
}
