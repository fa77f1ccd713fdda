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
 *
 * Reorgs: a log is handed on only while the block it names is the canonical block at its height (a node behind a
 * load balancer, or one that has just switched forks, may answer getLogs from a block it is abandoning). A log whose
 * block hash no longer matches is dropped (`onRemoved`), and its range is scanned again from the cursor. The watcher
 * also remembers the hash of the last block of each range it handled: when one of them leaves the canonical chain, the
 * cursor is put back to the newest one still canonical and the blocks after it are scanned again, so a log that the
 * new chain holds at a height the cursor had passed is not missed. Handlers are idempotent, so a log handled before the
 * reorg and found again after it is harmless. Those hashes are checked only when the latest block is neither the one the
 * last poll saw nor its child (a reorg always replaces the head), so an idle poll costs one call (eth_getBlockByNumber).
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
  /** A log that getLogs returned but whose block is no longer canonical: it was not handed to `onLog`. */
  onRemoved?(log: Log, canonicalHash: string | undefined): Promise<void> | void;
  logger?: Logger;
}

/** How many range ends the watcher remembers to find where a reorg forked (deeper reorgs rescan REORG_REWIND blocks). */
const CHECKPOINTS = 64;
/** How far back a reorg deeper than every remembered range end puts the cursor. */
const REORG_REWIND = 128;

/** Thrown inside a scan when a log's block left the canonical chain: the scan stops, and the range is scanned again. */
class LogReorged extends Error {
  constructor(readonly log: Log, readonly canonicalHash: string | undefined) {
    super(`block ${log.blockNumber} ${log.blockHash} is no longer canonical`);
  }
}

export function watchLogs(options: WatchLogsOptions): Unwatch {
  const logger = (options.logger ?? nullLogger).child({ watcher: options.name });
  const controller = new AbortController();
  const signal = controller.signal;
  // shrinks when the provider refuses a range as too large (kept for the next polls)
  let range = options.maxBlockRange ?? 2000;
  const confirmations = Math.max(1, options.confirmations ?? 1);
  const retry = options.retry ?? { retries: Number.POSITIVE_INFINITY, baseDelayMs: options.pollIntervalMs, maxDelayMs: 5_000 };

  /** Range ends handled, oldest first: a reorg below the cursor is found by one of them changing hash. */
  const checkpoints: { block: number; hash: string }[] = [];
  const blockHash = async (block: number) => (await options.provider.getBlock(block))?.hash ?? undefined;
  /** Puts the cursor back when a handled range end left the canonical chain. */
  const rewindAfterReorg = async (): Promise<void> => {
    const last = checkpoints.at(-1);
    if (!last || (await blockHash(last.block)) === last.hash) return;
    let keep = checkpoints.length - 1;
    while (keep >= 0 && (await blockHash(checkpoints[keep]!.block)) !== checkpoints[keep]!.hash) keep--;
    const rewindTo = keep >= 0 ? checkpoints[keep]!.block : Math.max(options.fromBlock - 1, checkpoints[0]!.block - REORG_REWIND);
    checkpoints.splice(keep + 1);
    logger.warn("watcher: reorg below the cursor; scanning the replaced blocks again", { cursor: last.block, rescanFrom: rewindTo + 1, depth: last.block - rewindTo, lostHash: last.hash });
    await options.cursor.save(rewindTo);
  };

  const loop = async () => {
    let failures = 0;
    let behindReported = false;
    /** The newest block the last complete poll saw: while it stays the head, or is the parent of the head, no reorg happened since. */
    let seenHead: { number: number; hash: string } | undefined;
    while (!signal.aborted) {
      try {
        // One call per poll: the latest block says both how far to scan and whether the chain was reorganized since the
        // last poll (a reorg always replaces the head). The remembered range ends are checked only when it might have been.
        const latest = await options.provider.getBlock("latest");
        if (!latest?.hash) throw new TvmxError("CHAIN_RPC_UNAVAILABLE", "the node answered no latest block", { details: { watcher: options.name } });
        const continues = seenHead !== undefined && (latest.hash === seenHead.hash || latest.parentHash === seenHead.hash);
        if (!continues) await rewindAfterReorg();
        const head = latest.number - (confirmations - 1);
        const headHash = confirmations === 1 ? latest.hash : undefined;
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
                const canonical = new Map<number, string | undefined>();
                for (const log of logs) {
                  if (signal.aborted) return;
                  if (!canonical.has(log.blockNumber)) canonical.set(log.blockNumber, await blockHash(log.blockNumber));
                  if (canonical.get(log.blockNumber) !== log.blockHash) throw new LogReorged(log, canonical.get(log.blockNumber));
                  try {
                    await options.onLog(log);
                  } catch (err) {
                    // A handler error must not stop the watch for everyone else; it is logged with the log's coordinates.
                    logger.error("watcher: handler failed", { block: log.blockNumber, tx: log.transactionHash, index: log.index, err });
                  }
                }
                if (signal.aborted) return;
                const toHash = canonical.get(to) ?? (to === head && headHash !== undefined ? headHash : await blockHash(to));
                await options.cursor.save(to);
                if (toHash !== undefined) {
                  checkpoints.push({ block: to, hash: toHash });
                  if (checkpoints.length > CHECKPOINTS) checkpoints.shift();
                }
              },
            },
          ).then(({ stats }) => {
            if (stats.refusals > 0) logger.info("watcher: the provider refused large log ranges, using smaller ones", { range: stats.range });
            range = stats.range;
          });
        }
        seenHead = { number: latest.number, hash: latest.hash };
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof LogReorged) {
          // The cursor stayed before the range of the dropped log: the next poll scans it again, on the new chain.
          const { log } = err;
          logger.warn("watcher: a log's block left the canonical chain (reorg); dropped it, scanning its range again", {
            block: log.blockNumber,
            blockHash: log.blockHash,
            canonicalHash: err.canonicalHash,
            tx: log.transactionHash,
            index: log.index,
          });
          try {
            await options.onRemoved?.(log, err.canonicalHash);
          } catch (handlerErr) {
            logger.error("watcher: removed-log handler failed", { block: log.blockNumber, tx: log.transactionHash, err: handlerErr });
          }
          await sleep(options.pollIntervalMs, signal, abortError).catch(() => undefined);
          continue;
        }
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
  options: Omit<WatchLogsOptions, "topics" | "onLog" | "onRemoved"> & {
    iface: Interface;
    events: readonly string[];
    onEvent(event: DecodedEvent): Promise<void> | void;
    /** An event getLogs returned from a block that is no longer canonical (a reorg): dropped, not handed to `onEvent`. */
    onRemoved?(event: DecodedEvent): Promise<void> | void;
  },
): Unwatch {
  const topics = options.events.map((name) => {
    const fragment = options.iface.getEvent(name);
    if (!fragment) throw new TvmxError("CHAIN_EVENT_DECODE", `no event ${name} in the contract interface`, { details: { name } });
    return fragment.topicHash;
  });
  const logger = options.logger ?? nullLogger;
  const decode = (log: Log): DecodedEvent | undefined => {
    let parsed: LogDescription | null;
    try {
      parsed = options.iface.parseLog(log);
    } catch (err) {
      parsed = null;
      logger.warn("watcher: cannot decode log", { watcher: options.name, tx: log.transactionHash, index: log.index, err });
    }
    return parsed ? { name: parsed.name, args: parsed.args, log } : undefined;
  };
  const { onRemoved, iface: _iface, events: _events, onEvent: _onEvent, ...rest } = options;
  return watchLogs({
    ...rest,
    topics: [topics],
    onLog: async (log) => {
      const event = decode(log);
      if (event) await options.onEvent(event);
    },
    ...(onRemoved
      ? {
          onRemoved: async (log: Log) => {
            const event = decode(log);
            if (event) await onRemoved(event);
          },
        }
      : {}),
  });
}
