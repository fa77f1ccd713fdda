import { expect } from "chai";
import type { Provider } from "ethers";
import { memoryCursor, watchLogs } from "../../orchestrator/chain/log-watcher.js";
import { MemoryLogger } from "../../orchestrator/log/index.js";

/**
 * A chain of block hashes the test rewrites (a reorg), behind the few Provider calls the watcher makes, each counted.
 * No logs: what is measured is what a poll costs, and whether a replaced block is still noticed.
 */
function fakeChain(length: number) {
  const hashes: string[] = Array.from({ length }, (_, i) => hashOf(i, "a"));
  const calls: Record<string, number> = {};
  const count = (m: string) => (calls[m] = (calls[m] ?? 0) + 1);
  const block = (n: number) => (n < hashes.length ? { number: n, hash: hashes[n]!, parentHash: n > 0 ? hashes[n - 1]! : hashOf(0, "genesis-parent") } : null);
  const provider = {
    getBlock: async (tag: number | string) => {
      count("getBlock");
      return block(tag === "latest" ? hashes.length - 1 : Number(tag));
    },
    getBlockNumber: async () => {
      count("getBlockNumber");
      return hashes.length - 1;
    },
    getLogs: async () => {
      count("getLogs");
      return [];
    },
  } as unknown as Provider;
  return { provider, hashes, calls };
}

function hashOf(n: number, fork: string): string {
  return `0x${Buffer.from(`${fork}:${n}`).toString("hex").padEnd(64, "0").slice(0, 64)}`;
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("chain/the log watcher's cost per poll", () => {
  it("makes one call per poll while the chain does not move, and scans each new block once", async () => {
    const chain = fakeChain(10);
    const cursor = memoryCursor();
    const unwatch = watchLogs({ provider: chain.provider, name: "t", address: "0x0000000000000000000000000000000000000001", fromBlock: 1, cursor, pollIntervalMs: 10, onLog: () => {} });
    try {
      while ((cursor.value ?? 0) < 9) await wait(5);
      const settled = { ...chain.calls };
      await wait(200);
      const idle = { getBlock: (chain.calls.getBlock ?? 0) - (settled.getBlock ?? 0), getLogs: (chain.calls.getLogs ?? 0) - (settled.getLogs ?? 0) };
      expect(idle.getBlock).to.be.greaterThan(3); // it kept polling...
      expect(idle.getLogs).to.equal(0); // ...with nothing new to scan
      expect(chain.calls.getBlockNumber ?? 0).to.equal(0);
      // a new block: one getLogs over it, and no check of the remembered range ends (the new head's parent is the old head)
      const before = { ...chain.calls };
      chain.hashes.push(hashOf(10, "a"));
      while ((cursor.value as number) < 10) await wait(5);
      expect((chain.calls.getLogs ?? 0) - (before.getLogs ?? 0)).to.equal(1);
    } finally {
      await unwatch();
    }
  });

  it("still notices a reorg that replaces handled blocks without changing the height, and scans them again", async () => {
    const chain = fakeChain(10);
    const cursor = memoryCursor();
    const logger = new MemoryLogger();
    const unwatch = watchLogs({ provider: chain.provider, name: "t", address: "0x0000000000000000000000000000000000000001", fromBlock: 1, cursor, pollIntervalMs: 10, onLog: () => {}, logger });
    try {
      chain.hashes.push(hashOf(10, "a"), hashOf(11, "a"));
      while ((cursor.value ?? 0) < 11) await wait(5);
      // blocks 10 and 11 (both handled, 11 a remembered range end) replaced by another fork of the same height
      chain.hashes.splice(10, 2, hashOf(10, "b"), hashOf(11, "b"));
      const start = Date.now();
      while (!logger.records.some((r) => r.msg === "watcher: reorg below the cursor; scanning the replaced blocks again") && Date.now() - start < 5_000) await wait(5);
      const line = logger.records.find((r) => r.msg === "watcher: reorg below the cursor; scanning the replaced blocks again");
      expect(line, "the reorg was noticed").to.not.equal(undefined);
      while ((cursor.value ?? 0) < 11) await wait(5);
    } finally {
      await unwatch();
    }
  });
});
