/**
 * What the source and the import session share: the leaf status check, the tracker of worker jobs an abort waits for,
 * the abort-token message in both directions (the destination builds it from its error, the source turns it back
 * into one), timeouts, and where the migration worker's module is.
 */
import { isSuccess, statusName, TDX_STATUS } from "../tdx/index.js";
import type { TdxStatus } from "../tdx/index.js";
import { MigrationRejectedError, MigrationTimeoutError } from "./errors.js";
import type { MigrationError } from "./errors.js";
import type { AbortTokenMessage } from "./control-messages.js";

export type SessionSide = "source" | "destination";

/** The worker module next to this one, whichever of .ts (from source) or .js (compiled) is running. */
export function migrationWorkerEntry(): URL {
  return new URL(`./migration-worker${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url);
}

/** Checks a leaf's status; throws MigrationRejectedError on `side` on failure. Warnings pass. */
export function checkLeaf<T>(side: SessionSide, migrationId: string, leaf: string, status: TdxStatus, value?: T): T {
  if (!isSuccess(status)) throw new MigrationRejectedError(side, leaf, status, statusName(status), { details: { migrationId } });
  return value as T;
}

/** Worker jobs still running: an aborting session waits for all of them, so that no leaf runs after the abort. */
export class JobTracker {
  readonly #inFlight = new Set<Promise<unknown>>();

  /** Remembers `p` until it settles; returns it. */
  track<T>(p: Promise<T>): Promise<T> {
    this.#inFlight.add(p);
    const forget = (): void => void this.#inFlight.delete(p);
    p.then(forget, forget);
    return p;
  }

  /** Settles once every job tracked so far has settled (whatever their outcome). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#inFlight]);
  }
}

/** The ABORT_TOKEN message the destination sends for `error`, with the TDH.IMPORT.ABORT token (base64, "" without one). */
export function abortTokenMessage(error: Error, token: string): AbortTokenMessage {
  const rejected = error instanceof MigrationRejectedError ? error : undefined;
  return {
    status: (rejected?.status ?? TDX_STATUS.TDX_SUCCESS).toString(),
    statusName: rejected ? rejected.statusName : (error as MigrationError).code ?? error.name,
    leaf: rejected ? String(rejected.details.leaf) : "engine",
    message: error.message,
    token,
  };
}

/** The source's error for the destination's ABORT_TOKEN message. */
export function rejectionError(msg: AbortTokenMessage, migrationId: string, cause?: Error): MigrationRejectedError {
  return new MigrationRejectedError("destination", msg.leaf, BigInt(msg.status), msg.statusName, {
    details: { migrationId, message: msg.message },
    cause,
  });
}

/** A timeout error factory for `withTimeout`. */
export function timedOut(what: string, ms: number): () => MigrationTimeoutError {
  return () => new MigrationTimeoutError(`timed out waiting for ${what}`, { ms });
}

export function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
