export { failedComponentOf, innermostCodeOf } from "./component.js";
export type { FailedComponent } from "./component.js";
export { describeError, isTvmxError, TvmxError } from "./tvmx-error.js";
export type { ErrorDetails, TvmxErrorOptions } from "./tvmx-error.js";
export {
  ERROR_CODES,
  ERROR_REGISTRY,
  errorCodeOf,
  isErrorCode,
  RESULT_SUCCESS,
  RESULT_UNKNOWN,
  resultCodeOf,
  SUBSYSTEM_BASE,
  subsystemOf,
} from "./codes.js";
export type { CodeOf, ErrorCode, Subsystem } from "./codes.js";
