import { resultCodeOf, subsystemOf, type ErrorCode, type Subsystem } from "./codes.js";

/** Extra data an error carries: the offending values, never secrets. */
export type ErrorDetails = Record<string, unknown>;

/** The second half of every error constructor's shape `(code, message, { details, cause })`. */
export interface TvmxErrorOptions {
  readonly details?: ErrorDetails;
  readonly cause?: unknown;
}

/**
 * The base of every error the project throws on purpose.
 *
 * - `code`: a code of the registry (codes.ts), such as "CHAIN_RPC_UNAVAILABLE"; a subsystem throws only its own
 *   codes, through its own subclass where it has one (MigrationError, ChannelError, AttestationError, ...).
 * - `message`: short, for a human, with the values that matter.
 * - `details`: the offending values, for logs and `--json` output.
 * - `cause`: the underlying error (standard ES2022 cause chain).
 */
export class TvmxError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, options: TvmxErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "TvmxError";
    this.code = code;
    this.details = options.details ?? {};
  }

  /** The stable numeric code for this error's `code` (for peers and on-chain reasons). */
  get resultCode(): number {
    return resultCodeOf(this.code);
  }

  get subsystem(): Subsystem | undefined {
    return subsystemOf(this.code);
  }

  /** A plain object for `--json` output and for sending to a peer or a control API client. */
  toJSON(): { name: string; code: string; resultCode: number; message: string; details: ErrorDetails; cause?: string } {
    const out: { name: string; code: string; resultCode: number; message: string; details: ErrorDetails; cause?: string } = {
      name: this.name,
      code: this.code,
      resultCode: this.resultCode,
      message: this.message,
      details: this.details,
    };
    if (this.cause !== undefined) out.cause = describeError(this.cause);
    return out;
  }
}

/** True when `err` is a TvmxError (optionally with the given code). Works across module copies by shape. */
export function isTvmxError(err: unknown, code?: ErrorCode): err is TvmxError {
  if (!(err instanceof Error)) return false;
  const candidate = err as Error & { code?: unknown; details?: unknown };
  const shaped = err instanceof TvmxError || (typeof candidate.code === "string" && typeof candidate.details === "object");
  return shaped && (code === undefined || candidate.code === code);
}

/** One line describing any thrown value, following the cause chain: "outer: inner: innermost". */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && depth < 8; depth++) {
    if (current instanceof Error) {
      parts.push(current.message || current.name);
      current = current.cause;
    } else {
      parts.push(String(current));
      current = undefined;
    }
  }
  return parts.join(": ");
}
