import { expect } from "chai";
import { hexlify, randomBytes, Wallet, type Provider } from "ethers";
import { bidCommitment, openMarket, tvmIdFor, type ChainConnection, type Market } from "../../orchestrator/chain/index.js";
import { TvmxError } from "../../orchestrator/errors/index.js";
import { createHostMetrics } from "../../orchestrator/metrics/index.js";
import { OwnedWallet__factory } from "../../types/ethers-contracts/index.js";
import { ONE_ETH, startMarketChain } from "./helpers/market-chain.js";

const MILLI = 10n ** 15n;
const platform = { teeTcbSvn: `0x${"03".repeat(16)}`, tdxModuleVersion: 0x0105, quoteHash: `0x${"aa".repeat(32)}` };
const publication = (n: number) => ({ endpoint: `tcp://127.0.0.1:${7400 + n}`, channelKeyFingerprint: `0x${n.toString(16).padStart(2, "0").repeat(32)}`, platform, capacity: 4 });

describe("chain/market clients on an in-process chain", function () {
  let provider: Provider;
  let chain: ChainConnection;
  let addresses: { hostRegistry: string; migrationAuction: string; allocationRegistry: string };
  let increaseTime: (seconds: number) => Promise<void>;
  let fund: (to: string) => Promise<void>;

  before(async () => {
    ({ provider, chain, addresses, increaseTime, fund } = await startMarketChain());
  });

  async function host(n: number): Promise<{ wallet: Wallet; market: Market }> {
    const wallet = new Wallet(hexlify(randomBytes(32)));
    await fund(wallet.address);
    const metrics = createHostMetrics();
    const market = openMarket(chain, addresses, { wallet, metrics });
    await market.hostRegistry.ensureRegistered(publication(n), ONE_ETH);
    return { wallet, market };
  }

  it("registers once, then only updates what changed, and sends nothing on a restart", async () => {
    const wallet = new Wallet(hexlify(randomBytes(32)));
    await fund(wallet.address);
    const market = openMarket(chain, addresses, { wallet });
    const first = await market.hostRegistry.ensureRegistered(publication(1), ONE_ETH);
    expect(first.map((r) => r.label)).to.deep.equal(["HostRegistry.register"]);
    expect(await market.hostRegistry.ensureRegistered(publication(1), ONE_ETH)).to.deep.equal([]);
    const changed = await market.hostRegistry.ensureRegistered({ ...publication(1), capacity: 8 }, 2n * ONE_ETH);
    expect(changed.map((r) => r.label)).to.deep.equal(["HostRegistry.update", "HostRegistry.increaseStake"]);
    const info = await market.hostRegistry.hostInfo(wallet.address);
    expect(info).to.deep.include({ state: "Active", capacity: 8, stake: 2n * ONE_ETH, endpoint: "tcp://127.0.0.1:7401" });
  });

  it("computes the same bid commitment as the contract", async () => {
    const { market, wallet } = await host(2);
    const salt = hexlify(randomBytes(32));
    const onChain = await market.auction.contract.bidCommitment(7n, wallet.address, 5n * MILLI, 3, salt);
    expect(market.auction.commitmentFor(7n, wallet.address, 5n * MILLI, 3, salt)).to.equal(onChain);
    expect(bidCommitment(market.auction.commitmentDomain, 7n, wallet.address, 5n * MILLI, 3, salt)).to.equal(onChain);
    // Bound to the chain and the contract: the same bid for another chain id or another deployment differs.
    const { chainId, migrationAuction } = market.auction.commitmentDomain;
    expect(bidCommitment({ chainId: chainId + 1n, migrationAuction }, 7n, wallet.address, 5n * MILLI, 3, salt)).to.not.equal(onChain);
    expect(bidCommitment({ chainId, migrationAuction: wallet.address }, 7n, wallet.address, 5n * MILLI, 3, salt)).to.not.equal(onChain);
  });

  it("runs an auction to an allocation, a committed migration, a mirror record and the withdrawals", async () => {
    const source = await host(10);
    const cheap = await host(11);
    const dear = await host(12);
    const now = (await provider.getBlock("latest"))!.timestamp;
    const tvmId = tvmIdFor(source.wallet.address);
    const { auctionId, report: openReport } = await source.market.auction.open(
      {
        requestId: hexlify(randomBytes(32)),
        tvmId,
        configHash: hexlify(randomBytes(32)),
        tcb: { minTeeTcbSvn: `0x${"02".repeat(16)}`, minTdxModuleVersion: 0x0105 },
        commitDeadline: now + 100,
        revealDeadline: now + 200,
        bondWei: MILLI,
      },
      10n * MILLI,
    );
    expect(auctionId).to.be.greaterThan(0n);
    expect(openReport.gasUsed).to.be.greaterThan(0n);
    expect((await source.market.auction.info(auctionId)).state).to.equal("Commit");

    const bids = [
      { h: cheap, price: 3n * MILLI, salt: hexlify(randomBytes(32)) },
      { h: dear, price: 6n * MILLI, salt: hexlify(randomBytes(32)) },
    ];
    for (const b of bids) {
      const ticket = await source.market.auction.signTicket(source.wallet, auctionId, b.h.wallet.address);
      await b.h.market.auction.commit(auctionId, b.h.market.auction.commitmentFor(auctionId, b.h.wallet.address, b.price, 3, b.salt), ticket, MILLI);
      expect((await b.h.market.auction.bid(auctionId, b.h.wallet.address)).status).to.equal("Committed");
    }
    await increaseTime(100);
    for (const b of bids) await b.h.market.auction.reveal(auctionId, b.price, 3, b.salt);
    await increaseTime(100);
    const outcome = await source.market.auction.finalize(auctionId);
    if (outcome.kind !== "finalized") expect.fail("auction failed");
    expect(outcome.winner).to.equal(cheap.wallet.address);
    expect(outcome.winningBid).to.equal(3n * MILLI);
    expect(outcome.price).to.equal(6n * MILLI); // second price

    const allocation = await cheap.market.allocations.allocation(outcome.allocationId);
    expect(allocation).to.deep.include({ state: "Allocated", source: source.wallet.address, destination: cheap.wallet.address, tvmId });

    const digest = hexlify(randomBytes(32));
    const receipt = await source.market.allocations.signReceipt(source.wallet, outcome.allocationId, tvmId, digest);
    await cheap.market.allocations.confirm(outcome.allocationId, digest, receipt);
    expect((await cheap.market.allocations.allocation(outcome.allocationId)).state).to.equal("Committed");
    expect((await cheap.market.allocations.currentPlacement(tvmId)).host).to.equal(cheap.wallet.address);

    // The winner records the allocation on "its own chain" (here the same suite, where it is an active host).
    await cheap.market.allocations.recordMirror({
      sourceChainId: 999n,
      sourceAllocationId: outcome.allocationId,
      sourceTxHash: outcome.report.hash,
      tvmId,
      source: source.wallet.address,
      destination: cheap.wallet.address,
      price: outcome.price,
      configHash: allocation.configHash,
      outcome: "Committed",
    });
    expect(await cheap.market.allocations.mirrored(999n, outcome.allocationId, cheap.wallet.address)).to.deep.include({ sourceTxHash: outcome.report.hash, recordedBy: cheap.wallet.address, outcome: "Committed" });
    expect(await cheap.market.allocations.mirrored(999n, outcome.allocationId, source.wallet.address)).to.equal(undefined);
    expect(await cheap.market.allocations.mirrored(999n, 12345n, cheap.wallet.address)).to.equal(undefined);

    expect(await cheap.market.allocations.balanceOf(cheap.wallet.address)).to.equal(6n * MILLI);
    await cheap.market.allocations.withdraw();
    await source.market.allocations.withdraw();
    for (const b of bids) await b.h.market.auction.withdrawBond(auctionId);
    expect((await dear.market.auction.bid(auctionId, dear.wallet.address)).status).to.equal("Refunded");
  });

  it("tells whether a contract-wallet source accepts a receipt (ERC-1271), as confirmMigration would ask it", async () => {
    const { market } = await host(20);
    const owner = new Wallet(hexlify(randomBytes(32)), provider);
    await fund(owner.address);
    const smartAccount = await new OwnedWallet__factory(owner).deploy(owner.address);
    await smartAccount.waitForDeployment();
    const account = await smartAccount.getAddress();
    const tvmId = `0x${"77".repeat(32)}`;
    const stateDigest = `0x${"88".repeat(32)}`;
    const byOwner = await market.allocations.signReceipt(owner, 5n, tvmId, stateDigest);
    expect(await market.allocations.contractAcceptsReceipt(account, 5n, tvmId, stateDigest, byOwner)).to.equal(true);
    // Another key, another statement, a key's own address (no code), a blob that is no signature: refused.
    const byStranger = await market.allocations.signReceipt(new Wallet(hexlify(randomBytes(32))), 5n, tvmId, stateDigest);
    expect(await market.allocations.contractAcceptsReceipt(account, 5n, tvmId, stateDigest, byStranger)).to.equal(false);
    expect(await market.allocations.contractAcceptsReceipt(account, 6n, tvmId, stateDigest, byOwner)).to.equal(false);
    expect(await market.allocations.contractAcceptsReceipt(owner.address, 5n, tvmId, stateDigest, byOwner)).to.equal(false);
    expect(await market.allocations.contractAcceptsReceipt(account, 5n, tvmId, stateDigest, "0x1234")).to.equal(false);
  });

  it("reports a revert by its custom error name and arguments", async () => {
    const a = await host(20);
    const err = (await a.market.auction.reveal(424242n, 1n, 1, hexlify(randomBytes(32))).catch((e: unknown) => e)) as TvmxError;
    expect(err).to.be.instanceOf(TvmxError);
    expect(err.code).to.equal("CHAIN_TX_REVERTED");
    expect(err.details.error).to.match(/^MigrationAuction/);
  });

  it("refuses to write through a read-only market", async () => {
    const readOnly = openMarket(chain, addresses);
    expect(() => readOnly.auction.withdraw()).to.throw(TvmxError, "read-only");
    expect(await readOnly.auction.auctionCount()).to.be.greaterThan(0n);
  });
});
