import type { PasswordSource } from "../../keystore/index.js";
import { CliArgumentError } from "../errors.js";

/** `--password-env <VAR>` / `--password-file <file>`: at most one; neither means "ask on the terminal". */
export interface PasswordOptions {
  passwordEnv?: string;
  passwordFile?: string;
}

export function passwordSourceOf(options: PasswordOptions): PasswordSource | undefined {
  if (options.passwordEnv !== undefined && options.passwordFile !== undefined) {
    throw new CliArgumentError("give one of --password-env <VAR> or --password-file <file>, not both");
  }
  if (options.passwordEnv !== undefined) return { kind: "env", name: options.passwordEnv };
  if (options.passwordFile !== undefined) return { kind: "file", path: options.passwordFile };
  return undefined;
}
