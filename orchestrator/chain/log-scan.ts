import type { Filter, Log, Provider } from "ethers";

/**
 * eth_getLogs over a block range in bounded pieces, as public RPC providers require: each request spans at
 * most `maxRange` blocks, and a request the provider refuses as too large ("block range too large", "query
 * returned more than 10000 results", "exceed maximum block range", code -32005 …) is retried over half the
 * range, down to one block. A range that worked is kept for the next request, so a scan over a long history
 * settles on the provider's limit after a few refusals.
 */

const RANGE_REFUSAL = /block range|range (is )?too (large|wide|big)|too many (blocks|results|logs)|more than \d+ (results|logs)|exceeds? (the )?(max(imum)?|limit)|limit exceeded|response size|query timeout|-32005|-32602.*range/i;

/** A provider's refusal of a getLogs request as too large (not an outage, not a bad filter). */
export function isRangeRefusal(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; typeof e === "object" && e !== null && depth < 6; depth++) {
    const like = e as { code?: unknown; message?: unknown; error?: unknown; cause?: unknown; info?: unknown };
    if (like.code === -32005) return true;
    if (typeof like.message === "string" && RANGE_REFUSAL.test(like.message)) return true;
    if (like.info !== undefined && RANGE_REFUSAL.test(safeJson(like.info))) return true;
    e = like.error ?? like.cause;
  }
  return false;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? "";
  } catch {
    return "";
  }
}

export interface ScanOptions {
  fromBlock: number;
  toBlock: number;
  /** Largest range per request (default 2000 blocks). */
  maxRange?: number;
  /** Called after each piece, with the blocks it covered (a caller may persist a cursor). */
  onRange?(from: number, to: number, logs: Log[]): Promise<void> | void;
  signal?: AbortSignal;
}

export interface ScanStats {
  requests: number;
  refusals: number;
  /** The range the scan ended with. */
  range: number;
}

/** Every log matching `filter` from `fromBlock` to `toBlock` (inclusive), in block order. */
export async function scanLogs(provider: Provider, filter: Omit<Filter, "fromBlock" | "toBlock">, options: ScanOptions): Promise<{ logs: Log[]; stats: ScanStats }> {
  const stats: ScanStats = { requests: 0, refusals: 0, range: Math.max(1, options.maxRange ?? 2000) };
  const out: Log[] = [];
  let from = options.fromBlock;
  while (from <= options.toBlock) {
    if (options.signal?.aborted) throw options.signal.reason;
    const to = Math.min(options.toBlock, from + stats.range - 1);
    let logs: Log[];
    try {
      stats.requests++;
      logs = await provider.getLogs({ ...filter, fromBlock: from, toBlock: to });
    } catch (err) {
      if (!isRangeRefusal(err) || to === from) throw err;
      stats.refusals++;
      stats.range = Math.max(1, Math.floor((to - from + 1) / 2));
      continue;
    }
    logs.sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index);
    await options.onRange?.(from, to, logs);
    out.push(...logs);
    from = to + 1;
  }
  return { logs: out, stats };
}
