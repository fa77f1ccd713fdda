import { expect } from "chai";
import { network } from "hardhat";
import { Wallet, type Provider } from "ethers";
import { connectionFromProvider, type ChainConnection } from "../../orchestrator/chain/connection.js";
import { memoryCursor, watchEvents } from "../../orchestrator/chain/log-watcher.js";
import { TxSender, type TxReport } from "../../orchestrator/chain/tx-sender.js";
import { TvmxError } from "../../orchestrator/errors/index.js";
import { MemoryLogger } from "../../orchestrator/log/index.js";
import { HostRegistry__factory, type HostRegistry } from "../../types/ethers-contracts/index.js";

const platform = { teeTcbSvn: `0x${"03".repeat(16)}`, tdxModuleVersion: 0x0105, quoteHash: `0x${"aa".repeat(32)}` };
const fingerprint = `0x${"f1".repeat(32)}`;
const ONE_ETH = 10n ** 18n;

async function until(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("chain/TxSender and watchers on an in-process chain", function () {
  let provider: Provider;
  let chain: ChainConnection;
  let registry: HostRegistry;
  let funder: Awaited<ReturnType<Awaited<ReturnType<typeof network.create>>["ethers"]["getSigners"]>>[number];

  async function fundedWallet(): Promise<Wallet> {
    const wallet = Wallet.createRandom().connect(provider);
    await (await funder.sendTransaction({ to: wallet.address, value: 10n * ONE_ETH })).wait();
    return new Wallet(wallet.privateKey, provider);
  }

  before(async () => {
    const { ethers } = await network.create();
    provider = ethers.provider;
    [funder] = await ethers.getSigners();
    registry = await new HostRegistry__factory(funder).deploy(await funder!.getAddress(), ONE_ETH, 3600n);
    await registry.waitForDeployment();
    chain = await connectionFromProvider(provider, { url: "edr", pollIntervalMs: 20, retry: { retries: 2, baseDelayMs: 5, maxDelayMs: 10 } });
  });

  it("sends a transaction, waits for it, and reports its gas", async () => {
    const wallet = await fundedWallet();
    const mined: TxReport[] = [];
    const sender = new TxSender(chain, wallet, { onMined: (r) => mined.push(r), logger: new MemoryLogger() });
    const report = await sender.send("HostRegistry.register", registry, "register", ["tcp://127.0.0.1:7400", fingerprint, platform, 4], { value: ONE_ETH });
    expect(report.gasUsed).to.be.greaterThan(21_000n);
    expect(report.feeWei).to.equal(report.gasUsed * report.effectiveGasPrice);
    expect(report.blockNumber).to.be.greaterThan(0);
    expect(report.from).to.equal(wallet.address);
    expect(report.valueWei).to.equal(ONE_ETH);
    expect(mined).to.deep.equal([report]);
    expect(sender.reports).to.deep.equal([report]);
    expect(await registry.isActive(wallet.address)).to.equal(true);
  });

  it("keeps nonces in order when transactions are sent concurrently", async () => {
    const wallet = await fundedWallet();
    const sender = new TxSender(chain, wallet);
    await sender.send("register", registry, "register", ["tcp://a:1", fingerprint, platform, 1], { value: ONE_ETH });
    const reports = await Promise.all([1, 2, 3].map((n) => sender.send("increaseStake", registry, "increaseStake", [], { value: BigInt(n) })));
    expect(reports.map((r) => r.nonce)).to.deep.equal([1, 2, 3]);
    expect((await registry.hostInfo(wallet.address)).stake).to.equal(ONE_ETH + 6n);
  });

  it("does not wait for one transaction's block before sending the next: transactions sent together share a block", async () => {
    const wallet = await fundedWallet();
    const sender = new TxSender(chain, wallet);
    await sender.send("register", registry, "register", ["tcp://b:1", fingerprint, platform, 1], { value: ONE_ETH });
    const send = (provider as unknown as { send(m: string, p: unknown[]): Promise<unknown> }).send.bind(provider);
    await send("evm_setAutomine", [false]);
    try {
      const pending = Promise.all([1, 2, 3].map((n) => sender.send("increaseStake", registry, "increaseStake", [], { value: BigInt(n) })));
      // all three reach the pool while no block is mined; then one block takes them all
      const start = Date.now();
      while (Number(((await send("eth_getBlockByNumber", ["pending", false])) as { transactions: unknown[] }).transactions.length) < 3) {
        if (Date.now() - start > 10_000) throw new Error("the three transactions never all reached the pool");
        await new Promise((r) => setTimeout(r, 20));
      }
      await send("evm_mine", []);
      const reports = await pending;
      expect(reports.map((r) => r.nonce)).to.deep.equal([1, 2, 3]);
      expect(new Set(reports.map((r) => r.blockNumber)).size).to.equal(1);
    } finally {
      await send("evm_setAutomine", [true]);
    }
  });

  it("pays at most the configured fee caps (chain.fees), and refuses to send when the base fee is above the cap", async () => {
    const wallet = await fundedWallet();
    const base = (await provider.getBlock("latest"))!.baseFeePerGas!;
    const suggested = await provider.getFeeData();
    // caps between the base fee and the node's suggestion (2 x base + tip): the suggestion is cut to them
    const caps = { maxFeePerGas: base + base / 2n, maxPriorityFeePerGas: 7n };
    expect(suggested.maxFeePerGas!).to.be.greaterThan(caps.maxFeePerGas);
    const capped = await connectionFromProvider(provider, { url: "edr", pollIntervalMs: 20, fees: caps });
    const sender = new TxSender(capped, wallet);
    const report = await sender.send("HostRegistry.register", registry, "register", ["tcp://127.0.0.1:7401", fingerprint, platform, 1], { value: ONE_ETH });
    const tx = (await provider.getTransaction(report.hash))!;
    expect(tx.type).to.equal(2);
    expect(tx.maxFeePerGas).to.equal(caps.maxFeePerGas);
    expect(tx.maxPriorityFeePerGas).to.equal(7n);
    expect(report.effectiveGasPrice).to.be.at.most(caps.maxFeePerGas);
    // a cap below what the chain charges: refused before anything is signed, the nonce untouched
    const tooLow = await connectionFromProvider(provider, { url: "edr", pollIntervalMs: 20, fees: { maxFeePerGas: 1n } });
    const nonce = await provider.getTransactionCount(wallet.address);
    const err = (await new TxSender(tooLow, wallet).send("HostRegistry.increaseStake", registry, "increaseStake", [], { value: 1n }).catch((e: unknown) => e)) as TvmxError;
    expect(err).to.be.instanceOf(TvmxError);
    expect(err.code).to.equal("CHAIN_FEE_ABOVE_CAP");
    expect(err.message).to.match(/^HostRegistry\.increaseStake: the chain's base fee is [0-9.]+ gwei, above the configured cap chain\.fees\.maxFeePerGasWei = 0\.000000001 gwei; not sent/);
    expect(await provider.getTransactionCount(wallet.address)).to.equal(nonce);
  });

  it("decodes a revert into the contract's custom error before sending", async () => {
    const wallet = await fundedWallet();
    const failed: string[] = [];
    const sender = new TxSender(chain, wallet, { onFailed: (label) => failed.push(label) });
    const err = (await sender.send("register", registry, "register", ["tcp://a:1", fingerprint, platform, 1], { value: 1n }).catch((e: unknown) => e)) as TvmxError;
    expect(err).to.be.instanceOf(TvmxError);
    expect(err.code).to.equal("CHAIN_TX_REVERTED");
    expect(err.details.error).to.equal("HostRegistryInsufficientStake");
    expect(err.details.args).to.deep.include({ provided: 1n, required: ONE_ETH });
    expect(err.message).to.contain("HostRegistryInsufficientStake(");
    expect(failed).to.deep.equal(["register"]);
    // Nothing was sent: the next transaction uses nonce 0.
    const ok = await sender.send("register", registry, "register", ["tcp://a:1", fingerprint, platform, 1], { value: ONE_ETH });
    expect(ok.nonce).to.equal(0);
  });

  it("recovers when another sender used its nonce", async () => {
    const wallet = await fundedWallet();
    const sender = new TxSender(chain, wallet);
    await sender.send("register", registry, "register", ["tcp://a:1", fingerprint, platform, 1], { value: ONE_ETH });
    // The same key used elsewhere moves the account's nonce behind the sender's back.
    await (await wallet.sendTransaction({ to: wallet.address, value: 1n })).wait();
    const report = await sender.send("increaseStake", registry, "increaseStake", [], { value: 5n });
    expect(report.nonce).to.equal(2);
  });

  it("waits for the configured confirmations", async () => {
    const wallet = await fundedWallet();
    const deep = { ...chain, confirmations: 3 };
    const sender = new TxSender(deep, wallet);
    const pending = sender.send("register", registry, "register", ["tcp://a:1", fingerprint, platform, 1], { value: ONE_ETH });
    let settled = false;
    void pending.then(() => (settled = true));
    // Automine gives one block; two more blocks are needed before the sender returns.
    await new Promise((r) => setTimeout(r, 150));
    expect(settled).to.equal(false);
    await (provider as unknown as { send(m: string, p: unknown[]): Promise<unknown> }).send("hardhat_mine", ["0x2"]);
    const report = await pending;
    expect((await provider.getBlockNumber()) - report.blockNumber + 1).to.be.at.least(3);
  });

  it("waits for a receipt until the protocol's deadline when it is later than the receipt timeout (a long reveal window)", async () => {
    const wallet = await fundedWallet();
    const deep = { ...chain, confirmations: 2 };
    const sender = new TxSender(deep, wallet, { receiptTimeoutMs: 100 });
    // Without a deadline the 100 ms timeout decides: the second confirmation does not come in time.
    const alone = sender.send("register", registry, "register", ["tcp://a:1", fingerprint, platform, 1], { value: ONE_ETH });
    const err = await alone.then(() => undefined, (e: unknown) => e);
    expect(err, String(err)).to.be.instanceOf(TvmxError);
    expect((err as TvmxError).code).to.equal("CHAIN_TIMEOUT");
    // With a deadline 10 s away the sender keeps waiting, and returns once the block is deep enough.
    const other = await fundedWallet();
    const patient = new TxSender(deep, other, { receiptTimeoutMs: 100 });
    const outcome = patient
      .send("register", registry, "register", ["tcp://b:1", fingerprint, platform, 1], { value: ONE_ETH, until: { atMs: Date.now() + 10_000, what: "the test's window" } })
      .then((r) => r, (e: unknown) => (e instanceof Error ? e : new Error(String(e))));
    await new Promise((r) => setTimeout(r, 400));
    await (provider as unknown as { send(m: string, p: unknown[]): Promise<unknown> }).send("hardhat_mine", ["0x1"]);
    const report = await outcome;
    if (report instanceof Error) throw report;
    expect((await provider.getBlockNumber()) - report.blockNumber + 1).to.be.at.least(2);
  });

  it("watches events from a cursor, decoded, and stops on unwatch", async () => {
    const start = await provider.getBlockNumber();
    const cursor = memoryCursor();
    const seen: { name: string; host: string }[] = [];
    const unwatch = watchEvents({
      provider,
      name: "hosts",
      address: await registry.getAddress(),
      iface: registry.interface,
      events: ["HostRegistered", "StakeIncreased"],
      fromBlock: start + 1,
      cursor,
      pollIntervalMs: 20,
      onEvent: (e) => {
        seen.push({ name: e.name, host: e.args.host as string });
      },
    });
    const wallet = await fundedWallet();
    const sender = new TxSender(chain, wallet);
    await sender.send("register", registry, "register", ["tcp://a:1", fingerprint, platform, 1], { value: ONE_ETH });
    await sender.send("increaseStake", registry, "increaseStake", [], { value: 1n });
    await until(() => seen.length === 2, "two events");
    expect(seen).to.deep.equal([
      { name: "HostRegistered", host: wallet.address },
      { name: "StakeIncreased", host: wallet.address },
    ]);
    await unwatch();
    const head = await provider.getBlockNumber();
    await until(() => cursor.value !== undefined && cursor.value >= head - 1, "cursor");
    await sender.send("increaseStake", registry, "increaseStake", [], { value: 1n });
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).to.have.length(2);
  });

  it("resumes from a saved cursor without missing or repeating events", async () => {
    const wallet = await fundedWallet();
    const sender = new TxSender(chain, wallet);
    const start = await provider.getBlockNumber();
    await sender.send("register", registry, "register", ["tcp://a:1", fingerprint, platform, 1], { value: ONE_ETH });
    const first = await sender.send("increaseStake", registry, "increaseStake", [], { value: 1n });
    // A previous run handled everything up to the first increase.
    const cursor = memoryCursor(first.blockNumber);
    await sender.send("increaseStake", registry, "increaseStake", [], { value: 2n });
    const amounts: bigint[] = [];
    const unwatch = watchEvents({
      provider,
      name: "stake",
      address: await registry.getAddress(),
      iface: registry.interface,
      events: ["StakeIncreased"],
      fromBlock: start + 1,
      cursor,
      pollIntervalMs: 20,
      maxBlockRange: 1,
      onEvent: (e) => {
        if (e.args.host === wallet.address) amounts.push(e.args.amount as bigint);
      },
    });
    const head = await provider.getBlockNumber();
    await until(() => (cursor.value ?? 0) >= head, "catch-up");
    await unwatch();
    expect(amounts).to.deep.equal([2n]);
  });

  it("keeps watching after a handler fails, and logs the failure", async () => {
    const log = new MemoryLogger();
    const wallet = await fundedWallet();
    const sender = new TxSender(chain, wallet);
    const start = await provider.getBlockNumber();
    let calls = 0;
    const unwatch = watchEvents({
      provider,
      name: "flaky",
      address: await registry.getAddress(),
      iface: registry.interface,
      events: ["StakeIncreased"],
      fromBlock: start + 1,
      cursor: memoryCursor(),
      pollIntervalMs: 20,
      logger: log,
      onEvent: () => {
        calls++;
        if (calls === 1) throw new Error("handler bug");
      },
    });
    await sender.send("register", registry, "register", ["tcp://a:1", fingerprint, platform, 1], { value: ONE_ETH });
    await sender.send("increaseStake", registry, "increaseStake", [], { value: 1n });
    await sender.send("increaseStake", registry, "increaseStake", [], { value: 1n });
    await until(() => calls === 2, "second event");
    await unwatch();
    expect(log.find("watcher: handler failed")).to.have.length(1);
  });
});
