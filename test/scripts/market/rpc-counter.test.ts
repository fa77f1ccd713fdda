import { expect } from "chai";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { blockOfTag, logFilterBlocks, parseRpcCalls, startRpcCounter, tallyCalls } from "../../../scripts/market/rpc-counter.js";

describe("bench:market's counting RPC proxy", () => {
  describe("parsing", () => {
    it("reads a single call and a batch", () => {
      expect(parseRpcCalls('{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}')).to.deep.equal([{ method: "eth_blockNumber", params: [] }]);
      const batch = JSON.stringify([
        { jsonrpc: "2.0", id: 1, method: "eth_chainId" },
        { jsonrpc: "2.0", id: 2, method: "eth_getLogs", params: [{ fromBlock: "0x1", toBlock: "0x10" }] },
      ]);
      expect(parseRpcCalls(batch).map((c) => c.method)).to.deep.equal(["eth_chainId", "eth_getLogs"]);
    });

    it("refuses what is not JSON-RPC", () => {
      expect(() => parseRpcCalls("nope")).to.throw(/not JSON/);
      expect(() => parseRpcCalls('{"id":1}')).to.throw(/not a JSON-RPC call/);
    });

    it("counts the blocks a getLogs filter spans, tags resolved against the head", () => {
      expect(logFilterBlocks({ fromBlock: "0x1", toBlock: "0x10" }, 99)).to.equal(16);
      expect(logFilterBlocks({ fromBlock: "earliest", toBlock: "latest" }, 99)).to.equal(100);
      expect(logFilterBlocks({ fromBlock: "0x20", toBlock: "0x10" }, 99)).to.equal(0);
      expect(logFilterBlocks({ blockHash: "0xab" }, 99)).to.equal(1);
      expect(blockOfTag(undefined, 7)).to.equal(7);
      expect(() => blockOfTag("soon", 7)).to.throw(/not a block tag/);
    });

    it("tallies calls per method and sums getLogs blocks", () => {
      const t = tallyCalls([
        { atMs: 1, method: "eth_blockNumber" },
        { atMs: 2, method: "eth_getLogs", logBlocks: 5 },
        { atMs: 3, method: "eth_getLogs", logBlocks: 2 },
      ]);
      expect(t).to.deep.equal({ requests: 3, byMethod: { eth_blockNumber: 1, eth_getLogs: 2 }, getLogsCalls: 2, getLogsBlocks: 7 });
    });
  });

  describe("in front of a node", () => {
    let node: Server;
    let url: string;
    before(async () => {
      // a stand-in node: the head is block 41, every call answers its method name
      node = createServer((req, res) => {
        let body = "";
        req.on("data", (c: Buffer) => (body += c.toString()));
        req.on("end", () => {
          const call = JSON.parse(body) as { id: number; method: string };
          const result = call.method === "eth_blockNumber" ? "0x29" : call.method;
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: call.id, result }));
        });
      });
      await new Promise<void>((r) => node.listen(0, "127.0.0.1", () => r()));
      url = `http://127.0.0.1:${(node.address() as AddressInfo).port}`;
    });
    after(() => new Promise<void>((r) => node.close(() => r())));

    it("forwards every call unchanged and records it, without counting its own head lookups", async () => {
      const counter = await startRpcCounter(url);
      try {
        const call = async (method: string, params: unknown[] = []) => {
          const res = await fetch(counter.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 7, method, params }) });
          return ((await res.json()) as { result: unknown }).result;
        };
        const from = Date.now();
        expect(await call("eth_chainId")).to.equal("eth_chainId");
        await call("eth_getLogs", [{ fromBlock: "0x20", toBlock: "latest" }]);
        await call("eth_getLogs", [{ fromBlock: "0x0", toBlock: "0x9" }]);
        const t = tallyCalls(counter.callsBetween(from, Date.now() + 1));
        expect(t.byMethod).to.deep.equal({ eth_chainId: 1, eth_getLogs: 2 });
        expect(t.getLogsBlocks).to.equal(10 + 10); // 0x20..0x29 with the head at 41, then 0..9
        expect(counter.callsBetween(0, from)).to.have.length(0);
      } finally {
        await counter.close();
      }
    });
  });
});
