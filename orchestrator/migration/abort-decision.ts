/**
 * How the source brings its TD back when a migration fails: a pure function of the phase it failed in, the
 * destination's rejection (when one arrived) and whether the export session had started.
 *
 * - Nothing exported (TDH.EXPORT.STATE.IMMUTABLE never ran): the TD never left RUNNABLE; only the state changes, and
 *   the peer is told.
 * - The start token is out (`awaiting-commit`, `outcome-unknown`): the TD is POST_EXPORT and resumes only with the
 *   destination's abort token: the one it sent, or else the one a recovery connection asks it for (which may also
 *   learn that it committed).
 * - Otherwise (exported, before the start token): the source cancels the peer and resumes on its own authority
 *   (TDH.EXPORT.ABORT without a token).
 */
import type { MigrationPhase } from "./source-options.js";

export type AbortAction =
  | { action: "release" }
  | { action: "resume-with-token"; token: string }
  | { action: "recover" }
  | { action: "cancel-and-resume" };

/** What the destination sent with its refusal: the TDH.IMPORT.ABORT token, base64 ("" when it had none). */
export interface RejectionToken {
  token: string;
}

export function decideAbort(phase: MigrationPhase, rejection: RejectionToken | undefined, exported: boolean): AbortAction {
  if (!exported) return { action: "release" };
  if (phase === "awaiting-commit" || phase === "outcome-unknown") {
    return rejection?.token ? { action: "resume-with-token", token: rejection.token } : { action: "recover" };
  }
  return { action: "cancel-and-resume" };
}
