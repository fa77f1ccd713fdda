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
