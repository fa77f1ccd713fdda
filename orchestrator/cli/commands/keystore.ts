/**
 * `tvmx keystore new|import|address`: encrypted key files in the Web3 Secret Storage format (the one geth,
 * ethers and MetaMask read), written with ethers' encryption (orchestrator/keystore). A host config names the
 * file in `keystore.path`.
 */
import { readFile } from "node:fs/promises";
import { isHexString, Wallet } from "ethers";
import { createKeystore, DEFAULT_SCRYPT_N, keystoreAddress, passwordFrom, terminalPrompt, type PromptIo } from "../../keystore/index.js";
import { CliArgumentError } from "../errors.js";
import type { CliIo } from "../io.js";
import { printJsonLine } from "./output.js";
import { passwordSourceOf, type PasswordOptions } from "./password-options.js";

export interface NewOptions extends PasswordOptions {
  scryptN?: number;
  force?: boolean;
  json?: boolean;
}

export interface ImportOptions extends NewOptions {
  privateKeyEnv?: string;
  privateKeyFile?: string;
}

/** `tvmx keystore new <file>`: a fresh random key, encrypted. */
export async function newKeystore(file: string, options: NewOptions, io: CliIo, prompt: PromptIo = terminalPrompt): Promise<number> {
  const password = await passwordFrom(passwordSourceOf(options), { file, confirm: true }, prompt);
  const { address } = await createKeystore(file, password, { scryptN: options.scryptN ?? DEFAULT_SCRYPT_N, overwrite: options.force === true });
  report(io, options, file, address);
  return 0;
}

/** `tvmx keystore import <file>`: an existing private key (from a variable, a file or the prompt), encrypted. */
export async function importKeystore(file: string, options: ImportOptions, io: CliIo, prompt: PromptIo = terminalPrompt): Promise<number> {
  const privateKey = normalisePrivateKey(await privateKeyFrom(options, prompt));
  const password = await passwordFrom(passwordSourceOf(options), { file, confirm: true }, prompt);
  const { address } = await createKeystore(file, password, { privateKey, scryptN: options.scryptN ?? DEFAULT_SCRYPT_N, overwrite: options.force === true });
  report(io, options, file, address);
  return 0;
}

/** `tvmx keystore address <file>`: the address stored in the file (no password needed). */
export async function showAddress(file: string, options: { json?: boolean }, io: CliIo): Promise<number> {
  const address = await keystoreAddress(file);
  if (options.json) printJsonLine(io, { file, address });
  else io.out(address);
  return 0;
}

function report(io: CliIo, options: { json?: boolean }, file: string, address: string): void {
  if (options.json) printJsonLine(io, { file, address });
  else io.out(`wrote ${file} (address ${address})`);
}

async function privateKeyFrom(options: ImportOptions, prompt: PromptIo): Promise<string> {
  if (options.privateKeyEnv !== undefined && options.privateKeyFile !== undefined) {
    throw new CliArgumentError("give one of --private-key-env <VAR> or --private-key-file <file>, not both");
  }
  if (options.privateKeyEnv !== undefined) {
    const value = process.env[options.privateKeyEnv];
    if (value === undefined || value === "") throw new CliArgumentError(`--private-key-env: the environment variable ${options.privateKeyEnv} is not set`);
    return value.trim();
  }
  if (options.privateKeyFile !== undefined) {
    try {
      return (await readFile(options.privateKeyFile, "utf8")).trim();
    } catch (cause) {
      throw new CliArgumentError(`--private-key-file: cannot read ${options.privateKeyFile}`, { details: { path: options.privateKeyFile }, cause });
    }
  }
  if (!prompt.interactive) throw new CliArgumentError("no private key: give --private-key-env <VAR> or --private-key-file <file> (or run on a terminal to be asked)");
  return (await prompt.ask("private key (0x-hex): ")).trim();
}

function normalisePrivateKey(value: string): string {
  const hex = value.startsWith("0x") ? value : `0x${value}`;
  if (!isHexString(hex, 32)) throw new CliArgumentError("the private key is not 32 bytes of hex");
  try {
    return new Wallet(hex).privateKey;
  } catch (cause) {
    throw new CliArgumentError("the private key is not a valid secp256k1 key", { cause });
  }
}
