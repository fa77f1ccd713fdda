/**
 * The import leaves' refusals of one incoming migration, kept to name the one that caused the abort. Streams import
 * in parallel: when one bundle fails and moves the TD to FAILED_IMPORT, a bundle of another stream may be refused a
 * moment later only because of that state, and that later refusal may be the one the pipeline sees first.
 */
import { importLeafName, statusName, TDX_STATUS } from "../tdx/index.js";
import type { TdxStatus } from "../tdx/index.js";
import { MigrationRejectedError } from "./errors.js";

/** Statuses a leaf returns because the session already failed, not because of its own bundle. */
const CONSEQUENTIAL: ReadonlySet<TdxStatus> = new Set([TDX_STATUS.TDX_OP_STATE_INCORRECT, TDX_STATUS.TDX_LIFECYCLE_STATE_INCORRECT]);

export class ImportFailures {
  readonly #refusals: { status: TdxStatus; mbType: number }[] = [];

  record(refusal: { status: TdxStatus; mbType: number }): void {
    this.#refusals.push({ status: refusal.status, mbType: refusal.mbType });
  }

  /**
   * The error to report for `error`: itself, unless it is a refusal that is only a consequence of the session having
   * failed, and an earlier refusal that is not is on record.
   */
  rootCause(error: Error, migrationId: string): Error {
    if (!(error instanceof MigrationRejectedError) || !CONSEQUENTIAL.has(error.status)) return error;
    const root = this.#refusals.find((r) => !CONSEQUENTIAL.has(r.status));
    if (!root) return error;
    return new MigrationRejectedError("destination", importLeafName(root.mbType), root.status, statusName(root.status), { details: { migrationId } });
  }
}
