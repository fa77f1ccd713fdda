/**
 * Runs the market end to end on a fresh chain and records the gas of each operation.
 */
import { Wallet, getBytes, hexlify, id, randomBytes } from "ethers";
import type { ContractTransactionResponse, Signer } from "ethers";
import type { network } from "hardhat";
import { LOCAL_SUITE_PARAMS, deploySuite } from "../../deploy/deploy-suite.js";
import type { DeployedSuite } from "../../deploy/deploy-suite.js";
import { tvmIdFor } from "../../orchestrator/chain/tvm-id.js";
import {
  allocationDomain,
  auctionDomain,
  bidCommitment,
  signAdmissionTicket,
  signMigrationReceipt,
} from "../../deploy/eip712.js";

type Connection = Awaited<ReturnType<typeof network.create>>;

export interface MarketGas {
  registerHost: number;
  openAuctionByAckers: { 1: number; 50: number };
  commitBid: number;
  revealBid: number;
  finalize: { 1: number; 10: number; 50: number };
  /** The winner's AllocationRegistry.acceptAllocation (its performance bond depends on it). */
  acceptAllocation: number;
  confirmMigration: number;
  abortMigration: number;
  withdraw: number;
  withdrawBond: number;
  /** Every transaction of one migration with two bidders on the auction chain (see measureLifecycle2). */
  lifecycle2: number;
}

const PLATFORM = {
  teeTcbSvn: "0x0b010300000000000000000000000000",
  tdxModuleVersion: 0x0105,
  quoteHash: id("quote"),
};
const ENDPOINT = "tcp://203.0.113.7:7400/x1"; // 24 bytes of endpoint, as a real host would publish
const RESERVE = 10n ** 18n;
const BOND = 10n ** 16n;

async function gasOf(tx: Promise<ContractTransactionResponse>): Promise<number> {
  const receipt = await (await tx).wait();
  if (receipt === null) throw new Error("transaction was not mined");
  return Number(receipt.gasUsed);
}

interface Market {
  connection: Connection;
  suite: DeployedSuite;
  chainId: bigint;
  source: Signer;
  hosts: Wallet[];
}

async function setUp(connection: Connection, hostCount: number): Promise<Market & { registerGas: number }> {
  const { ethers, networkHelpers } = connection;
  const [deployer, source] = await ethers.getSigners();
  if (deployer === undefined || source === undefined) throw new Error("the chain has no accounts");
  const suite = await deploySuite(deployer, LOCAL_SUITE_PARAMS);
  const chainId = (await ethers.provider.getNetwork()).chainId;
  const hosts: Wallet[] = [];
  let registerGas = 0;
  for (let i = 0; i < hostCount; i++) {
    const wallet = new Wallet(hexlify(randomBytes(32)), ethers.provider);
    await networkHelpers.setBalance(wallet.address, 100n * 10n ** 18n);
    const gas = await gasOf(
      suite.contracts.hostRegistry
        .connect(wallet)
        .register(ENDPOINT, id(`channel-key-${i}`), PLATFORM, 4, { value: LOCAL_SUITE_PARAMS.minStake }),
    );
    registerGas = Math.max(registerGas, gas);
    hosts.push(wallet);
  }
  return { connection, suite, chainId, source, hosts, registerGas };
}

/** `request` names the request and the configuration (the TVM id by default). */
async function openAuction(market: Market, tvmId: string, request: string = tvmId): Promise<{ auctionId: bigint; gas: number }> {
  const { networkHelpers } = market.connection;
  const now = BigInt(await networkHelpers.time.latest());
  // Deadlines with no zero byte, so that openings measured at different chain times pay the same calldata gas
  // (a zero byte costs 4 gas, any other 16): the next multiple of 2^24 s, plus offsets whose bytes are non-zero.
  const base = ((now >> 24n) + 1n) << 24n;
  const auction = market.suite.contracts.migrationAuction.connect(market.source);
  const params = {
    requestId: id(`request-${request}`),
    tvmId,
    configHash: id(`config-${request}`),
    tcb: { minTeeTcbSvn: PLATFORM.teeTcbSvn, minTdxModuleVersion: PLATFORM.tdxModuleVersion },
    commitDeadline: base + 0x111111n,
    revealDeadline: base + 0x222222n,
    bond: BOND,
  };
  const gas = await gasOf(auction.openAuction(params, { value: RESERVE }));
  return { auctionId: await auction.auctionCount(), gas };
}

interface AuctionRun {
  auctionId: bigint;
  openGas: number;
  commitGas: number[];
  revealGas: number[];
  finalizeGas: number;
}

/** One auction with `bidders` hosts that all commit and reveal, then finalize. */
async function runAuction(market: Market, tvmId: string, bidders: number): Promise<AuctionRun> {
  const { networkHelpers } = market.connection;
  const { auctionId, gas: openGas } = await openAuction(market, tvmId);
  const auction = market.suite.contracts.migrationAuction;
  const domain = auctionDomain(market.chainId, market.suite.migrationAuction);
  const participants = market.hosts.slice(0, bidders);
  const bids = participants.map((host, i) => ({
    host,
    price: RESERVE / 2n + BigInt(((i * 7919) % 101) * 1000),
    capacity: BigInt(1 + (i % 4)),
    salt: hexlify(randomBytes(32)),
  }));
  const commitGas: number[] = [];
  for (const bid of bids) {
    const ticket = await signAdmissionTicket(market.source, domain, auctionId, bid.host.address);
    const commitment = bidCommitment({ chainId: market.chainId, migrationAuction: market.suite.migrationAuction }, auctionId, bid.host.address, bid.price, bid.capacity, bid.salt);
    commitGas.push(
      await gasOf(auction.connect(bid.host).commitBid(auctionId, commitment, ticket.r, ticket.vs, { value: BOND })),
    );
  }
  const info = await auction.auctionInfo(auctionId);
  await networkHelpers.time.increaseTo(info.commitDeadline);
  const revealGas: number[] = [];
  for (const bid of bids) {
    revealGas.push(await gasOf(auction.connect(bid.host).revealBid(auctionId, bid.price, bid.capacity, bid.salt)));
  }
  await networkHelpers.time.increaseTo(info.revealDeadline);
  const finalizeGas = await gasOf(auction.connect(market.source).finalize(auctionId));
  return { auctionId, openGas, commitGas, revealGas, finalizeGas };
}

/**
 * One whole migration on the auction chain with two bidders, every transaction of it: open, two commits, two
 * reveals, finalize, the winner's acceptance, its confirmation with the source's receipt, and every withdrawal (both bonds, the
 * price to the winner, the change to the source). What the market costs its users per migration.
 */
async function measureLifecycle2(market: Market, tvmId: string): Promise<number> {
  const run = await runAuction(market, tvmId, 2);
  const { suite, source } = market;
  const registry = suite.contracts.allocationRegistry;
  const auction = suite.contracts.migrationAuction;
  const allocation = await registry.allocation((await auction.auctionInfo(run.auctionId)).allocationId);
  const winner = market.hosts.find((h) => h.address === allocation.destination);
  if (winner === undefined) throw new Error("the 2-bidder winner is not one of the bidders");
  const stateDigest = id("lifecycle-2 state at pause");
  const receipt = await signMigrationReceipt(source, allocationDomain(market.chainId, suite.allocationRegistry), allocation.id, allocation.tvmId, stateDigest);
  let gas = run.openGas + run.commitGas.reduce((a, b) => a + b, 0) + run.revealGas.reduce((a, b) => a + b, 0) + run.finalizeGas;
  gas += await gasOf(registry.connect(winner).acceptAllocation(allocation.id));
  gas += await gasOf(registry.connect(winner).confirmMigration(allocation.id, stateDigest, receipt));
  for (const bidder of market.hosts.slice(0, 2)) gas += await gasOf(auction.connect(bidder).withdrawBond(run.auctionId));
  gas += await gasOf(registry.connect(winner).withdraw());
  gas += await gasOf(registry.connect(source).withdraw());
  return gas;
}

/** A TVM id of the source's (the auction lets only its origin open a TVM's first auction). */
function sourceTvm(source: string, label: string): string {
  return tvmIdFor(source, getBytes(id(label)).subarray(0, 12));
}

/**
 * A TVM id of the source's whose nonce is 12 times `byte` (non-zero): the two measured openings differ only in
 * it, so their call data (16 gas per non-zero byte, 4 per zero byte) costs the same and only the ackers vary.
 */
function measuredTvm(source: string, byte: number): string {
  return tvmIdFor(source, new Uint8Array(12).fill(byte));
}

export async function measureMarketGas(connection: Connection): Promise<MarketGas> {
  const market = await setUp(connection, 50);
  const { suite, source } = market;
  const sourceAddress = await source.getAddress();

  // Warm the auction counter so that every measured opening pays the same storage costs.
  await openAuction(market, sourceTvm(sourceAddress, "warm-up"));
  // Opening never depends on the acknowledging hosts: their tickets are signed off-chain afterwards.
  const domain = auctionDomain(market.chainId, suite.migrationAuction);
  const oneAcker = await openAuction(market, measuredTvm(sourceAddress, 0x11), "measured opening");
  await signAdmissionTicket(source, domain, oneAcker.auctionId, market.hosts[0]!.address);
  const fiftyAckers = await openAuction(market, measuredTvm(sourceAddress, 0x22), "measured opening");
  for (const host of market.hosts) await signAdmissionTicket(source, domain, fiftyAckers.auctionId, host.address);

  const one = await runAuction(market, sourceTvm(sourceAddress, "tvm-1"), 1);
  const ten = await runAuction(market, sourceTvm(sourceAddress, "tvm-10"), 10);
  const fifty = await runAuction(market, sourceTvm(sourceAddress, "tvm-50"), 50);

  // Settle the 50-bidder allocation: the winner confirms with the source's receipt, then withdraws the price.
  const registry = suite.contracts.allocationRegistry;
  const committed = await registry.allocation(await registry.allocationCount());
  const winner = market.hosts.find((h) => h.address === committed.destination);
  if (winner === undefined) throw new Error("the winner is not one of the bidders");
  const stateDigest = id("tvm-50 state at pause");
  const receipt = await signMigrationReceipt(
    source,
    allocationDomain(market.chainId, suite.allocationRegistry),
    committed.id,
    committed.tvmId,
    stateDigest,
  );
  const acceptAllocation = await gasOf(registry.connect(winner).acceptAllocation(committed.id));
  const confirmMigration = await gasOf(registry.connect(winner).confirmMigration(committed.id, stateDigest, receipt));
  const withdraw = await gasOf(registry.connect(winner).withdraw());
  const withdrawBond = await gasOf(suite.contracts.migrationAuction.connect(winner).withdrawBond(fifty.auctionId));

  // Abort the 10-bidder allocation from the destination's side.
  const tenAllocationId = (await suite.contracts.migrationAuction.auctionInfo(ten.auctionId)).allocationId;
  const tenAllocation = await registry.allocation(tenAllocationId);
  const tenWinner = market.hosts.find((h) => h.address === tenAllocation.destination);
  if (tenWinner === undefined) throw new Error("the 10-bidder winner is not one of the bidders");
  const abortMigration = await gasOf(registry.connect(tenWinner).abortMigration(tenAllocation.id, 7));
  // Last, so that the measurements above read the allocations they expect.
  const lifecycle2 = await measureLifecycle2(market, sourceTvm(sourceAddress, "tvm-2"));

  return {
    registerHost: market.registerGas,
    openAuctionByAckers: { 1: oneAcker.gas, 50: fiftyAckers.gas },
    commitBid: Math.max(...one.commitGas, ...ten.commitGas, ...fifty.commitGas),
    revealBid: Math.max(...one.revealGas, ...ten.revealGas, ...fifty.revealGas),
    finalize: { 1: one.finalizeGas, 10: ten.finalizeGas, 50: fifty.finalizeGas },
    acceptAllocation,
    confirmMigration,
    abortMigration,
    withdraw,
    withdrawBond,
    lifecycle2,
  };
}
