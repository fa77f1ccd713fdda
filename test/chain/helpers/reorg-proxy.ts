import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** One JSON-RPC call as the proxy sees it. */
export interface RpcCall {
  id: unknown;
  method: string;
  params: unknown[];
}

/**
 * A JSON-RPC proxy in front of a node that lets a test act at an exact point of a client's conversation: `beforeCall`
 * runs before a call is forwarded (the answer then comes from the chain as the hook left it), `beforeAnswer` after the
 * node answered and before the client gets that answer (which may by then describe a chain that is gone). A test makes
 * a reorg in a hook with evm_revert and evm_mine on the node directly.
 */
export interface ReorgProxy {
  url: string;
  beforeCall?: (call: RpcCall) => Promise<void> | void;
  beforeAnswer?: (call: RpcCall, answer: { result?: unknown; error?: unknown }) => Promise<void> | void;
  close(): Promise<void>;
}

export async function startReorgProxy(target: string): Promise<ReorgProxy> {
  const forward = async (body: string) => (await fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body })).text();
  const proxy: ReorgProxy = { url: "", close: async () => {} };
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", async () => {
      try {
        const call = JSON.parse(body) as RpcCall;
        await proxy.beforeCall?.(call);
        const answer = await forward(body);
        await proxy.beforeAnswer?.(call, JSON.parse(answer) as { result?: unknown; error?: unknown });
        res.writeHead(200, { "content-type": "application/json" }).end(answer);
      } catch (err) {
        res.writeHead(502).end(String(err));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () => new Promise((resolve) => server.close(() => resolve()));
  return proxy;
}
