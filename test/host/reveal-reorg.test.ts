import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hexlify, randomBytes, Wallet } from "ethers";
import { connectionFromProvider, openMarket, type ChainConnection } from "../../orchestrator/chain/index.js";
import { revealBid } from "../../orchestrator/host/bidding.js";
import { chainClock } from "../../orchestrator/host/chain-clock.js";
import { HostJournal } from "../../orchestrator/journal/index.js";
import { MemoryLogger } from "../../orchestrator/log/index.js";
import { startMarketChain, type MarketChain } from "../chain/helpers/market-chain.js";
import { until } from "./helpers.js";
import { openWithOneBid } from "./one-bid-auction.js";

const ONE_ETH = 10n ** 18n;
const platform = { teeTcbSvn: `0x${"03".repeat(16)}`, tdxModuleVersion: 0x0105, quoteHash: `0x${"aa".repeat(32)}` };

/**
 * A bidder's reveal is mined, then a reorg takes its block away (evm_snapshot / evm_revert, the node's pool emptied of
 * it with hardhat_dropTransaction, other blocks mined instead) while the bidder waits for its 3 confirmations: the
 * bidder notices, sends the same signed reveal again, and it lands inside the reveal window.
 */
describe("host/a reveal removed by a reorg", function () {
  this.timeout(120_000);
  let m: MarketChain;
  const journals: HostJournal[] = [];
  const dirs: string[] = [];
  /** Interval mining by hand (automine is off): a block every 250 ms unless paused. */
  let mining: { paused: boolean; stop: boolean; done?: Promise<void> } = { paused: false, stop: false };

  before(async () => {
    m = await startMarketChain();
  });
  after(async () => {
    mining.stop = true;
    await mining.done;
    for (const j of journals) await j.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  let port = 7300;
  async function party(chain: ChainConnection) {
    const wallet = new Wallet(hexlify(randomBytes(32)));
    await m.fund(wallet.address);
    const logger = new MemoryLogger();
    const market = openMarket(chain, m.addresses, { wallet, logger });
    await market.hostRegistry.ensureRegistered({ endpoint: `127.0.0.1:${port++}`, channelKeyFingerprint: `0x${"0f".repeat(32)}`, platform, capacity: 4 }, ONE_ETH);
    const dir = await mkdtemp(join(tmpdir(), "tvmx-reveal-reorg-"));
    dirs.push(dir);
    const journal = await HostJournal.open(dir);
    journals.push(journal);
    return { wallet, market, journal, logger, ctx: { market, journal, clock: chainClock(chain.provider, 50), logger } };
  }

  it("notices the reorg, re-sends the same reveal, and it lands within the window", async () => {
    const oneDeep = m.chain;
    const source = await party(oneDeep);
    const bidder = await party(oneDeep);
    const opened = await openWithOneBid({ ...source.ctx, wallet: source.wallet }, bidder.ctx, bidder.wallet.address, { commitWindowSec: 4, revealWindowSec: 30 });

    // From here blocks come every 250 ms, and the bidder reveals on a connection that waits for 3 confirmations.
    await m.rpc("evm_setAutomine", [false]);
    mining = { paused: false, stop: false };
    const miner = mining;
    miner.done = (async () => {
      while (!miner.stop) {
        if (!miner.paused) await m.rpc("evm_mine", []);
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    const threeDeep = await connectionFromProvider(m.provider, { url: "edr", confirmations: 3, pollIntervalMs: 20 });
    const log = new MemoryLogger();
    const market = openMarket(threeDeep, m.addresses, { wallet: bidder.wallet, logger: log });
    const revealing = revealBid({ ...bidder.ctx, market, logger: log }, opened.auctionId);

    const label = "MigrationAuction.revealBid";
    await until(() => log.records.some((r) => r.msg === "tx sent" && r.label === label), "the reveal to be sent", 30_000);
    miner.paused = true;
    const hash = log.records.find((r) => r.msg === "tx sent" && r.label === label)!.hash as string;
    const snapshot = await m.rpc("evm_snapshot", []);
    await m.rpc("evm_mine", []);
    const included = (await m.provider.getTransactionReceipt(hash))!;
    expect(included, "the reveal is mined").to.not.equal(null);
    await m.rpc("evm_mine", []);
    const seenTwoDeep = () => log.records.some((r) => r.msg === "tx included, awaiting confirmations" && r.label === label && r.head === included.blockNumber + 1);
    await until(seenTwoDeep, "the bidder to see its reveal 2 deep");
    // the reorg: the reveal's block and the next one are replaced by two empty blocks; the node forgot the reveal
    await m.rpc("evm_revert", [snapshot]);
    await m.rpc("hardhat_dropTransaction", [hash]);
    await m.rpc("evm_mine", []);
    await m.rpc("evm_mine", []);
    expect(await m.provider.getTransaction(hash)).to.equal(null);
    expect((await bidder.market.auction.bid(opened.auctionId, bidder.wallet.address)).status).to.equal("Committed");
    miner.paused = false;

    expect(await revealing).to.equal("revealed");
    // the very same reveal, now in the canonical chain, inside the reveal window
    const receipt = (await m.provider.getTransactionReceipt(hash))!;
    expect(receipt.blockHash).to.not.equal(included.blockHash);
    expect((await m.provider.getBlock(receipt.blockNumber))!.hash).to.equal(receipt.blockHash);
    expect((await m.provider.getBlock(receipt.blockNumber))!.timestamp).to.be.lessThan(opened.revealDeadline);
    expect((await bidder.market.auction.bid(opened.auctionId, bidder.wallet.address)).status).to.equal("Revealed");
    expect(bidder.journal.state.bids.get(opened.auctionId)).to.deep.include({ status: "revealed", revealTx: hash });
    const report = market.sender!.reports.find((r) => r.label === label)!;
    expect(report.reorgs).to.have.length(1);
    expect(report.reorgs[0]).to.deep.include({ blockNumber: included.blockNumber, blockHash: included.blockHash, depth: 2, resent: true });
    expect(log.records.find((r) => r.msg.startsWith("chain: reorg removed the block of a transaction"))).to.deep.include({ level: "warn", label, hash, depth: 2 });
    expect(log.records.filter((r) => r.msg === "tx sent" && r.label === label)).to.have.length(1);
  });
});
