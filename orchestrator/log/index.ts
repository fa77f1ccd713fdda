export {
  createJsonLogger,
  createLogger,
  formatLogLine,
  isLogLevel,
  LOG_LEVELS,
  MemoryLogger,
  nullLogger,
  toJsonSafe,
} from "./logger.js";
export type { LogFields, Logger, LoggerOptions, LogLevel, LogRecord, LogSink } from "./logger.js";
export { RateLimitedWarning } from "./rate-limited.js";
export type { RateLimitedWarningOptions } from "./rate-limited.js";
