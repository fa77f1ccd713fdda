import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hexlify, randomBytes, Wallet } from "ethers";
import { deploySuite, LOCAL_AUCTION_LIMITS } from "../../deploy/deploy-suite.js";
import { connectChain, openMarket, type ChainConnection, type SuiteAddresses } from "../../orchestrator/chain/index.js";
import { startLocalNode, type LocalNode } from "../../orchestrator/chain/local-node.js";
import { failedComponentOf, TvmxError } from "../../orchestrator/errors/index.js";
import { revealBid } from "../../orchestrator/host/bidding.js";
import { chainClock } from "../../orchestrator/host/chain-clock.js";
import { HostJournal } from "../../orchestrator/journal/index.js";
import { MemoryLogger } from "../../orchestrator/log/index.js";
import { startOutageProxy, type OutageProxy } from "../chain/helpers/outage-proxy.js";
import { openWithOneBid } from "./one-bid-auction.js";

// The first default account of a Hardhat node (public test key).
const DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ONE_ETH = 10n ** 18n;
const platform = { teeTcbSvn: `0x${"03".repeat(16)}`, tdxModuleVersion: 0x0105, quoteHash: `0x${"aa".repeat(32)}` };
/** What the default retry policy (rpcRetries 5, 200 ms doubling) used to allow a reveal: 0.2+0.4+0.8+1.6+3.2 s. */
const OLD_BUDGET_MS = 6_200;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A bidder reaches a real node through a proxy that the test takes down after the bid is committed. The reveal is
 * retried for as long as the reveal window is open, not for the connection's six attempts: down longer than those
 * six attempts take but less than the window, the reveal lands; down past the window, the bidder stops with
 * CHAIN_DEADLINE_PASSED naming the chain RPC, and makes no further attempt.
 */
describe("host/a reveal retried until its reveal window closes", function () {
  this.timeout(180_000);
  let node: LocalNode;
  let direct: ChainConnection;
  let addresses: SuiteAddresses;
  const proxies: OutageProxy[] = [];
  const connections: ChainConnection[] = [];
  const journals: HostJournal[] = [];
  const dirs: string[] = [];

  before(async () => {
    node = await startLocalNode();
    direct = await connectChain({ rpcUrl: node.url, confirmations: 1, pollIntervalMs: 50, rpcRetries: 5 });
    const deployer = new Wallet(DEV_KEY, direct.provider);
    const suite = await deploySuite(deployer, { minStake: ONE_ETH, withdrawalDelay: 3600n, confirmationTimeout: 600n, auctionLimits: LOCAL_AUCTION_LIMITS });
    addresses = { hostRegistry: suite.hostRegistry, migrationAuction: suite.migrationAuction, allocationRegistry: suite.allocationRegistry };
  });
  after(async () => {
    for (const j of journals) await j.close();
    for (const c of connections) c.close();
    for (const p of proxies) await p.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
    direct?.close();
    await node?.stop();
  });

  let port = 7100;
  async function party(chain: ChainConnection) {
    const wallet = new Wallet(hexlify(randomBytes(32)));
    const deployer = new Wallet(DEV_KEY, direct.provider);
    await (await deployer.sendTransaction({ to: wallet.address, value: 5n * ONE_ETH })).wait();
    const logger = new MemoryLogger();
    const market = openMarket(chain, addresses, { wallet, logger });
    await market.hostRegistry.ensureRegistered({ endpoint: `127.0.0.1:${port++}`, channelKeyFingerprint: `0x${"0f".repeat(32)}`, platform, capacity: 4 }, ONE_ETH);
    const dir = await mkdtemp(join(tmpdir(), "tvmx-reveal-"));
    dirs.push(dir);
    const journal = await HostJournal.open(dir);
    journals.push(journal);
    return { wallet, market, journal, logger, ctx: { market, journal, clock: chainClock(chain.provider, 50), logger } };
  }

  /** A source on the direct connection, a bidder behind an outage proxy with the default retry policy, and a committed bid. */
  async function committedBid(commitWindowSec: number, revealWindowSec: number) {
    const proxy = await startOutageProxy(node.url);
    proxies.push(proxy);
    const viaProxy = await connectChain({ rpcUrl: proxy.url, confirmations: 1, pollIntervalMs: 50, rpcRetries: 5 });
    connections.push(viaProxy);
    const source = await party(direct);
    const bidder = await party(viaProxy);
    const opened = await openWithOneBid({ ...source.ctx, wallet: source.wallet }, bidder.ctx, bidder.wallet.address, { commitWindowSec, revealWindowSec });
    return { proxy, source, bidder, opened, sourceClock: source.ctx.clock };
  }

  it("reveals once the node is back after an outage longer than the old attempt budget but shorter than the window", async () => {
    const { proxy, bidder, opened, sourceClock } = await committedBid(5, 20);
    const revealing = revealBid(bidder.ctx, opened.auctionId);
    // the bidder has read its bid and the deadlines and waits for the reveal window; the node goes away just before
    // it opens and stays away until 8 s into it (more than OLD_BUDGET_MS): the reveal transaction meets the outage
    await sourceClock.until(opened.commitDeadline - 1);
    proxy.down = true;
    const downAt = Date.now();
    await sourceClock.until(opened.commitDeadline + 8);
    expect(Date.now() - downAt).to.be.greaterThan(OLD_BUDGET_MS + 1_000);
    proxy.down = false;
    expect(await revealing).to.equal("revealed");
    expect((await bidder.market.auction.bid(opened.auctionId, bidder.wallet.address)).status).to.equal("Revealed");
    expect(bidder.journal.state.bids.get(opened.auctionId)?.status).to.equal("revealed");
    const refused = proxy.requests.filter((r) => r.down);
    expect(refused.length).to.be.greaterThan(6);
    expect(refused.at(-1)!.at - refused[0]!.at).to.be.greaterThan(OLD_BUDGET_MS);
    expect(bidder.logger.records.some((r) => r.msg === "chain: RPC failed, retrying")).to.equal(true);
  });

  it("stops at the end of the window with CHAIN_DEADLINE_PASSED naming the chain RPC, and makes no further attempt", async () => {
    const { proxy, bidder, opened, sourceClock } = await committedBid(5, 9);
    const revealing = revealBid(bidder.ctx, opened.auctionId).catch((e: unknown) => e);
    await sourceClock.until(opened.commitDeadline - 1);
    proxy.down = true;
    const err = (await revealing) as TvmxError;
    const failedAt = Date.now();
    expect(err).to.be.instanceOf(TvmxError);
    expect(err.code).to.equal("CHAIN_DEADLINE_PASSED");
    expect(err.message).to.match(new RegExp(`^chain RPC unavailable at ${proxy.url}: MigrationAuction\\.revealBid \\w+ still failing when the reveal window of auction ${opened.auctionId} closed`));
    expect(failedComponentOf(err)).to.equal("chain RPC");
    // it gave up because the window closed, not earlier
    expect(await sourceClock.nowSec()).to.be.at.least(opened.revealDeadline - 1);
    const seen = proxy.requests.length;
    await sleep(2_000);
    expect(proxy.requests.length).to.equal(seen);
    expect(proxy.requests.at(-1)!.at).to.be.at.most(failedAt);
    proxy.down = false;
    expect((await bidder.market.auction.bid(opened.auctionId, bidder.wallet.address)).status).to.equal("Committed");
  });
});
