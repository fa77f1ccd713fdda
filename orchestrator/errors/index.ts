export { describeError, isTvmxError, TvmxError } from "./tvmx-error.js";
export type { ErrorDetails } from "./tvmx-error.js";
export {
  ERROR_CODES,
  errorCodeOf,
  RESULT_SUCCESS,
  RESULT_UNKNOWN,
  resultCodeOf,
  SUBSYSTEM_BASE,
  subsystemOf,
} from "./codes.js";
export type { KnownErrorCode, Subsystem } from "./codes.js";
