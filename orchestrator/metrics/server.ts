import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { TvmxError } from "../errors/index.js";
import { nullLogger, type Logger } from "../log/index.js";
import type { MetricsRegistry } from "./registry.js";

export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export interface MetricsServer {
  /** The port actually bound (useful with port 0). */
  port: number;
  url: string;
  close(): Promise<void>;
}

/** Serves `GET /metrics` on 127.0.0.1:`port` (0 = a free port). Other paths: 404; other methods: 405. */
export async function startMetricsServer(registry: MetricsRegistry, options: { port: number; logger?: Logger }): Promise<MetricsServer> {
  const logger = options.logger ?? nullLogger;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0];
    if (path !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found: try /metrics\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end("method not allowed\n");
      return;
    }
    let body: string;
    try {
      body = registry.render();
    } catch (err) {
      logger.error("metrics: render failed", { err });
      res.writeHead(500, { "content-type": "text/plain" }).end("render failed\n");
      return;
    }
    res.writeHead(200, { "content-type": METRICS_CONTENT_TYPE }).end(req.method === "HEAD" ? undefined : body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) =>
      reject(new TvmxError("METRICS_LISTEN", `cannot listen for metrics on 127.0.0.1:${options.port}`, { details: { port: options.port }, cause: err })),
    );
    server.listen(options.port, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  logger.info("metrics listening", { url: `http://127.0.0.1:${port}/metrics` });
  return {
    port,
    url: `http://127.0.0.1:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
