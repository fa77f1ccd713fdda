/**
 * The key a chain command sends with: `--keystore <file>` (password from --password-env, --password-file or the
 * terminal), or by default the node's first unlocked account (a local development node).
 */
import type { Wallet } from "ethers";
import { passwordFrom, unlockKeystore } from "../../keystore/index.js";
import { CliArgumentError } from "../errors.js";
import { passwordSourceOf, type PasswordOptions } from "./password-options.js";

export interface SignerOptions extends PasswordOptions {
  keystore?: string;
}

/** The keystore's wallet, or undefined for "the node's first account". */
export async function walletOf(options: SignerOptions): Promise<Wallet | undefined> {
  const source = passwordSourceOf(options);
  if (options.keystore === undefined) {
    if (source !== undefined) throw new CliArgumentError("--password-env/--password-file need --keystore");
    return undefined;
  }
  return unlockKeystore(options.keystore, await passwordFrom(source, { file: options.keystore }));
}
