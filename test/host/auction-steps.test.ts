import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hexlify, randomBytes, Wallet, type Provider } from "ethers";
import { openMarket, tvmIdFor, type ChainConnection, type SuiteAddresses } from "../../orchestrator/chain/index.js";
import { revealBid, revealPending, placeSealedBid } from "../../orchestrator/host/bidding.js";
import { chainClock } from "../../orchestrator/host/chain-clock.js";
import { finalizePending, finalizeWhenDue, openAuction } from "../../orchestrator/host/source-auction.js";
import { HostJournal } from "../../orchestrator/journal/index.js";
import { MemoryLogger } from "../../orchestrator/log/index.js";
import { ONE_ETH, startMarketChain } from "../chain/helpers/market-chain.js";

const MILLI = 10n ** 15n;
const platform = { teeTcbSvn: `0x${"03".repeat(16)}`, tdxModuleVersion: 0x0105, quoteHash: `0x${"aa".repeat(32)}` };

describe("host/auction steps with a journal, on an in-process chain", function () {
  this.timeout(60_000);
  let provider: Provider;
  let chain: ChainConnection;
  let addresses: SuiteAddresses;
  let increaseTime: (s: number) => Promise<void>;
  let fund: (to: string) => Promise<void>;
  const dirs: string[] = [];
  const journals: HostJournal[] = [];

  before(async () => {
    ({ provider, chain, addresses, increaseTime, fund } = await startMarketChain());
  });
  after(async () => {
    for (const j of journals) await j.close(); // idempotent: the crash scenarios closed some already
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  async function party(n: number) {
    const wallet = new Wallet(hexlify(randomBytes(32)));
    await fund(wallet.address);
    const market = openMarket(chain, addresses, { wallet });
    await market.hostRegistry.ensureRegistered(
      { endpoint: `127.0.0.1:${7000 + n}`, channelKeyFingerprint: `0x${"0f".repeat(32)}`, platform, capacity: 4 },
      ONE_ETH,
    );
    const dir = await mkdtemp(join(tmpdir(), `tvmx-host-${n}-`));
    dirs.push(dir);
    const logger = new MemoryLogger();
    const journal = await HostJournal.open(dir);
    journals.push(journal);
    return { wallet, market, dir, journal, logger, ctx: { market, journal, clock: chainClock(provider, 10), logger } };
  }

  async function open(source: Awaited<ReturnType<typeof party>>, admitted: string[]) {
    return openAuction(
      { ...source.ctx, wallet: source.wallet },
      {
        tdId: "td-1",
        tvmId: tvmIdFor(source.wallet.address),
        requestId: hexlify(randomBytes(32)),
        configHash: hexlify(randomBytes(32)),
        tcb: { minTeeTcbSvn: `0x${"02".repeat(16)}`, minTdxModuleVersion: 0x0105 },
        reserveWei: 10n * MILLI,
        bondWei: MILLI,
        commitWindowSec: 60,
        revealWindowSec: 60,
        admitted,
      },
    );
  }

  it("opens, bids, reveals after a crash of a bidder, and finalizes to the lowest bid", async () => {
    const source = await party(1);
    const a = await party(2);
    const b = await party(3);
    const opened = await open(source, [a.wallet.address, b.wallet.address]);
    expect(opened.tickets.map((t) => t.host)).to.deep.equal([a.wallet.address, b.wallet.address]);
    expect(source.journal.state.auctions.get(opened.auctionId)).to.deep.include({ status: "open", tdId: "td-1" });

    const bidOf = (p: typeof a, priceWei: bigint, i: number) =>
      placeSealedBid(p.ctx, {
        auctionId: opened.auctionId,
        tvmId: "0x",
        source: source.wallet.address,
        ticket: opened.tickets[i]!,
        priceWei,
        capacity: 3,
        bondWei: MILLI,
        commitDeadline: opened.commitDeadline,
        revealDeadline: opened.revealDeadline,
      });
    await bidOf(a, 4n * MILLI, 0);
    await bidOf(b, 2n * MILLI, 1);
    expect(b.journal.state.bids.get(opened.auctionId)?.status).to.equal("committed");

    // Bidder b crashes between commit and reveal: its process is gone, its journal stays.
    await b.journal.close();
    const bJournal = await HostJournal.open(b.dir);
    const bRestarted = { ...b.ctx, journal: bJournal, market: openMarket(chain, addresses, { wallet: b.wallet }) };
    expect(bJournal.state.bids.get(opened.auctionId)?.salt).to.match(/^0x[0-9a-f]{64}$/);

    const reveals = Promise.all([revealBid(a.ctx, opened.auctionId), revealPending(bRestarted)]);
    await increaseTime(61);
    const [ra, rb] = await reveals;
    expect(ra).to.equal("revealed");
    expect(rb.get(opened.auctionId)).to.equal("revealed");
    expect(bJournal.state.bids.get(opened.auctionId)?.status).to.equal("revealed");

    const finalizing = finalizeWhenDue({ ...source.ctx, wallet: source.wallet }, opened.auctionId);
    await increaseTime(61);
    const outcome = await finalizing;
    if (outcome.kind !== "finalized") expect.fail(`unexpected outcome ${outcome.kind}`);
    expect(outcome.winner).to.equal(b.wallet.address);
    expect(outcome.price).to.equal(4n * MILLI);
    expect(source.journal.state.auctions.get(opened.auctionId)).to.deep.include({ status: "finalized", winner: b.wallet.address, allocationId: outcome.allocationId });
    await bJournal.close();
  });

  it("sends finalize again when it was mined before the reveal deadline (a clock that ran ahead of the chain)", async () => {
    const source = await party(8);
    const opened = await open(source, []);
    // a clock that says the deadline has passed although the chain is still in the reveal window
    const early = { ...source.ctx.clock, until: async () => {} };
    const finalizing = finalizeWhenDue({ ...source.ctx, clock: early, wallet: source.wallet }, opened.auctionId);
    const warned = "finalize reverted: the chain is still before the reveal deadline; sending it again once a block is past it";
    const start = Date.now();
    while (source.logger.find(warned).length === 0 && Date.now() - start < 20_000) await new Promise((r) => setTimeout(r, 20));
    expect(source.logger.find(warned)).to.have.length(1);
    await increaseTime(121);
    const outcome = await finalizing;
    // nobody revealed: the auction fails, and the source's reserve comes back
    expect(outcome.kind).to.equal("failed");
    expect(source.journal.state.auctions.get(opened.auctionId)?.status).to.equal("failed");
  });

  it("tells the channel which peers are registered hosts, with their key and endpoint", async () => {
    const { ChainHostDirectory } = await import("../../orchestrator/host/chain-directory.js");
    const p = await party(6);
    const directory = new ChainHostDirectory(p.market.hostRegistry);
    expect(await directory.lookup(Wallet.createRandom().address)).to.deep.equal({ registered: false });
    // Registered, with an endpoint that is not a tvmx:// one: known, but not dialable.
    expect(await directory.lookup(p.wallet.address)).to.deep.equal({ registered: true, channelKeyFingerprint: `0x${"0f".repeat(32)}` });
    await p.market.hostRegistry.update({ endpoint: "tvmx://127.0.0.1:7001?migration=7002", channelKeyFingerprint: `0x${"0e".repeat(32)}`, platform, capacity: 4 });
    const fresh = new ChainHostDirectory(p.market.hostRegistry);
    expect(await fresh.lookup(p.wallet.address)).to.deep.equal({ registered: true, channelKeyFingerprint: `0x${"0e".repeat(32)}`, endpoint: "127.0.0.1:7001" });
    expect((await fresh.activeHosts(provider, { fromBlock: 0, confirmations: 1 })).map((h) => h.address)).to.include(p.wallet.address);
  });

  it("drops a bid that was prepared but never committed, and fails an auction nobody revealed in", async () => {
    const source = await party(4);
    const c = await party(5);
    const opened = await open(source, [c.wallet.address]);
    await c.journal.record({
      type: "bid.prepared",
      auctionId: opened.auctionId,
      tvmId: "0x",
      source: source.wallet.address,
      priceWei: MILLI,
      capacity: 1,
      salt: hexlify(randomBytes(32)),
      revealDeadline: opened.revealDeadline,
    });
    const results = await revealPending(c.ctx);
    expect(results.get(opened.auctionId)).to.equal("not-committed");
    expect(c.journal.state.bids.get(opened.auctionId)?.status).to.equal("lost");
    expect(c.logger.find("bid was never committed on-chain; dropping it")).to.have.length(1);

    await increaseTime(121);
    await source.journal.close();
    const restarted = await HostJournal.open(source.dir);
    await finalizePending({ ...source.ctx, journal: restarted, wallet: source.wallet });
    expect(restarted.state.auctions.get(opened.auctionId)?.status).to.equal("failed");
    // Again after the fact: finalizing a settled auction only reads it.
    const again = await finalizeWhenDue({ ...source.ctx, journal: restarted, wallet: source.wallet }, opened.auctionId);
    expect(again).to.deep.include({ kind: "already", state: "Failed" });
    await restarted.close();
  });
});
