import { TvmxError, type CodeOf, type ErrorDetails, type TvmxErrorOptions } from "../errors/index.js";
import { isSuccess, statusName, type TdxStatus } from "./status.js";

/**
 * A programmer error in a call into the CPU model (a wrong argument type, a buffer too small, a vCPU index
 * out of range): thrown. Guest and wire errors are never thrown: leaves return a TDX status instead.
 */
export class TdxModelError extends TvmxError {
  constructor(code: Exclude<CodeOf<"TDX">, "TDX_LEAF_FAILED">, message: string, options: TvmxErrorOptions = {}) {
    super(code, message, options);
    this.name = "TdxModelError";
  }
}

/** A leaf failed where the caller chose to treat failure as fatal (see `expectSuccess`). */
export class TdxLeafFailedError extends TvmxError {
  readonly status: TdxStatus;
  constructor(leaf: string, status: TdxStatus, details: ErrorDetails = {}) {
    super("TDX_LEAF_FAILED", `${leaf} failed with ${statusName(status)}`, {
      details: { leaf, status: `0x${status.toString(16).padStart(16, "0")}`, statusName: statusName(status), ...details },
    });
    this.name = "TdxLeafFailedError";
    this.status = status;
  }
}

/** Throws TdxLeafFailedError when `status` is a failure (warnings pass): for callers to whom a refused leaf is fatal. */
export function expectSuccess(leaf: string, status: TdxStatus, details: ErrorDetails = {}): void {
  if (!isSuccess(status)) throw new TdxLeafFailedError(leaf, status, details);
}
