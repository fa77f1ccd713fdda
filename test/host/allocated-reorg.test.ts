import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hexlify, randomBytes, Wallet, type JsonRpcProvider } from "ethers";
import { deploySuite, LOCAL_AUCTION_LIMITS } from "../../deploy/deploy-suite.js";
import { connectChain, openMarket, type ChainConnection, type Market, type SuiteAddresses } from "../../orchestrator/chain/index.js";
import { startLocalNode, type LocalNode } from "../../orchestrator/chain/local-node.js";
import { revealBid } from "../../orchestrator/host/bidding.js";
import { chainClock, type ChainClock } from "../../orchestrator/host/chain-clock.js";
import { FINALIZE_GAS_LIMIT } from "../../orchestrator/host/source-auction.js";
import { HostJournal } from "../../orchestrator/journal/index.js";
import { MemoryLogger } from "../../orchestrator/log/index.js";
import { startReorgProxy, type ReorgProxy, type RpcCall } from "../chain/helpers/reorg-proxy.js";
import { HostFactory, until, type TestHost } from "./helpers.js";
import { openWithOneBid } from "./one-bid-auction.js";

// The first default account of a Hardhat node (public test key).
const DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ONE_ETH = 10n ** 18n;
const platform = { teeTcbSvn: `0x${"03".repeat(16)}`, tdxModuleVersion: 0x0105, quoteHash: `0x${"aa".repeat(32)}` };
const REMOVED = "Allocated event removed by a reorg before it was acted on; no migration started, its blocks are scanned again";
const NOT_BACKED = "Allocated event not backed by the contract's allocation; no migration started";
const STARTED = "allocated to this host: awaiting the stream";

/**
 * A destination host (confirmations = 1, so it acts on an Allocated log as soon as it is mined) reaches a real node
 * through a proxy that makes a reorg at the worst moment: right after the node answered the host's getLogs with the
 * Allocated log (the host holds a log of a block that is gone), or right before the host re-reads the allocation from
 * the contract. The test plays the source and the host's bids on the node directly; the finalize transaction that
 * emitted the log is reorged out and not sent again, as when the source lost it. The host starts no migration, and
 * says why; with no reorg, the same allocation starts one.
 */
describe("host/an Allocated log removed by a reorg", function () {
  this.timeout(180_000);
  let node: LocalNode;
  let direct: ChainConnection;
  let viaProxy: ChainConnection;
  let proxy: ReorgProxy;
  let addresses: SuiteAddresses;
  let factory: HostFactory;
  let dest: TestHost;
  let source: { wallet: Wallet; market: Market; journal: HostJournal; clock: ChainClock; logger: MemoryLogger };
  let bidder: { market: Market; journal: HostJournal; clock: ChainClock; logger: MemoryLogger };
  const journals: HostJournal[] = [];
  const dirs: string[] = [];
  const rpc = (method: string, params: unknown[] = []) => (direct.provider as JsonRpcProvider).send(method, params);
  /** The reorg: back to `snapshot`, then two other blocks. */
  const reorg = async (snapshot: unknown) => {
    expect(await rpc("evm_revert", [snapshot])).to.equal(true);
    await rpc("evm_mine");
    await rpc("evm_mine");
  };

  async function journal(): Promise<HostJournal> {
    const dir = await mkdtemp(join(tmpdir(), "tvmx-alloc-reorg-"));
    dirs.push(dir);
    const j = await HostJournal.open(dir);
    journals.push(j);
    return j;
  }

  before(async () => {
    node = await startLocalNode();
    direct = await connectChain({ rpcUrl: node.url, confirmations: 1, pollIntervalMs: 50, rpcRetries: 5 });
    const deployer = new Wallet(DEV_KEY, direct.provider);
    const suite = await deploySuite(deployer, { minStake: ONE_ETH, withdrawalDelay: 3600n, confirmationTimeout: 600n, auctionLimits: LOCAL_AUCTION_LIMITS });
    addresses = { hostRegistry: suite.hostRegistry, migrationAuction: suite.migrationAuction, allocationRegistry: suite.allocationRegistry };
    proxy = await startReorgProxy(node.url);
    viaProxy = await connectChain({ rpcUrl: proxy.url, confirmations: 1, pollIntervalMs: 50, rpcRetries: 5 });
    factory = new HostFactory(viaProxy, addresses, async (to) => {
      await (await deployer.sendTransaction({ to, value: 20n * ONE_ETH })).wait();
    });
    dest = await factory.start("dest", { raw: { migration: { peerTimeoutMs: 2_000 } } });
    const sourceWallet = new Wallet(hexlify(randomBytes(32)));
    await (await deployer.sendTransaction({ to: sourceWallet.address, value: 20n * ONE_ETH })).wait();
    const sourceMarket = openMarket(direct, addresses, { wallet: sourceWallet });
    await sourceMarket.hostRegistry.ensureRegistered({ endpoint: "127.0.0.1:7600", channelKeyFingerprint: `0x${"0f".repeat(32)}`, platform, capacity: 4 }, ONE_ETH);
    source = { wallet: sourceWallet, market: sourceMarket, journal: await journal(), clock: chainClock(direct.provider, 50), logger: new MemoryLogger() };
    // the host's key bids from the test (the host's own bidding needs a source on the channel)
    bidder = { market: openMarket(direct, addresses, { wallet: dest.wallet }), journal: await journal(), clock: chainClock(direct.provider, 50), logger: new MemoryLogger() };
  });
  after(async () => {
    await factory?.closeAll();
    for (const j of journals) await j.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
    viaProxy?.close();
    await proxy?.close();
    direct?.close();
    await node?.stop();
  });

  /** An auction the host's key won, past its reveal window and ready to be finalized. */
  async function wonAuction(): Promise<bigint> {
    const opened = await openWithOneBid({ ...source, wallet: source.wallet }, bidder, dest.wallet.address, { commitWindowSec: 3, revealWindowSec: 3, svnByte: "01" });
    expect(await revealBid(bidder, opened.auctionId)).to.equal("revealed");
    await source.clock.until(opened.revealDeadline + 1);
    await rpc("evm_mine");
    return opened.auctionId;
  }

  const allocatedTopic = () => source.market.allocations.contract.interface.getEvent("Allocated")!.topicHash;
  const allocationSelector = () => source.market.allocations.contract.interface.getFunction("allocation")!.selector;
  /**
   * Finalizes from a fresh sender: the reorgs here take away a transaction the source had already seen confirmed (with
   * confirmations = 1), so a sender that counted it would hold a nonce one too high.
   */
  const finalize = (auctionId: bigint) => openMarket(direct, addresses, { wallet: source.wallet }).auction.finalize(auctionId, { gasLimit: FINALIZE_GAS_LIMIT });
  /** The auction the reorgs leave unfinalized, finalized again by each test. */
  let pending = 0n;
  const linesOf = (msg: string) => dest.log.records.filter((r) => r.msg === msg);

  it("drops a log whose block left the chain after getLogs returned it, scans again, and starts no migration", async () => {
    const auctionId = (pending = await wonAuction());
    const snapshot = await rpc("evm_snapshot");
    let fired = false;
    proxy.beforeAnswer = async (call: RpcCall, answer) => {
      const logs = Array.isArray(answer.result) ? (answer.result as { topics: string[] }[]) : [];
      if (fired || call.method !== "eth_getLogs" || !logs.some((l) => l.topics[0] === allocatedTopic())) return;
      fired = true;
      await reorg(snapshot);
    };
    const outcome = await finalize(auctionId);
    expect(outcome.kind).to.equal("finalized");
    const allocationId = (outcome as { allocationId: bigint }).allocationId;
    await until(() => linesOf(REMOVED).length > 0, "the host to drop the reorged log", 30_000);
    proxy.beforeAnswer = undefined;
    expect(fired).to.equal(true);
    expect(linesOf(REMOVED)[0]).to.deep.include({ level: "warn", allocationId, auctionId, block: outcome.report.blockNumber, blockHash: outcome.report.receipt.blockHash, party: true });
    expect(dest.log.records.some((r) => r.msg === "watcher: a log's block left the canonical chain (reorg); dropped it, scanning its range again")).to.equal(true);
    // a few more polls over the new chain: still nothing to act on
    await new Promise((r) => setTimeout(r, 1_000));
    expect(linesOf(STARTED)).to.have.length(0);
    expect(dest.host.context.journal.state.migrations.has(allocationId)).to.equal(false);
    expect(dest.host.context.tds.capacity()).to.deep.include({ usedSlots: 0 });
    // the chain agrees: no such allocation, and the auction is not finalized
    expect((await source.market.allocations.allocation(allocationId)).state).to.equal("None");
    expect(await source.market.auction.state(auctionId)).to.not.equal("Finalized");
  });

  it("re-reads the allocation before acting: gone from the contract by then, the host starts no migration and says why", async () => {
    // the auction is still there to finalize (the reorg took its finalization away)
    const auctionId = pending;
    const snapshot = await rpc("evm_snapshot");
    let fired = false;
    proxy.beforeCall = async (call: RpcCall) => {
      const tx = call.params[0] as { to?: string; data?: string } | undefined;
      if (fired || call.method !== "eth_call" || tx?.to?.toLowerCase() !== addresses.allocationRegistry.toLowerCase() || !tx.data?.startsWith(allocationSelector())) return;
      fired = true;
      await reorg(snapshot);
    };
    const outcome = await finalize(auctionId);
    const allocationId = (outcome as { allocationId: bigint }).allocationId;
    await until(() => linesOf(NOT_BACKED).some((r) => r.allocationId === allocationId), "the host to refuse the allocation", 30_000);
    proxy.beforeCall = undefined;
    const line = linesOf(NOT_BACKED).find((r) => r.allocationId === allocationId)!;
    expect(line).to.deep.include({ level: "warn", role: "destination", auctionId, block: outcome.report.blockNumber });
    expect((line.err as { code?: string }).code).to.equal("HOST_ALLOCATION_NOT_ON_CHAIN");
    await new Promise((r) => setTimeout(r, 1_000));
    expect(linesOf(STARTED).filter((r) => r.allocationId === allocationId)).to.have.length(0);
    expect(dest.host.context.journal.state.migrations.has(allocationId)).to.equal(false);
    expect((await source.market.allocations.allocation(allocationId)).state).to.equal("None");
  });

  it("acts on the same allocation when no reorg takes it away (the control)", async () => {
    const auctionId = pending;
    const outcome = await finalize(auctionId);
    const allocationId = (outcome as { allocationId: bigint }).allocationId;
    await until(() => linesOf(STARTED).some((r) => r.allocationId === allocationId), "the host to start the import", 30_000);
    expect(dest.host.context.journal.state.migrations.get(allocationId)).to.deep.include({ role: "destination", peer: source.wallet.address });
    expect((await source.market.allocations.allocation(allocationId)).state).to.not.equal("None");
  });

});
