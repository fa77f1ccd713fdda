import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hexlify, randomBytes, Wallet } from "ethers";
import { openMarket, tvmIdFor } from "../../orchestrator/chain/index.js";
import { sleep } from "../../orchestrator/util/index.js";
import { placeSealedBid, revealBid } from "../../orchestrator/host/bidding.js";
import { chainClock } from "../../orchestrator/host/chain-clock.js";
import { finalizeWhenDue, openAuction } from "../../orchestrator/host/source-auction.js";
import { HostJournal } from "../../orchestrator/journal/index.js";
import { MemoryLogger } from "../../orchestrator/log/index.js";
import { ONE_ETH, startMarketChain, type MarketChain } from "../chain/helpers/market-chain.js";

const MILLI = 10n ** 15n;
const platform = { teeTcbSvn: `0x${"03".repeat(16)}`, tdxModuleVersion: 0x0105, quoteHash: `0x${"aa".repeat(32)}` };

/**
 * The first auction on a chain must succeed whatever the node's mining: deadlines are counted from when the
 * chain will mine the opening transaction. Each case runs a whole auction (open, two sealed bids, reveals,
 * finalize) with the hosts' real clocks, against a chain mining in one way.
 */
describe("host/chain time: the first auction succeeds on any node", function () {
  this.timeout(180_000);
  const dirs: string[] = [];
  const journals: HostJournal[] = [];
  after(async () => {
    for (const j of journals) await j.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  async function party(m: MarketChain, n: number) {
    const wallet = new Wallet(hexlify(randomBytes(32)));
    await m.fund(wallet.address);
    const market = openMarket(m.chain, m.addresses, { wallet });
    await market.hostRegistry.ensureRegistered(
      { endpoint: `127.0.0.1:${7000 + n}`, channelKeyFingerprint: `0x${"0f".repeat(32)}`, platform, capacity: 4 },
      ONE_ETH,
    );
    const dir = await mkdtemp(join(tmpdir(), `tvmx-time-${n}-`));
    dirs.push(dir);
    const journal = await HostJournal.open(dir);
    journals.push(journal);
    return { wallet, market, journal, ctx: { market, journal, clock: chainClock(m.provider, 50), logger: new MemoryLogger() } };
  }

  type Party = Awaited<ReturnType<typeof party>>;

  async function parties(m: MarketChain) {
    return { source: await party(m, 1), a: await party(m, 2), b: await party(m, 3) };
  }

  /** One auction with fresh clocks, as just-started hosts would run it; returns the winner. */
  async function runAuction(p: { source: Party; a: Party; b: Party }, windowSec: number) {
    const { source, a, b } = p;
    const opened = await openAuction(
      { ...source.ctx, wallet: source.wallet },
      {
        tdId: "td-1",
        tvmId: tvmIdFor(source.wallet.address),
        requestId: hexlify(randomBytes(32)),
        configHash: hexlify(randomBytes(32)),
        tcb: { minTeeTcbSvn: `0x${"02".repeat(16)}`, minTdxModuleVersion: 0x0105 },
        reserveWei: 10n * MILLI,
        bondWei: MILLI,
        commitWindowSec: windowSec,
        revealWindowSec: windowSec,
        admitted: [a.wallet.address, b.wallet.address],
      },
    );
    const bid = async (bidder: Party, priceWei: bigint, i: number) => {
      await placeSealedBid(bidder.ctx, {
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
      return revealBid(bidder.ctx, opened.auctionId);
    };
    const [ra, rb, outcome] = await Promise.all([
      bid(a, 4n * MILLI, 0),
      bid(b, 2n * MILLI, 1),
      finalizeWhenDue({ ...source.ctx, wallet: source.wallet }, opened.auctionId),
    ]);
    expect([ra, rb]).to.deep.equal(["revealed", "revealed"]);
    if (outcome.kind !== "finalized") expect.fail(`auction ended ${JSON.stringify(outcome.kind)}`);
    expect(outcome.winner).to.equal(b.wallet.address);
    return outcome;
  }

  it("on an automining node that has been idle for longer than both windows", async () => {
    const m = await startMarketChain();
    const p = await parties(m);
    const windowSec = 4;
    // Idle until the latest block is older than both windows: deadlines counted from it would be past already.
    // (The set-up's burst of blocks may have put the chain's clock ahead of the wall clock: that lead goes first.)
    const latest = (await m.provider.getBlock("latest"))!;
    while (Date.now() / 1000 < latest.timestamp + 2 * windowSec + 2) await sleep(250);
    expect((await m.provider.getBlock("latest"))!.number).to.equal(latest.number);
    await runAuction(p, windowSec);
  });

  it("on an automining node whose next block is far ahead of its latest one", async () => {
    const m = await startMarketChain();
    const p = await parties(m);
    // Time moved without a block (as on a node idle for 5 minutes): only the pending block knows.
    await m.rpc("evm_increaseTime", [300]);
    await runAuction(p, 4);
  });

  it("on a node that mines a block every 12 s and nothing in between", async () => {
    const m = await startMarketChain();
    const p = await parties(m);
    // A history of 12 s blocks (mined with explicit timestamps, instead of waiting for them), then 12 s mining.
    let t = (await m.provider.getBlock("latest"))!.timestamp;
    for (let i = 0; i < 4; i++) await m.rpc("evm_mine", [(t += 12)]);
    await m.rpc("evm_setAutomine", [false]);
    await m.rpc("evm_setIntervalMining", [12_000]);
    await runAuction(p, 20);
  });

  it("on a busy automining node whose clock runs ahead of the wall clock", async () => {
    const m = await startMarketChain();
    const p = await parties(m);
    const other = new Wallet(hexlify(randomBytes(32)), m.provider);
    await m.fund(other.address);
    let busy = true;
    // Another party's transactions, one block each: every block is at least a second after the last.
    const pump = (async () => {
      while (busy) {
        await (await other.sendTransaction({ to: other.address, value: 1n })).wait();
        await sleep(150);
      }
    })();
    try {
      const before = (await m.provider.getBlock("latest"))!.timestamp;
      await sleep(2_000);
      // The chain's clock runs faster than the wall clock: more than one block a second.
      expect((await m.provider.getBlock("latest"))!.timestamp - before).to.be.above(3);
      await runAuction(p, 30);
    } finally {
      busy = false;
      await pump;
    }
  });
});
