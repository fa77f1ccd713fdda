/**
 * Typed errors of the attestation subsystem, on the project's TvmxError base: a stable grouped `code`
 * (ATTESTATION_* or POLICY_*), a short message, `details` with the offending values, and the `cause`.
 */
import { TvmxError, type ErrorDetails } from "../errors/index.js";

export type AttestationErrorCode =
  // quote bytes
  | "ATTESTATION_QUOTE_MALFORMED"
  // signatures and certificates
  | "ATTESTATION_QUOTE_INVALID"
  | "ATTESTATION_QUOTE_SIGNATURE_INVALID"
  | "ATTESTATION_QE_REPORT_SIGNATURE_INVALID"
  | "ATTESTATION_QE_REPORT_DATA_MISMATCH"
  | "ATTESTATION_QE_IDENTITY_MALFORMED"
  | "ATTESTATION_QE_IDENTITY_SIGNATURE_INVALID"
  | "ATTESTATION_QE_IDENTITY_MISMATCH"
  | "ATTESTATION_CERT_MALFORMED"
  | "ATTESTATION_CERT_CHAIN_BROKEN"
  | "ATTESTATION_CERT_NOT_VALID_NOW"
  | "ATTESTATION_UNTRUSTED_ROOT"
  | "ATTESTATION_PCK_EXTENSION_INVALID"
  // TCB info
  | "ATTESTATION_TCB_INFO_MALFORMED"
  | "ATTESTATION_TCB_INFO_SIGNATURE_INVALID"
  | "ATTESTATION_TCB_INFO_MISMATCH"
  | "ATTESTATION_TCB_INFO_EXPIRED"
  | "ATTESTATION_TCB_NOT_SUPPORTED"
  // configuration of the simulated provisioning service / platform
  | "ATTESTATION_CONFIG_INVALID"
  // policy
  | "POLICY_INVALID"
  | "POLICY_REJECTED";

export class AttestationError extends TvmxError {
  declare readonly code: AttestationErrorCode;

  constructor(code: AttestationErrorCode, message: string, details: ErrorDetails = {}, options: { cause?: unknown } = {}) {
    super(code, message, { details, cause: options.cause });
    this.name = "AttestationError";
  }
}

/** The quote bytes do not follow the TDX quote v4 layout. The only error the quote parser throws. */
export class QuoteParseError extends AttestationError {
  constructor(message: string, details: ErrorDetails = {}, options: { cause?: unknown } = {}) {
    super("ATTESTATION_QUOTE_MALFORMED", message, details, options);
    this.name = "QuoteParseError";
  }
}

/** A well-formed quote (or its collateral) failed a cryptographic or trust check. */
export class QuoteVerificationError extends AttestationError {
  constructor(code: AttestationErrorCode, message: string, details: ErrorDetails = {}, options: { cause?: unknown } = {}) {
    super(code, message, details, options);
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
    super("POLICY_REJECTED", `${who} fails the policy: ${list}`, { subject, violations });
    this.name = "PolicyViolationError";
    this.violations = violations;
  }
}
