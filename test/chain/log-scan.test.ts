import { expect } from "chai";
import { Wallet, type JsonRpcProvider } from "ethers";
import { connectChain, type ChainConnection } from "../../orchestrator/chain/connection.js";
import { HostRegistryClient } from "../../orchestrator/chain/contracts/index.js";
import { startLocalNode, type LocalNode } from "../../orchestrator/chain/local-node.js";
import { isRangeRefusal, scanLogs } from "../../orchestrator/chain/log-scan.js";
import { memoryCursor, watchLogs } from "../../orchestrator/chain/log-watcher.js";
import { ChainHostDirectory } from "../../orchestrator/host/chain-directory.js";
import { HostRegistry__factory, type HostRegistry } from "../../types/ethers-contracts/index.js";
import { startRangeProxy, type RangeProxy } from "./helpers/range-proxy.js";

// The first default account of a Hardhat node (public test key).
const DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const platform = { teeTcbSvn: `0x${"03".repeat(16)}`, tdxModuleVersion: 0x0105, quoteHash: `0x${"aa".repeat(32)}` };
const ONE_ETH = 10n ** 18n;
const HOSTS = 6;

/**
 * Log scans against a provider that refuses large requests, as public RPC endpoints do: a proxy in front of a
 * real node refuses eth_getLogs over more than 100 blocks (or with more than 2 results), and the scans still
 * find every log, in order, from the deployment block on.
 */
describe("chain/log scans through a provider that refuses large ranges", function () {
  this.timeout(120_000);
  let node: LocalNode;
  let direct: ChainConnection;
  let registry: HostRegistry;
  let deploymentBlock: number;
  const hosts: string[] = [];
  const proxies: RangeProxy[] = [];
  const connections: ChainConnection[] = [];

  before(async () => {
    node = await startLocalNode();
    direct = await connectChain({ rpcUrl: node.url, confirmations: 1, pollIntervalMs: 25, rpcRetries: 3 });
    await (direct.provider as JsonRpcProvider).send("hardhat_mine", ["0x1f4"]); // 500 blocks of history before the deployment
    deploymentBlock = await direct.provider.getBlockNumber();
    const deployer = new Wallet(DEV_KEY, direct.provider);
    registry = await new HostRegistry__factory(deployer).deploy(deployer.address, ONE_ETH, 3600n);
    await registry.waitForDeployment();
    // hosts register ~300 blocks apart, so the history spans far more than one allowed range
    for (let i = 0; i < HOSTS; i++) {
      const host = Wallet.createRandom().connect(direct.provider);
      await (await deployer.sendTransaction({ to: host.address, value: 2n * ONE_ETH })).wait();
      await (await registry.connect(host).register(`tcp://h${i}:1`, `0x${"f1".repeat(32)}`, platform, 2, { value: ONE_ETH })).wait();
      hosts.push(host.address);
      await (direct.provider as JsonRpcProvider).send("hardhat_mine", ["0x12c"]);
    }
  });
  after(async () => {
    for (const c of connections) c.close();
    for (const p of proxies) await p.close();
    direct?.close();
    await node?.stop();
  });

  async function through(limit: { maxBlocks?: number; maxResults?: number }): Promise<{ proxy: RangeProxy; chain: ChainConnection }> {
    const proxy = await startRangeProxy(node.url, limit);
    proxies.push(proxy);
    const chain = await connectChain({ rpcUrl: proxy.url, confirmations: 1, pollIntervalMs: 25, rpcRetries: 3 });
    connections.push(chain);
    return { proxy, chain };
  }

  const registeredTopic = () => registry.interface.getEvent("HostRegistered")!.topicHash;
  const registeredIn = (logs: { topics: readonly string[] }[]) => logs.map((l) => `0x${l.topics[1]!.slice(26)}`.toLowerCase());

  it("finds every log when ranges over 100 blocks are refused, shrinking the range and keeping it", async () => {
    const { proxy, chain } = await through({ maxBlocks: 100 });
    const head = await chain.provider.getBlockNumber();
    const { logs, stats } = await scanLogs(chain.provider, { address: await registry.getAddress(), topics: [registeredTopic()] }, { fromBlock: deploymentBlock, toBlock: head });
    expect(registeredIn(logs)).to.deep.equal(hosts.map((h) => h.toLowerCase()));
    expect(stats.range).to.be.at.most(100);
    // ~1,800 blocks -> 900 -> 450 -> 225 -> 112 -> 56: five refusals, then none (the range that worked is kept)
    expect(stats.refusals).to.equal(5);
    expect(proxy.stats.refused).to.equal(5);
    expect(stats.requests).to.equal(stats.refusals + Math.ceil((head - deploymentBlock + 1) / stats.range));
    // nothing before the deployment block was asked for
    expect(Math.min(...proxy.stats.ranges.map(([from]) => from))).to.equal(deploymentBlock);
  });

  it("finds every log when an answer with more than 2 results is refused", async () => {
    const { proxy, chain } = await through({ maxResults: 2 });
    const { logs, stats } = await scanLogs(
      chain.provider,
      { address: await registry.getAddress(), topics: [registeredTopic()] },
      { fromBlock: deploymentBlock, toBlock: await chain.provider.getBlockNumber() },
    );
    expect(registeredIn(logs)).to.deep.equal(hosts.map((h) => h.toLowerCase()));
    expect(stats.refusals).to.be.greaterThan(0);
    expect(proxy.stats.refused).to.equal(stats.refusals);
  });

  it("host discovery finds every active host through the refusing proxy, from the deployment block", async () => {
    const { proxy, chain } = await through({ maxBlocks: 100 });
    const directory = new ChainHostDirectory(new HostRegistryClient(chain, await registry.getAddress()));
    const active = await directory.activeHosts(chain.provider, { fromBlock: deploymentBlock, confirmations: 1 });
    expect(active.map((h) => h.address).sort()).to.deep.equal([...hosts].sort());
    expect(proxy.stats.refused).to.be.greaterThan(0);
    // with 2 confirmations the scan stops one block short of the head
    const head = await chain.provider.getBlockNumber();
    await directory.activeHosts(chain.provider, { fromBlock: deploymentBlock, confirmations: 2 });
    expect(Math.max(...proxy.stats.ranges.slice(-20).map(([, to]) => to))).to.equal(head - 1);
  });

  it("a watcher catches up over the whole history through the refusing proxy", async () => {
    const { chain } = await through({ maxBlocks: 100 });
    const seen: string[] = [];
    const cursor = memoryCursor();
    const head = await chain.provider.getBlockNumber();
    const unwatch = watchLogs({
      provider: chain.provider,
      name: "test",
      address: await registry.getAddress(),
      topics: [registeredTopic()],
      fromBlock: deploymentBlock,
      cursor,
      pollIntervalMs: 25,
      onLog: (log) => void seen.push(`0x${log.topics[1]!.slice(26)}`.toLowerCase()),
    });
    try {
      const start = Date.now();
      while ((cursor.value ?? 0) < head && Date.now() - start < 30_000) await new Promise((r) => setTimeout(r, 25));
    } finally {
      await unwatch();
    }
    expect(seen).to.deep.equal(hosts.map((h) => h.toLowerCase()));
  });

  it("tells a range refusal from other errors, which are not retried over smaller ranges", async () => {
    expect(isRangeRefusal({ error: { code: -32005, message: "limit exceeded" } })).to.equal(true);
    expect(isRangeRefusal(new Error("query returned more than 10000 results. Try with this block range [0x1, 0x2]"))).to.equal(true);
    expect(isRangeRefusal(new Error("eth_getLogs block range is too large, max is 1k blocks"))).to.equal(true);
    expect(isRangeRefusal(new Error("invalid address"))).to.equal(false);
    let calls = 0;
    const failing = { getLogs: async () => (calls++, Promise.reject(new Error("invalid filter"))) } as unknown as ChainConnection["provider"];
    const err = await scanLogs(failing, {}, { fromBlock: 0, toBlock: 10_000 }).catch((e: unknown) => e as Error);
    expect((err as Error).message).to.equal("invalid filter");
    expect(calls).to.equal(1);
  });
});
