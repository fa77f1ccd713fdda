/**
 * Typed errors of the attestation subsystem, on the project's TvmxError base: a stable grouped `code`
 * (ATTESTATION_* or POLICY_*), a short message, `details` with the offending values, and the `cause`.
 */
import { TvmxError, type CodeOf, type TvmxErrorOptions } from "../errors/index.js";

/** The attestation codes of the registry (orchestrator/errors/codes.ts) and those of the policy it enforces. */
export type AttestationErrorCode = CodeOf<"ATTESTATION"> | CodeOf<"POLICY">;

export class AttestationError extends TvmxError {
  declare readonly code: AttestationErrorCode;

  constructor(code: AttestationErrorCode, message: string, options: TvmxErrorOptions = {}) {
    super(code, message, options);
    this.name = "AttestationError";
  }
}

/** The quote bytes do not follow the TDX quote v4 layout. The only error the quote parser throws. */
export class QuoteParseError extends AttestationError {
  constructor(message: string, options: TvmxErrorOptions = {}) {
    super("ATTESTATION_QUOTE_MALFORMED", message, options);
    this.name = "QuoteParseError";
  }
}

/** A well-formed quote (or its collateral) failed a cryptographic or trust check. */
export class QuoteVerificationError extends AttestationError {
  constructor(code: AttestationErrorCode, message: string, options: TvmxErrorOptions = {}) {
    super(code, message, options);
    this.name = "QuoteVerificationError";
  }
}

/** One policy rule that a verified quote does not satisfy. */
export interface PolicyViolation {
  /** The rule's key in the policy file, e.g. "acceptedTcbStatuses". */
  readonly rule: string;
  readonly expected: unknown;
  readonly actual: unknown;
  readonly message: string;
}

/** A host's quote does not satisfy the policy: names the host (when known), every failed rule and its values. */
export class PolicyViolationError extends AttestationError {
  readonly violations: readonly PolicyViolation[];

  constructor(violations: readonly PolicyViolation[], subject?: string) {
    const who = subject ? `host ${subject}` : "quote";
    const list = violations.map((v) => v.message).join("; ");
    super("POLICY_REJECTED", `${who} fails the policy: ${list}`, { details: { subject, violations } });
    this.name = "PolicyViolationError";
    this.violations = violations;
  }
}
