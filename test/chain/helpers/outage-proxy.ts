import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A JSON-RPC proxy in front of a node that a test can take down and bring back: while `down`, every request is
 * answered by dropping the connection (the client sees "socket hang up", as from a node that went away), and
 * the node keeps its state. Every request is recorded with its time, so a test can tell when the last attempt
 * was made.
 */
export interface OutageProxy {
  url: string;
  down: boolean;
  requests: { at: number; method: string; down: boolean }[];
  close(): Promise<void>;
}

export async function startOutageProxy(target: string): Promise<OutageProxy> {
  const proxy: OutageProxy = { url: "", down: false, requests: [], close: async () => {} };
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", async () => {
      const parsed = JSON.parse(body || "{}") as { method?: string } | { method?: string }[];
      const method = Array.isArray(parsed) ? parsed.map((c) => c.method).join(",") : String(parsed.method);
      proxy.requests.push({ at: Date.now(), method, down: proxy.down });
      if (proxy.down) {
        req.socket.destroy();
        return;
      }
      try {
        const answer = await (await fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body })).text();
        res.writeHead(200, { "content-type": "application/json" }).end(answer);
      } catch (err) {
        res.writeHead(502).end(String(err));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy;
}
