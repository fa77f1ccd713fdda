/**
 * The two sides' migration states as discriminated unions, and their only transitions. A transition that is not
 * allowed throws InvalidStateError with the current phase and the phases it may happen in; this is where the
 * invariants "the source never resumes after the start token without the destination's abort token" and "the
 * destination never runs before commit" are enforced in the engine (the TDX module enforces them again).
 */
import { InvalidStateError } from "./errors.js";

export type SourceState =
  | { phase: "created" }
  | { phase: "connecting" }
  | { phase: "precopy"; round: number }
  | { phase: "blackout"; round: number; pausedAt: number }
  /** The start token is sent: from here only the destination's abort token lets the source resume. */
  | { phase: "awaiting-commit"; pausedAt: number }
  | { phase: "committed"; pausedAt: number; runningAt: number }
  | { phase: "aborted"; resumed: true; reason: string }
  /** The destination could not be asked whether it committed: the source stays paused. */
  | { phase: "outcome-unknown"; pausedAt: number };

export type SourceEvent =
  | { type: "connect" }
  | { type: "round"; round: number }
  | { type: "pause"; pausedAt: number }
  | { type: "start-token-sent" }
  | { type: "committed"; runningAt: number }
  /** `withAbortToken` is required once the start token is out. */
  | { type: "abort"; reason: string; withAbortToken: boolean }
  | { type: "outcome-lost" };

export function advanceSource(state: SourceState, event: SourceEvent): SourceState {
  const fail = (expected: SourceState["phase"][]): never => {
    throw new InvalidStateError(state.phase, event.type, expected);
  };
  switch (event.type) {
    case "connect":
      return state.phase === "created" ? { phase: "connecting" } : fail(["created"]);
    case "round":
      return state.phase === "connecting" || state.phase === "precopy"
        ? { phase: "precopy", round: event.round }
        : fail(["connecting", "precopy"]);
    case "pause":
      return state.phase === "precopy" ? { phase: "blackout", round: state.round, pausedAt: event.pausedAt } : fail(["precopy"]);
    case "start-token-sent":
      return state.phase === "blackout" ? { phase: "awaiting-commit", pausedAt: state.pausedAt } : fail(["blackout"]);
    case "committed":
      return state.phase === "awaiting-commit"
        ? { phase: "committed", pausedAt: state.pausedAt, runningAt: event.runningAt }
        : fail(["awaiting-commit"]);
    case "abort":
      if (state.phase === "created" || state.phase === "connecting" || state.phase === "precopy" || state.phase === "blackout") {
        return { phase: "aborted", resumed: true, reason: event.reason };
      }
      if ((state.phase === "awaiting-commit" || state.phase === "outcome-unknown") && event.withAbortToken) {
        return { phase: "aborted", resumed: true, reason: event.reason };
      }
      return fail(["created", "connecting", "precopy", "blackout", "awaiting-commit (with the abort token)"] as SourceState["phase"][]);
    case "outcome-lost":
      return state.phase === "awaiting-commit" ? { phase: "outcome-unknown", pausedAt: state.pausedAt } : fail(["awaiting-commit"]);
  }
}

export type DestinationState =
  | { phase: "handshake" }
  | { phase: "importing"; epoch: number }
  /** The start token verified: every bundle arrived; waiting for the source's COMMIT. */
  | { phase: "ready" }
  | { phase: "committed"; runningAt: number }
  | { phase: "aborted"; status: string; reason: string };

export type DestinationEvent =
  | { type: "streams-open" }
  | { type: "epoch"; epoch: number }
  | { type: "start-token-verified" }
  | { type: "commit"; runningAt: number }
  | { type: "abort"; status: string; reason: string };

export function advanceDestination(state: DestinationState, event: DestinationEvent): DestinationState {
  const fail = (expected: DestinationState["phase"][]): never => {
    throw new InvalidStateError(state.phase, event.type, expected);
  };
  switch (event.type) {
    case "streams-open":
      return state.phase === "handshake" ? { phase: "importing", epoch: 0 } : fail(["handshake"]);
    case "epoch":
      return state.phase === "importing" ? { phase: "importing", epoch: event.epoch } : fail(["importing"]);
    case "start-token-verified":
      return state.phase === "importing" ? { phase: "ready" } : fail(["importing"]);
    case "commit":
      return state.phase === "ready" ? { phase: "committed", runningAt: event.runningAt } : fail(["ready"]);
    case "abort":
      return state.phase === "committed" || state.phase === "aborted"
        ? fail(["handshake", "importing", "ready"])
        : { phase: "aborted", status: event.status, reason: event.reason };
  }
}
