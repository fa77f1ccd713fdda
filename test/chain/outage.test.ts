import { expect } from "chai";
import { Wallet } from "ethers";
import { connectChain, type ChainConnection } from "../../orchestrator/chain/connection.js";
import { freePort, startLocalNode, type LocalNode } from "../../orchestrator/chain/local-node.js";
import { memoryCursor, watchEvents } from "../../orchestrator/chain/log-watcher.js";
import { TxSender } from "../../orchestrator/chain/tx-sender.js";
import { TvmxError } from "../../orchestrator/errors/index.js";
import { MemoryLogger } from "../../orchestrator/log/index.js";
import { HostRegistry__factory, type HostRegistry } from "../../types/ethers-contracts/index.js";
import { startTcpProxy, type TcpProxy } from "./helpers/tcp-proxy.js";

// The first default account of a Hardhat node (public test key).
const DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const platform = { teeTcbSvn: `0x${"03".repeat(16)}`, tdxModuleVersion: 0x0105, quoteHash: `0x${"aa".repeat(32)}` };
const fingerprint = `0x${"f1".repeat(32)}`;
const ONE_ETH = 10n ** 18n;
const endpoint = (url: string, rpcRetries = 20) => ({ rpcUrl: url, confirmations: 1, pollIntervalMs: 25, rpcRetries });
const fastRetry = { baseDelayMs: 25, maxDelayMs: 100 };

async function until(predicate: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("chain against a real node that goes away", function () {
  this.timeout(120_000);
  let node: LocalNode;
  let proxy: TcpProxy;
  let direct: ChainConnection;
  let registry: HostRegistry;

  before(async () => {
    node = await startLocalNode();
    proxy = await startTcpProxy(node.port);
    direct = await connectChain(endpoint(node.url), { retry: fastRetry });
    const deployer = new Wallet(DEV_KEY, direct.provider);
    registry = await new HostRegistry__factory(deployer).deploy(deployer.address, ONE_ETH, 3600n);
    await registry.waitForDeployment();
  });
  after(async () => {
    direct?.close();
    await proxy?.close();
    await node?.stop();
  });

  async function freshHost(): Promise<Wallet> {
    const wallet = Wallet.createRandom();
    const deployer = new Wallet(DEV_KEY, direct.provider);
    await (await deployer.sendTransaction({ to: wallet.address, value: 5n * ONE_ETH })).wait();
    return new Wallet(wallet.privateKey);
  }

  it("says clearly that the chain is unreachable when nothing listens", async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const err = (await connectChain(endpoint(url, 2), { retry: { baseDelayMs: 5, maxDelayMs: 5 } }).catch((e: unknown) => e)) as TvmxError;
    expect(err).to.be.instanceOf(TvmxError);
    expect(err.code).to.equal("CHAIN_RPC_UNAVAILABLE");
    expect(err.message).to.equal(`chain RPC unavailable at ${url}: eth_chainId failed after 3 attempt(s)`);
  });

  it("refuses a node with another chain id than expected", async () => {
    const err = (await connectChain(endpoint(node.url), { expectChainId: 1n }).catch((e: unknown) => e)) as TvmxError;
    expect(err.code).to.equal("CHAIN_WRONG_NETWORK");
  });

  it("sends a transaction through an RPC outage once the node answers again", async () => {
    const log = new MemoryLogger();
    const viaProxy = await connectChain(endpoint(proxy.url), { retry: fastRetry, logger: log });
    try {
      const host = await freshHost();
      const sender = new TxSender(viaProxy, host, { logger: log });
      await proxy.cut();
      const pending = sender.send("register", registry, "register", ["tcp://a:1", fingerprint, platform, 2], { value: ONE_ETH });
      await new Promise((r) => setTimeout(r, 300));
      await proxy.restore();
      const report = await pending;
      expect(report.blockNumber).to.be.greaterThan(0);
      expect(await registry.isActive(host.address)).to.equal(true);
      expect(log.find("chain: RPC failed, retrying").length).to.be.greaterThan(0);
    } finally {
      viaProxy.close();
    }
  });

  it("gives up with CHAIN_RPC_UNAVAILABLE when the outage outlasts its retries", async () => {
    const viaProxy = await connectChain(endpoint(proxy.url, 2), { retry: { baseDelayMs: 10, maxDelayMs: 10 } });
    try {
      const host = await freshHost();
      const sender = new TxSender(viaProxy, host);
      await proxy.cut();
      const err = (await sender.send("register", registry, "register", ["tcp://a:1", fingerprint, platform, 2], { value: ONE_ETH }).catch((e: unknown) => e)) as TvmxError;
      expect(err).to.be.instanceOf(TvmxError);
      expect(err.code).to.equal("CHAIN_RPC_UNAVAILABLE");
      expect(err.message).to.contain(proxy.url);
    } finally {
      await proxy.restore();
      viaProxy.close();
    }
  });

  it("keeps watching through an outage and delivers what happened meanwhile", async () => {
    const log = new MemoryLogger();
    const viaProxy = await connectChain(endpoint(proxy.url), { retry: fastRetry });
    const cursor = memoryCursor();
    const hosts: string[] = [];
    const unwatch = watchEvents({
      provider: viaProxy.provider,
      name: "hosts",
      address: await registry.getAddress(),
      iface: registry.interface,
      events: ["HostRegistered"],
      fromBlock: (await direct.provider.getBlockNumber()) + 1,
      cursor,
      pollIntervalMs: 25,
      retry: { retries: Number.POSITIVE_INFINITY, ...fastRetry },
      logger: log,
      onEvent: (e) => {
        hosts.push(e.args.host as string);
      },
    });
    try {
      await proxy.cut();
      // Events happen while the watcher cannot see the node.
      const a = await freshHost();
      const b = await freshHost();
      await new TxSender(direct, a).send("register", registry, "register", ["tcp://a:1", fingerprint, platform, 1], { value: ONE_ETH });
      await new TxSender(direct, b).send("register", registry, "register", ["tcp://b:1", fingerprint, platform, 1], { value: ONE_ETH });
      await until(() => log.find("watcher: RPC unavailable, retrying").length > 0, "the outage to be noticed");
      await proxy.restore();
      await until(() => hosts.length === 2, "both registrations");
      expect(hosts).to.deep.equal([a.address, b.address]);
      expect(log.find("watcher: RPC answering again, resuming")).to.have.length(1);
    } finally {
      await unwatch();
      viaProxy.close();
    }
  });

  it("survives the node being killed and restarted, and reports the chain it lost", async () => {
    // A second node of our own, so the shared one stays up for the other tests.
    const own = await startLocalNode();
    const log = new MemoryLogger();
    const chain = await connectChain(endpoint(own.url), { retry: fastRetry });
    const cursor = memoryCursor(5);
    let polled = false;
    const unwatch = watchEvents({
      provider: chain.provider,
      name: "restart",
      address: await registry.getAddress(),
      iface: registry.interface,
      events: ["HostRegistered"],
      fromBlock: 0,
      cursor,
      pollIntervalMs: 25,
      retry: { retries: Number.POSITIVE_INFINITY, ...fastRetry },
      logger: log,
      onEvent: () => {
        polled = true;
      },
    });
    try {
      await until(() => log.find("watcher: chain head is behind the cursor (node restarted?), waiting").length === 1, "head-behind report");
      await own.kill();
      await until(() => log.find("watcher: RPC unavailable, retrying").length === 1, "outage report");
      const again = await startLocalNode({ port: own.port });
      try {
        await until(() => log.find("watcher: RPC answering again, resuming").length === 1, "recovery");
        expect(polled).to.equal(false);
      } finally {
        await again.stop();
      }
    } finally {
      await unwatch();
      chain.close();
      await own.stop();
    }
  });
});
