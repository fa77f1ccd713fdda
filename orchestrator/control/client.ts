import { isErrorCode, TvmxError } from "../errors/index.js";
import type { HttpMethod } from "./server.js";
import { readControlEndpoint, readControlToken } from "./token.js";

/**
 * Talks to a running host's control API. Errors: CONTROL_UNREACHABLE (no host listening), CONTROL_UNAUTHORIZED
 * (wrong token), and whatever typed error the host returned (same code, message and details).
 */
export class ControlClient {
  readonly url: string;
  readonly #token: string;
  readonly #timeoutMs: number;

  constructor(options: { port: number; token: string; timeoutMs?: number }) {
    this.url = `http://127.0.0.1:${options.port}`;
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** A client for the host whose data directory is `dataDir` (reads its port and token files). */
  static async fromDataDir(dataDir: string, options: { timeoutMs?: number } = {}): Promise<ControlClient> {
    // In this order: a missing endpoint file means no host runs there, which says more than a missing token
    // (reading both at once made the reported error depend on which read failed first).
    const { port } = await readControlEndpoint(dataDir);
    const token = await readControlToken(dataDir);
    return new ControlClient({ port, token, ...options });
  }

  get<T = unknown>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }

  post<T = unknown>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, body);
  }

  async request<T = unknown>(method: HttpMethod, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      const init: RequestInit = {
        method,
        headers: { authorization: `Bearer ${this.#token}`, "content-type": "application/json" },
        signal: AbortSignal.timeout(this.#timeoutMs),
      };
      if (body !== undefined) init.body = JSON.stringify(body, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
      res = await fetch(`${this.url}${path}`, init);
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
      throw new TvmxError("CONTROL_UNREACHABLE", timedOut ? `host at ${this.url} did not answer within ${this.#timeoutMs} ms` : `no host answering at ${this.url}`, {
        details: { url: this.url, path },
        cause: err,
      });
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === "" ? null : JSON.parse(text);
    } catch (err) {
      throw new TvmxError("CONTROL_SERVER", `host at ${this.url} answered ${res.status} with a body that is not JSON`, { details: { status: res.status }, cause: err });
    }
    if (res.ok) return parsed as T;
    const e = (parsed as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
    if (res.status === 401) throw new TvmxError("CONTROL_UNAUTHORIZED", `host at ${this.url} refused the control token`, { details: { url: this.url } });
    // The host's own code is relayed (the CLI prints `error [HOST_BUSY]: ...`); a code this version does not know
    // (a newer host) reads as CONTROL_SERVER with the host's code in details.
    const code = isErrorCode(e?.code) ? e.code : "CONTROL_SERVER";
    const message = typeof e?.message === "string" ? e.message : `host answered HTTP ${res.status}`;
    const details = typeof e?.details === "object" && e.details !== null ? (e.details as Record<string, unknown>) : {};
    const remote = typeof e?.code === "string" && code !== e.code ? { remoteCode: e.code } : {};
    throw new TvmxError(code, message, { details: { ...details, ...remote, status: res.status } });
  }
}
