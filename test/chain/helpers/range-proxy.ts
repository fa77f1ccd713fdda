import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A JSON-RPC proxy in front of a node that answers eth_getLogs the way public providers do: a range wider than
 * `maxBlocks` is refused with "block range too large" (code -32005), or, in "results" mode, an answer with more
 * than `maxResults` logs is refused with "query returned more than N results". Every other call is forwarded.
 */
export interface RangeProxy {
  url: string;
  /** eth_getLogs requests seen, and how many were refused. */
  stats: { getLogs: number; refused: number; ranges: [number, number][] };
  close(): Promise<void>;
}

export async function startRangeProxy(target: string, limit: { maxBlocks?: number; maxResults?: number }): Promise<RangeProxy> {
  const stats: RangeProxy["stats"] = { getLogs: 0, refused: 0, ranges: [] };
  const forward = async (body: string) => (await fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body })).text();
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", async () => {
      try {
        const call = JSON.parse(body) as { id: unknown; method: string; params: { fromBlock: string; toBlock: string }[] };
        let answer: string;
        if (call.method === "eth_getLogs") {
          stats.getLogs++;
          const head = Number(JSON.parse(await forward(JSON.stringify({ jsonrpc: "2.0", id: 0, method: "eth_blockNumber", params: [] }))).result);
          const from = blockOf(call.params[0]!.fromBlock, head);
          const to = blockOf(call.params[0]!.toBlock, head);
          stats.ranges.push([from, to]);
          if (limit.maxBlocks !== undefined && to - from + 1 > limit.maxBlocks) {
            stats.refused++;
            answer = JSON.stringify({ jsonrpc: "2.0", id: call.id, error: { code: -32005, message: `block range too large: ${to - from + 1} > ${limit.maxBlocks}` } });
          } else {
            answer = await forward(body);
            const logs = (JSON.parse(answer) as { result?: unknown[] }).result;
            if (limit.maxResults !== undefined && Array.isArray(logs) && logs.length > limit.maxResults) {
              stats.refused++;
              answer = JSON.stringify({ jsonrpc: "2.0", id: call.id, error: { code: -32602, message: `query returned more than ${limit.maxResults} results` } });
            }
          }
        } else {
          answer = await forward(body);
        }
        res.writeHead(200, { "content-type": "application/json" }).end(answer);
      } catch (err) {
        res.writeHead(502).end(String(err));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function blockOf(tag: string | undefined, head: number): number {
  if (tag === undefined || tag === "latest" || tag === "pending") return head;
  if (tag === "earliest") return 0;
  return Number(tag);
}
