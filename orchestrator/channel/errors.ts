/**
 * Typed errors of the secure auction channel (codes CHANNEL_*). `fatal` says whether the connection can
 * go on after the error (a malformed message whose length was known: yes; a framing error: no).
 */
import { TvmxError, type CodeOf, type TvmxErrorOptions } from "../errors/index.js";

/** The channel codes of the registry (orchestrator/errors/codes.ts). */
export type ChannelErrorCode = CodeOf<"CHANNEL">;

export class ChannelError extends TvmxError {
  declare readonly code: ChannelErrorCode;
  readonly fatal: boolean;

  constructor(code: ChannelErrorCode, message: string, options: TvmxErrorOptions & { readonly fatal?: boolean } = {}) {
    super(code, message, { details: options.details, cause: options.cause });
    this.name = "ChannelError";
    this.fatal = options.fatal ?? true;
  }
}
