import type { Interface, Log, LogDescription, Provider } from "ethers";
import { TvmxError } from "../errors/index.js";
import { nullLogger, type Logger } from "../log/index.js";
import { scanLogs } from "./log-scan.js";
import { isTransientRpcError } from "./rpc-errors.js";
import { sleep } from "../util/index.js";
import { abortError, backoffMs, type RetryPolicy } from "./retry.js";

/**
 * Event watching that survives the node: instead of a node-side filter (which dies when the node restarts),
 * it polls `eth_getLogs` over block ranges from a cursor — the last block fully handled — that the caller
 * persists (the host keeps it in its journal). After a crash the host resumes from the cursor, so no event is
 * missed; an event may be handled twice (once before the crash, once after), so handlers are idempotent.
 *
 * During an outage it logs once, backs off, and resumes where it stopped when the node answers again. A head
 * below the cursor (a node restarted with a fresh chain) is reported and waited out.
 */

export type Unwatch = () => Promise<void>;

export interface CursorStore {
  /** The last block fully handled, or undefined to start at `fromBlock`. */
  load(): number | undefined;
  save(block: number): Promise<void>;
}

/** A cursor kept in memory only (tests, or watchers that need not survive a restart). */
export function memoryCursor(initial?: number): CursorStore & { value: number | undefined } {
  const store = {
    value: initial,
    load: () => store.value,
    save: async (block: number) => {
      store.value = block;
    },
  };
  return store;
}

export interface WatchLogsOptions {
  provider: Provider;
  /** Name for logs and the cursor. */
  name: string;
  address: string | string[];
  /** Topic filter as in eth_getLogs (topic0 = event signatures). */
  topics?: (string | string[] | null)[];
  /** First block to scan when the cursor is empty. */
  fromBlock: number;
  cursor: CursorStore;
  pollIntervalMs: number;
  /** Largest block range per eth_getLogs call (default 2000). */
  maxBlockRange?: number;
  /** Only handle logs this many blocks deep (1 = as soon as mined). */
  confirmations?: number;
  /** Backoff while the node is unreachable. */
  retry?: RetryPolicy;
  onLog(log: Log): Promise<void> | void;
  logger?: Logger;
}

export function watchLogs(options: WatchLogsOptions): Unwatch {
  const logger = (options.logger ?? nullLogger).child({ watcher: options.name });
  const controller = new AbortController();
  const signal = controller.signal;
  // shrinks when the provider refuses a range as too large (kept for the next polls)
  let range = options.maxBlockRange ?? 2000;
  const confirmations = Math.max(1, options.confirmations ?? 1);
  const retry = options.retry ?? { retries: Number.POSITIVE_INFINITY, baseDelayMs: options.pollIntervalMs, maxDelayMs: 5_000 };

  const loop = async () => {
    let failures = 0;
    let behindReported = false;
    while (!signal.aborted) {
      try {
        const head = (await options.provider.getBlockNumber()) - (confirmations - 1);
        if (failures > 0) logger.info("watcher: RPC answering again, resuming", { afterFailures: failures });
        failures = 0;
        const last = options.cursor.load() ?? options.fromBlock - 1;
        if (head < last) {
          if (!behindReported) logger.warn("watcher: chain head is behind the cursor (node restarted?), waiting", { head, cursor: last });
          behindReported = true;
        } else {
          behindReported = false;
        }
        if (last + 1 <= head) {
          await scanLogs(
            options.provider,
            { address: options.address, topics: options.topics ?? [] },
            {
              fromBlock: last + 1,
              toBlock: head,
              maxRange: range,
              signal,
              onRange: async (_from, to, logs) => {
                for (const log of logs) {
                  if (signal.aborted) return;
                  try {
                    await options.onLog(log);
                  } catch (err) {
                    // A handler error must not stop the watch for everyone else; it is logged with the log's coordinates.
                    logger.error("watcher: handler failed", { block: log.blockNumber, tx: log.transactionHash, index: log.index, err });
                  }
                }
                if (!signal.aborted) await options.cursor.save(to);
              },
            },
          ).then(({ stats }) => {
            if (stats.refusals > 0) logger.info("watcher: the provider refused large log ranges, using smaller ones", { range: stats.range });
            range = stats.range;
          });
        }
      } catch (err) {
        if (signal.aborted) return;
        failures++;
        if (!isTransientRpcError(err)) logger.error("watcher: poll failed", { err, failures });
        else if (failures === 1) logger.warn("watcher: RPC unavailable, retrying", { err });
        const delay = backoffMs({ ...retry, retries: Number.POSITIVE_INFINITY }, failures);
        await sleep(delay, signal, abortError).catch(() => undefined);
        continue;
      }
      await sleep(options.pollIntervalMs, signal, abortError).catch(() => undefined);
    }
  };

  const done = loop().catch((err: unknown) => logger.error("watcher: stopped on an unexpected error", { err }));
  return async () => {
    controller.abort();
    await done;
  };
}

export interface DecodedEvent {
  name: string;
  args: LogDescription["args"];
  log: Log;
}

/**
 * Watches named events of one contract and hands each one decoded. Logs that the interface cannot decode
 * (another contract's event with the same topic) are reported and skipped.
 */
export function watchEvents(
  options: Omit<WatchLogsOptions, "topics" | "onLog"> & { iface: Interface; events: readonly string[]; onEvent(event: DecodedEvent): Promise<void> | void },
): Unwatch {
  const topics = options.events.map((name) => {
    const fragment = options.iface.getEvent(name);
    if (!fragment) throw new TvmxError("CHAIN_EVENT_DECODE", `no event ${name} in the contract interface`, { details: { name } });
    return fragment.topicHash;
  });
  const logger = options.logger ?? nullLogger;
  return watchLogs({
    ...options,
    topics: [topics],
    onLog: async (log) => {
      let parsed: LogDescription | null;
      try {
        parsed = options.iface.parseLog(log);
      } catch (err) {
        parsed = null;
        logger.warn("watcher: cannot decode log", { watcher: options.name, tx: log.transactionHash, index: log.index, err });
      }
      if (parsed) await options.onEvent({ name: parsed.name, args: parsed.args, log });
    },
  });
}
