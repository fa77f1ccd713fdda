import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { isTvmxError, TvmxError } from "../errors/index.js";
import { nullLogger, toJsonSafe, type Logger } from "../log/index.js";
import { tokenMatches } from "./token.js";

/**
 * The host's control API: HTTP/JSON on 127.0.0.1 only, every request authenticated with
 * `Authorization: Bearer <token>`. Routes are declared by the host; this module does transport, auth,
 * body parsing, and the mapping of typed errors to HTTP statuses:
 *   400 CONTROL_BAD_REQUEST / CONTROL_BAD_PATH / *_INVALID   401 missing or wrong token   404 *_NOT_FOUND
 *   409 a state conflict (HOST_BUSY, *_WRONG_PHASE)   500 anything else.
 * Error responses carry `{ "error": TvmxError.toJSON() }`, which the client turns back into a TvmxError.
 */

export type HttpMethod = "GET" | "POST" | "DELETE";

export interface ControlRequest {
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  signal: AbortSignal;
}

export interface ControlRoute {
  method: HttpMethod;
  /** A path pattern such as "/v1/tds/:id". */
  path: string;
  handler: (req: ControlRequest) => Promise<unknown> | unknown;
}

export interface ControlServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

export const MAX_BODY_BYTES = 1024 * 1024;

interface CompiledRoute extends ControlRoute {
  pattern: RegExp;
  names: string[];
}

function compile(route: ControlRoute): CompiledRoute {
  const names: string[] = [];
  const source = route.path
    .split("/")
    .map((seg) => {
      if (!seg.startsWith(":")) return seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      names.push(seg.slice(1));
      return "([^/]+)";
    })
    .join("/");
  return { ...route, pattern: new RegExp(`^${source}$`), names };
}

export function statusFor(err: unknown): number {
  if (!isTvmxError(err)) return 500;
  const code = err.code;
  if (code === "CONTROL_BAD_REQUEST" || code === "CONTROL_BAD_PATH" || code.endsWith("_INVALID") || code === "CLI_BAD_ARGUMENT") return 400;
  if (code === "CONTROL_UNAUTHORIZED") return 401;
  if (code.endsWith("_NOT_FOUND")) return 404;
  if (code === "HOST_BUSY" || code.endsWith("_WRONG_PHASE") || code === "HOST_NO_CAPACITY" || code === "HOST_SHUTTING_DOWN" || code === "CHAIN_CANCELLED") return 409;
  return 500;
}

export async function startControlServer(options: { port: number; token: string; routes: readonly ControlRoute[]; logger?: Logger }): Promise<ControlServer> {
  const logger = options.logger ?? nullLogger;
  const routes = options.routes.map(compile);
  const inFlight = new AbortController();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const remote = req.socket.remoteAddress ?? "";
    if (remote !== "127.0.0.1" && remote !== "::1" && remote !== "::ffff:127.0.0.1") {
      // Unreachable while we bind 127.0.0.1; kept so that a change of bind address cannot expose the API.
      return send(res, 403, { error: { code: "CONTROL_UNAUTHORIZED", message: "loopback only" } });
    }
    const auth = req.headers.authorization ?? "";
    const presented = auth.startsWith("Bearer ") ? auth.slice(7).trim() : "";
    if (!tokenMatches(presented, options.token)) {
      logger.warn("control: request with a missing or wrong token", { method: req.method, url: req.url });
      return sendError(res, new TvmxError("CONTROL_UNAUTHORIZED", "missing or wrong control token", {}));
    }
    const url = parseRequestUrl(req.url);
    const candidates = routes.filter((r) => r.pattern.test(url.pathname));
    if (candidates.length === 0) return sendError(res, new TvmxError("CONTROL_NOT_FOUND", `no such endpoint: ${url.pathname}`, { details: { path: url.pathname } }));
    const route = candidates.find((r) => r.method === req.method);
    if (!route) {
      res.setHeader("allow", candidates.map((r) => r.method).join(", "));
      return send(res, 405, { error: { code: "CONTROL_BAD_REQUEST", message: `method ${req.method} not allowed on ${url.pathname}` } });
    }
    const match = route.pattern.exec(url.pathname)!;
    const params: Record<string, string> = {};
    route.names.forEach((name, i) => {
      params[name] = decodePathSegment(match[i + 1]!);
    });
    const body = await readJsonBody(req);
    const result = await route.handler({ params, query: url.searchParams, body, signal: inFlight.signal });
    send(res, 200, result ?? null);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = statusFor(err);
      if (status >= 500) logger.error("control: request failed", { method: req.method, url: req.url, err });
      else logger.info("control: request refused", { method: req.method, url: req.url, code: isTvmxError(err) ? err.code : undefined });
      sendError(res, err);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) =>
      reject(new TvmxError("CONTROL_LISTEN", `cannot listen for the control API on 127.0.0.1:${options.port}`, { details: { port: options.port }, cause: err })),
    );
    server.listen(options.port, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  logger.info("control API listening", { url: `http://127.0.0.1:${port}` });
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        inFlight.abort();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** The request target as a URL; a target that does not parse (e.g. "//host:port-less") is the client's fault. */
function parseRequestUrl(target: string | undefined): URL {
  try {
    return new URL(target ?? "/", "http://127.0.0.1");
  } catch (err) {
    throw new TvmxError("CONTROL_BAD_PATH", "the request path is not a valid URL path", { cause: err });
  }
}

/** A percent-decoded path parameter; broken encoding (`%E0%A4%A`) is a 400, not a URIError and a 500. */
function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch (err) {
    throw new TvmxError("CONTROL_BAD_PATH", "a path segment is not valid percent-encoded UTF-8", { details: { segment: segment.slice(0, 200) }, cause: err });
  }
}

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new TvmxError("CONTROL_BAD_REQUEST", `request body larger than ${MAX_BODY_BYTES} bytes`, { details: { limit: MAX_BODY_BYTES } });
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch (err) {
    throw new TvmxError("CONTROL_BAD_REQUEST", "request body is not valid JSON", { cause: err });
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(toJsonSafe(body));
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) }).end(text);
}

function sendError(res: ServerResponse, err: unknown): void {
  if (isTvmxError(err)) {
    const e = err as TvmxError;
    send(res, statusFor(e), { error: { code: e.code, message: e.message, details: e.details } });
    return;
  }
  // An unexpected failure: the client gets a generic message, the host's log has the cause.
  send(res, 500, { error: { code: "CONTROL_SERVER", message: "internal error in the host", details: {} } });
}
