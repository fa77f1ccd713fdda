/**
 * A counting JSON-RPC proxy: put in front of a node for one host only (its config's `chain.rpcUrl`), it forwards
 * every request unchanged and records each JSON-RPC call it carried: when, which method, and for eth_getLogs the
 * number of blocks the filter spans. The benchmark reads the calls made between two instants (`callsBetween`).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One JSON-RPC call as the proxy saw it. */
export interface RpcCallRecord {
  /** Wall-clock time (ms since the epoch) the request arrived. */
  atMs: number;
  method: string;
  /** eth_getLogs only: blocks from fromBlock to toBlock, inclusive (0 for an empty range). */
  logBlocks?: number;
}

/** The calls of one request body: a single call or a batch (an array). Anything else is not JSON-RPC. */
export function parseRpcCalls(body: string): { method: string; params: unknown[] }[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new Error(`not JSON: ${body.slice(0, 80)}`);
  }
  const calls = Array.isArray(parsed) ? parsed : [parsed];
  return calls.map((c: unknown) => {
    const call = c as { method?: unknown; params?: unknown };
    if (typeof call !== "object" || call === null || typeof call.method !== "string") throw new Error(`not a JSON-RPC call: ${JSON.stringify(c).slice(0, 80)}`);
    return { method: call.method, params: Array.isArray(call.params) ? call.params : [] };
  });
}

/** A block tag of a filter as a number: hex quantities as they are, "latest"/"pending"/absent as `head`, "earliest" as 0. */
export function blockOfTag(tag: unknown, head: number): number {
  if (tag === undefined || tag === null || tag === "latest" || tag === "pending" || tag === "safe" || tag === "finalized") return head;
  if (tag === "earliest") return 0;
  if (typeof tag === "string" && /^0x[0-9a-fA-F]+$/.test(tag)) return Number(BigInt(tag));
  if (typeof tag === "number" && Number.isSafeInteger(tag)) return tag;
  throw new Error(`not a block tag: ${JSON.stringify(tag)}`);
}

/** Whether a filter names a block by tag (so the head is needed to know its range). */
export function filterNeedsHead(filter: { fromBlock?: unknown; toBlock?: unknown; blockHash?: unknown }): boolean {
  if (filter.blockHash !== undefined) return false;
  const numeric = (t: unknown) => typeof t === "number" || (typeof t === "string" && /^0x[0-9a-fA-F]+$/.test(t)) || t === "earliest";
  return !numeric(filter.fromBlock) || !numeric(filter.toBlock);
}

/** Blocks an eth_getLogs filter spans (a blockHash filter spans one). */
export function logFilterBlocks(filter: { fromBlock?: unknown; toBlock?: unknown; blockHash?: unknown }, head: number): number {
  if (filter.blockHash !== undefined) return 1;
  const from = blockOfTag(filter.fromBlock, head);
  const to = blockOfTag(filter.toBlock, head);
  return Math.max(0, to - from + 1);
}

/** Per-method counts and getLogs blocks of a list of calls. */
export function tallyCalls(calls: readonly RpcCallRecord[]): { requests: number; byMethod: Record<string, number>; getLogsCalls: number; getLogsBlocks: number } {
  const byMethod: Record<string, number> = {};
  let getLogsBlocks = 0;
  for (const c of calls) {
    byMethod[c.method] = (byMethod[c.method] ?? 0) + 1;
    if (c.logBlocks !== undefined) getLogsBlocks += c.logBlocks;
  }
  return { requests: calls.length, byMethod, getLogsCalls: byMethod.eth_getLogs ?? 0, getLogsBlocks };
}

export interface RpcCounter {
  url: string;
  /** Every call recorded so far (in the order recorded). */
  readonly calls: readonly RpcCallRecord[];
  /** The calls that arrived in [fromMs, toMs). */
  callsBetween(fromMs: number, toMs: number): RpcCallRecord[];
  close(): Promise<void>;
}

/** Starts the proxy on 127.0.0.1 (a free port) in front of `target` (a node's HTTP JSON-RPC URL). */
export async function startRpcCounter(target: string): Promise<RpcCounter> {
  const calls: RpcCallRecord[] = [];
  const post = async (body: string) => {
    const res = await fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body });
    return { status: res.status, text: await res.text() };
  };
  // Only a filter with a tag needs the head; the proxy asks the node itself (not counted: the host did not ask).
  const head = async () => Number(BigInt((JSON.parse((await post(JSON.stringify({ jsonrpc: "2.0", id: 0, method: "eth_blockNumber", params: [] }))).text) as { result: string }).result));
  const record = async (body: string, atMs: number) => {
    let parsed: { method: string; params: unknown[] }[];
    try {
      parsed = parseRpcCalls(body);
    } catch {
      calls.push({ atMs, method: "(not JSON-RPC)" });
      return;
    }
    for (const c of parsed) {
      if (c.method !== "eth_getLogs") {
        calls.push({ atMs, method: c.method });
        continue;
      }
      const filter = (c.params[0] ?? {}) as { fromBlock?: unknown; toBlock?: unknown; blockHash?: unknown };
      let logBlocks: number;
      try {
        logBlocks = logFilterBlocks(filter, filterNeedsHead(filter) ? await head() : 0);
      } catch {
        logBlocks = 0;
      }
      calls.push({ atMs, method: c.method, logBlocks });
    }
  };
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const atMs = Date.now();
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      void (async () => {
        try {
          const [answer] = await Promise.all([post(body), record(body, atMs)]);
          res.writeHead(answer.status, { "content-type": "application/json" }).end(answer.text);
        } catch (err) {
          // The node is unreachable: the host sees what it would see from a failing gateway.
          res.writeHead(502, { "content-type": "text/plain" }).end(String(err));
        }
      })();
    });
  };
  const server: Server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    callsBetween: (fromMs, toMs) => calls.filter((c) => c.atMs >= fromMs && c.atMs < toMs),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
