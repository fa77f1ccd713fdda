import { TvmxError } from "../errors/index.js";

/** A command was given arguments it cannot use (beyond what commander itself checks). */
export class CliArgumentError extends TvmxError {
  constructor(message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super("CLI_BAD_ARGUMENT", message, { details, cause });
    this.name = "CliArgumentError";
  }
}
