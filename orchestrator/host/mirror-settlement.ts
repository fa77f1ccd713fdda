import type { AllocationRegistryClient } from "../chain/index.js";
import type { HostJournal, MirrorRecordEntry } from "../journal/index.js";
import type { Logger } from "../log/index.js";
import { delay } from "../util/index.js";

/**
 * The mirror record on the destination's own chain is an audit copy of an allocation settled on the auction
 * chain, Committed or Aborted (both, so that the destination's chain has every allocation it took part in). It never decides anything: it is journaled as pending before the first attempt, retried with
 * exponential backoff until it lands (across restarts: recovery retries every pending one), and a failure
 * only delays it — the outcome, the metrics and the withdrawal never wait for it or depend on it.
 */

export interface MirrorDeps {
  mirror: AllocationRegistryClient;
  journal: HostJournal;
  logger: Logger;
  signal: AbortSignal;
  /** First retry delay and its cap (ms). */
  backoff?: { baseMs: number; maxMs: number };
}

export type PendingMirror = Omit<MirrorRecordEntry, "status" | "txHash">;

const DEFAULT_BACKOFF = { baseMs: 500, maxMs: 15_000 };

/** Journals the mirror as owed (unless it already is), then records it; see {@link recordUntilLanded}. */
export async function owe(deps: MirrorDeps, pending: PendingMirror): Promise<string | undefined> {
  if (!deps.journal.state.mirrors.has(pending.allocationId)) await deps.journal.record({ type: "mirror.pending", ...pending });
  return recordUntilLanded(deps, pending.allocationId);
}

/**
 * Sends the journaled mirror of `allocationId` until it is on the mirror chain (by this host or an earlier
 * attempt whose receipt was lost), then journals it recorded. Resolves with the transaction hash (undefined
 * when the record was found already there), or undefined when the host shuts down first (it stays pending).
 */
export async function recordUntilLanded(deps: MirrorDeps, allocationId: bigint): Promise<string | undefined> {
  const entry = deps.journal.state.mirrors.get(allocationId);
  if (!entry || entry.status === "recorded") return entry?.txHash;
  const { status: _s, txHash: _t, allocationId: _a, migrationId, ...record } = entry;
  const log = deps.logger.child({ migrationId, allocationId, step: "mirror" });
  if (record.sourceChainId === deps.mirror.chainId) {
    // The registry refuses a mirror of its own chain (AllocationRegistryMirrorOfThisChain): retrying cannot help.
    log.error("mirror chain is the auction chain; not recording the mirror (check mirrorChain in the config)", { chainId: deps.mirror.chainId });
    return undefined;
  }
  const backoff = deps.backoff ?? DEFAULT_BACKOFF;
  for (let attempt = 0; !deps.signal.aborted; attempt++) {
    try {
      // Keyed by destination too: a record another host made naming itself is not this one, and cannot block it.
      const existing = await deps.mirror.mirrored(record.sourceChainId, allocationId, record.destination);
      let txHash: string;
      if (existing) {
        txHash = "";
        log.info("mirror record already on this host's own chain", { recordedBy: existing.recordedBy });
      } else {
        const tx = await deps.mirror.recordMirror({ ...record, outcome: record.outcome ?? "Committed", sourceAllocationId: allocationId });
        txHash = tx.hash;
        log.info("allocation recorded on this host's own chain", { txHash: tx.hash, chainId: deps.mirror.chainId, blockNumber: tx.blockNumber, attempt });
      }
      await deps.journal.record({ type: "mirror.recorded", allocationId, txHash });
      return txHash || undefined;
    } catch (err) {
      const waitMs = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(attempt, 20));
      log.warn("mirror record failed; retrying", { attempt, retryInMs: waitMs, err });
      await delay(waitMs, deps.signal);
    }
  }
  return undefined;
}

/** Retries every mirror a previous run left pending (each in its own task). */
export function pendingMirrors(journal: HostJournal): bigint[] {
  return [...journal.state.mirrors.values()].filter((m) => m.status === "pending").map((m) => m.allocationId);
}
