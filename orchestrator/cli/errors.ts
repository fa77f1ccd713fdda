import { TvmxError, type TvmxErrorOptions } from "../errors/index.js";

/** A command was given arguments it cannot use (beyond what commander itself checks). */
export class CliArgumentError extends TvmxError {
  constructor(message: string, options: TvmxErrorOptions = {}) {
    super("CLI_BAD_ARGUMENT", message, options);
    this.name = "CliArgumentError";
  }
}
