import type { Interface } from "ethers";

/**
 * Classifies what an RPC call threw. Transient: the node could not be reached or did not answer (connection
 * refused/reset, timeouts, a 5xx from a proxy) — worth retrying. Anything else (a revert, a bad argument) is
 * final and retrying would only repeat it.
 */

const TRANSIENT_NODE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
]);
const TRANSIENT_ETHERS_CODES = new Set(["NETWORK_ERROR", "TIMEOUT", "SERVER_ERROR"]);
const TRANSIENT_MESSAGES = /socket hang up|fetch failed|ECONNREFUSED|ECONNRESET|network is down|other side closed|connection (was )?closed|timeout/i;

interface ErrorLike {
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  error?: unknown;
  info?: { responseStatus?: unknown };
  shortMessage?: unknown;
}

/** The error and everything it wraps (cause, error), at most `depth` levels. */
function chainOf(err: unknown, depth = 6): ErrorLike[] {
  const out: ErrorLike[] = [];
  const queue: unknown[] = [err];
  while (queue.length > 0 && out.length < depth) {
    const e = queue.shift();
    if (typeof e !== "object" || e === null) continue;
    const like = e as ErrorLike;
    out.push(like);
    if (like.cause !== undefined) queue.push(like.cause);
    if (like.error !== undefined) queue.push(like.error);
  }
  return out;
}

export function isTransientRpcError(err: unknown): boolean {
  for (const e of chainOf(err)) {
    if (typeof e.code === "string" && TRANSIENT_NODE_CODES.has(e.code)) return true;
    if (typeof e.code === "string" && TRANSIENT_ETHERS_CODES.has(e.code)) {
      // A SERVER_ERROR with a 4xx status is the node refusing the request, not an outage.
      const status = e.info?.responseStatus;
      if (typeof status === "string" && /^4\d\d/.test(status)) return false;
      return true;
    }
    if (typeof e.message === "string" && TRANSIENT_MESSAGES.test(e.message) && e.code !== "CALL_EXCEPTION") return true;
  }
  return false;
}

/** "nonce too low", "already known", "replacement transaction underpriced": the nonce was used already. */
export function isNonceConflict(err: unknown): boolean {
  return chainOf(err).some(
    (e) =>
      e.code === "NONCE_EXPIRED" ||
      e.code === "REPLACEMENT_UNDERPRICED" ||
      (typeof e.message === "string" && /nonce too low|nonce has already been used|already known|replacement transaction underpriced|Nonce too low/i.test(e.message)),
  );
}

export interface DecodedRevert {
  /** Custom error name ("MigrationAuctionPriceAboveReserve"), "Error" for require strings, "Panic", or "unknown". */
  name: string;
  args: Record<string, unknown>;
  /** The raw revert data. */
  data?: string;
  /** A readable one-liner: `MigrationAuctionPriceAboveReserve(auctionId=1, price=5, reserve=4)`. */
  summary: string;
}

/** The revert data carried by an ethers CALL_EXCEPTION (or a node error), if any. */
export function revertDataOf(err: unknown): string | undefined {
  for (const e of chainOf(err)) {
    const data = (e as { data?: unknown }).data;
    if (typeof data === "string" && /^0x[0-9a-fA-F]*$/.test(data) && data.length >= 10) return data;
    if (typeof data === "object" && data !== null) {
      const inner = (data as { data?: unknown }).data;
      if (typeof inner === "string" && /^0x[0-9a-fA-F]*$/.test(inner) && inner.length >= 10) return inner;
    }
  }
  return undefined;
}

export function isCallException(err: unknown): boolean {
  return chainOf(err).some(
    (e) => e.code === "CALL_EXCEPTION" || (typeof e.message === "string" && /revert|execution reverted/i.test(e.message)),
  );
}

/** Decodes revert data with the contract interfaces given (custom errors, Error(string), Panic(uint256)). */
export function decodeRevert(err: unknown, interfaces: readonly Interface[]): DecodedRevert | undefined {
  const data = revertDataOf(err);
  if (data === undefined) {
    if (!isCallException(err)) return undefined;
    const reason = chainOf(err).map((e) => (e as { reason?: unknown }).reason).find((r) => typeof r === "string") as string | undefined;
    return { name: "unknown", args: reason ? { reason } : {}, summary: reason ? `reverted: ${reason}` : "reverted without data" };
  }
  for (const iface of interfaces) {
    let parsed: ReturnType<Interface["parseError"]>;
    try {
      parsed = iface.parseError(data);
    } catch {
      continue; // not this interface's error; try the next
    }
    if (!parsed) continue;
    const args: Record<string, unknown> = {};
    parsed.fragment.inputs.forEach((input, i) => {
      args[input.name || `arg${i}`] = parsed!.args[i];
    });
    const summary = `${parsed.name}(${Object.entries(args).map(([k, v]) => `${k}=${String(v)}`).join(", ")})`;
    return { name: parsed.name, args, data, summary };
  }
  return { name: "unknown", args: {}, data, summary: `reverted with unknown data ${data.slice(0, 10)}` };
}
