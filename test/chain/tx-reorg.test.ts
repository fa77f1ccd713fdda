import { expect } from "chai";
import { network } from "hardhat";
import { Wallet, type Provider } from "ethers";
import { connectionFromProvider, type ChainConnection } from "../../orchestrator/chain/connection.js";
import { TxSender } from "../../orchestrator/chain/tx-sender.js";
import { TvmxError } from "../../orchestrator/errors/index.js";
import { MemoryLogger } from "../../orchestrator/log/index.js";
import { HostRegistry__factory, type HostRegistry } from "../../types/ethers-contracts/index.js";

const platform = { teeTcbSvn: `0x${"03".repeat(16)}`, tdxModuleVersion: 0x0105, quoteHash: `0x${"aa".repeat(32)}` };
const fingerprint = `0x${"f1".repeat(32)}`;
const ONE_ETH = 10n ** 18n;
const REORG_LOG = "chain: reorg removed the block of a transaction awaiting confirmations; waiting for it to be mined again";

async function until(predicate: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Reorgs made on a real (in-process EDR) node with evm_snapshot / evm_revert: the block holding a transaction that
 * waits for its confirmations is taken away, and other blocks are mined in its place.
 */
describe("chain/TxSender through a reorg", function () {
  this.timeout(120_000);
  let provider: Provider;
  let registry: HostRegistry;
  let funder: Awaited<ReturnType<Awaited<ReturnType<typeof network.create>>["ethers"]["getSigners"]>>[number];
  const rpc = (method: string, params: unknown[] = []) => (provider as unknown as { send(m: string, p: unknown[]): Promise<unknown> }).send(method, params);

  async function fundedWallet(): Promise<Wallet> {
    const wallet = Wallet.createRandom();
    await (await funder.sendTransaction({ to: wallet.address, value: 10n * ONE_ETH })).wait();
    return new Wallet(wallet.privateKey, provider);
  }
  /** Mines a block every 50 ms until `work` settles (the new chain growing past the reorg). */
  async function mineUntil<T>(work: Promise<T>): Promise<T> {
    let done = false;
    const settled = work.finally(() => (done = true));
    while (!done) {
      await rpc("evm_mine");
      await Promise.race([settled.catch(() => undefined), new Promise((r) => setTimeout(r, 50))]);
    }
    return settled;
  }
  const includedAt = (log: MemoryLogger, label: string, head: (blockNumber: number, head: number) => boolean) =>
    log.records.find((r) => r.msg === "tx included, awaiting confirmations" && r.label === label && head(r.blockNumber as number, r.head as number));

  before(async () => {
    const { ethers } = await network.create();
    provider = ethers.provider;
    [funder] = await ethers.getSigners();
    registry = await new HostRegistry__factory(funder).deploy(await funder!.getAddress(), ONE_ETH, 3600n);
    await registry.waitForDeployment();
  });
  afterEach(async () => {
    await rpc("evm_setAutomine", [true]);
  });

  async function connection(confirmations: number, pollIntervalMs = 20): Promise<ChainConnection> {
    return connectionFromProvider(provider, { url: "edr", confirmations, pollIntervalMs, retry: { retries: 2, baseDelayMs: 5, maxDelayMs: 10 } });
  }

  it("re-sends the same signed transaction when the reorg made the node forget it, and reports the reorg with its depth", async () => {
    const wallet = await fundedWallet();
    const log = new MemoryLogger();
    const sender = new TxSender(await connection(3), wallet, { logger: log });
    const snapshot = await rpc("evm_snapshot");
    const sending = sender.send("HostRegistry.register", registry, "register", ["tcp://127.0.0.1:7500", fingerprint, platform, 2], { value: ONE_ETH });
    // the node mines it at once (automine); one more block, and the sender has seen it 2 deep (of the 3 it needs)
    await until(() => includedAt(log, "HostRegistry.register", () => true) !== undefined, "the transaction to be included");
    const first = includedAt(log, "HostRegistry.register", () => true)!;
    const firstBlock = first.blockNumber as number;
    const firstHash = (await provider.getBlock(firstBlock))!.hash;
    await rpc("evm_mine");
    await until(() => includedAt(log, "HostRegistry.register", (b, h) => h === b + 1) !== undefined, "the sender to see 2 confirmations");
    // the reorg: back to before the transaction (node and pool), then other blocks
    await rpc("evm_revert", [snapshot]);
    expect(await provider.getTransaction(first.hash as string)).to.equal(null);
    const report = await mineUntil(sending);

    expect(report.hash).to.equal(first.hash);
    expect(report.nonce).to.equal(0);
    expect(report.reorgs).to.have.length(1);
    expect(report.reorgs[0]).to.deep.include({ blockNumber: firstBlock, blockHash: firstHash, depth: 2, resent: true });
    // it is in the canonical chain now, confirmed, and its effect is there
    expect((await provider.getBlock(report.blockNumber))!.hash).to.equal(report.receipt.blockHash);
    expect((await provider.getBlockNumber()) - report.blockNumber + 1).to.be.at.least(3);
    expect(await registry.isActive(wallet.address)).to.equal(true);
    expect(await provider.getTransactionCount(wallet.address)).to.equal(1);
    const warned = log.records.find((r) => r.msg === REORG_LOG);
    expect(warned).to.deep.include({ level: "warn", label: "HostRegistry.register", hash: report.hash, depth: 2, blockNumber: firstBlock });
    expect(log.records.some((r) => r.msg === "chain: the node forgot a reorged transaction; re-sent the same signed transaction")).to.equal(true);
    expect(log.records.find((r) => r.msg === "tx mined")).to.deep.include({ reorgs: 1, resent: true });
    // the next transaction takes the next nonce
    const next = await mineUntil(sender.send("HostRegistry.increaseStake", registry, "increaseStake", [], { value: 1n }));
    expect(next.nonce).to.equal(1);
    expect(next.reorgs).to.deep.equal([]);
  });

  it("waits for the transaction to be mined again from the pool when the node kept it, without re-sending", async () => {
    const wallet = await fundedWallet();
    const log = new MemoryLogger();
    const sender = new TxSender(await connection(2), wallet, { logger: log });
    await rpc("evm_setAutomine", [false]);
    const sending = sender.send("HostRegistry.register", registry, "register", ["tcp://127.0.0.1:7501", fingerprint, platform, 2], { value: ONE_ETH });
    await until(() => log.records.some((r) => r.msg === "tx sent"), "the transaction to be sent");
    // the snapshot holds the transaction in the pool: after the revert the node still has it
    const snapshot = await rpc("evm_snapshot");
    await rpc("evm_mine");
    await until(() => includedAt(log, "HostRegistry.register", () => true) !== undefined, "the transaction to be included");
    const firstBlock = includedAt(log, "HostRegistry.register", () => true)!.blockNumber as number;
    await rpc("evm_revert", [snapshot]);
    const pooled = await provider.getTransaction(log.records.find((r) => r.msg === "tx sent")!.hash as string);
    expect(pooled?.blockNumber ?? null, "the node keeps the pool across evm_revert").to.equal(null);
    expect(pooled).to.not.equal(null);
    // the new chain's next block differs from the abandoned one (another timestamp), though it holds the same transaction
    const parent = (await provider.getBlock("latest"))!.timestamp;
    await rpc("evm_mine", [parent + 7]);
    const report = await mineUntil(sending);

    expect(report.reorgs).to.have.length(1);
    expect(report.reorgs[0]).to.deep.include({ blockNumber: firstBlock, depth: 1, resent: false });
    expect(log.records.some((r) => r.msg.startsWith("chain: the node forgot a reorged transaction"))).to.equal(false);
    expect(log.records.some((r) => r.msg === "chain: transaction mined again after a reorg")).to.equal(true);
    expect(await registry.isActive(wallet.address)).to.equal(true);
  });

  it("fails with CHAIN_TX_REORGED, and signs nothing else at that nonce, when another transaction took the nonce in the new chain", async () => {
    const wallet = await fundedWallet();
    const log = new MemoryLogger();
    // A slow poll, so that the other transaction lands between the revert and the sender's next look: the window
    // from the revert to the other transaction's block is a few milliseconds, against a 4 s poll.
    const sender = new TxSender(await connection(3, 4_000), wallet, { logger: log });
    const snapshot = await rpc("evm_snapshot");
    const sending = sender.send("HostRegistry.register", registry, "register", ["tcp://127.0.0.1:7502", fingerprint, platform, 2], { value: ONE_ETH }).catch((e: unknown) => e);
    await until(() => includedAt(log, "HostRegistry.register", () => true) !== undefined, "the transaction to be included");
    const hash = includedAt(log, "HostRegistry.register", () => true)!.hash as string;
    await rpc("evm_revert", [snapshot]);
    // the new chain: the same key spends nonce 0 on a plain transfer
    const other = await wallet.sendTransaction({ to: funder.address, value: 1n, nonce: 0 });
    await other.wait();
    const err = (await mineUntil(sending)) as TvmxError;
    expect(err).to.be.instanceOf(TvmxError);
    expect(err.code).to.equal("CHAIN_TX_REORGED");
    expect(err.message).to.contain("another transaction took its nonce 0");
    expect(err.details).to.deep.include({ hash, nonce: 0 });
    // the chain holds the other transaction at nonce 0 and nothing else from this key; the registration is not there
    expect(await provider.getTransactionCount(wallet.address)).to.equal(1);
    expect(await provider.getTransaction(hash)).to.equal(null);
    expect(await registry.isActive(wallet.address)).to.equal(false);
    expect(log.records.filter((r) => r.msg === "tx sent")).to.have.length(1);
  });
});
