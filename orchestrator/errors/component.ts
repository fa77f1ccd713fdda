import { subsystemOf, type Subsystem } from "./codes.js";
import { isTvmxError } from "./tvmx-error.js";

/**
 * The component a failure came from, for log records and messages: "chain RPC" for a node that does not answer,
 * "chain" for a contract or transaction, "channel" for the attested channel between hosts, and so on. A failure
 * reported by a handler of one component (a channel message handler, say) is named after the component that
 * actually failed: the innermost coded error of its cause chain wins, so a CHAIN_TX_FAILED caused by
 * CHAIN_RPC_UNAVAILABLE is a "chain RPC" failure. An error without a code is "host (unexpected)".
 */
export type FailedComponent =
  | "chain RPC"
  | "chain"
  | "config"
  | "keystore"
  | "journal"
  | "control API"
  | "host"
  | "migration stream"
  | "TDX module"
  | "attestation"
  | "channel"
  | "policy"
  | "auction"
  | "pricing"
  | "metrics"
  | "CLI"
  | "deployment"
  | "host (unexpected)";

const BY_SUBSYSTEM: Record<Subsystem, FailedComponent> = {
  CONFIG: "config",
  KEYSTORE: "keystore",
  CHAIN: "chain",
  JOURNAL: "journal",
  CONTROL: "control API",
  HOST: "host",
  MIGRATION: "migration stream",
  TDX: "TDX module",
  ATTESTATION: "attestation",
  CHANNEL: "channel",
  POLICY: "policy",
  AUCTION: "auction",
  PRICING: "pricing",
  METRICS: "metrics",
  CLI: "CLI",
  DEPLOYMENT: "deployment",
};

/** Codes that mean the node itself did not answer (as opposed to a transaction or contract failing). */
const RPC_CODES = new Set<string>(["CHAIN_RPC_UNAVAILABLE", "CHAIN_DEADLINE_PASSED", "CHAIN_TIMEOUT"]);

export function failedComponentOf(err: unknown): FailedComponent {
  const innermost = innermostCodeOf(err);
  if (innermost === undefined) return "host (unexpected)";
  if (RPC_CODES.has(innermost)) return "chain RPC";
  const subsystem = subsystemOf(innermost);
  return subsystem === undefined ? "host (unexpected)" : BY_SUBSYSTEM[subsystem];
}

/** The code of the innermost coded error of `err`'s cause chain (what `failedComponentOf` judged by). */
export function innermostCodeOf(err: unknown): string | undefined {
  let innermost: string | undefined;
  let current: unknown = err;
  for (let depth = 0; current !== undefined && depth < 8; depth++) {
    if (isTvmxError(current)) innermost = current.code;
    current = current instanceof Error ? current.cause : undefined;
  }
  return innermost;
}
