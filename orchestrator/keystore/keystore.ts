import { readFile, writeFile, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { encryptKeystoreJson, getAddress, isKeystoreJson, Wallet, type HDNodeWallet } from "ethers";
import { TvmxError } from "../errors/index.js";

/**
 * Encrypted key files in the Web3 Secret Storage format (what geth, ethers and MetaMask write): the host's
 * on-chain key never rests on disk in the clear.
 *
 * The scrypt cost N defaults to 2^17 (ethers' default: ~1 s to unlock, by design). Tests and the local demo
 * create their throw-away keys with LIGHT_SCRYPT_N = 2^10 (a few ms): the file format is the same and the
 * cost is recorded in the file, so unlocking needs no option. Never use the light cost for a key that guards
 * real funds.
 */
export const DEFAULT_SCRYPT_N = 1 << 17;
export const LIGHT_SCRYPT_N = 1 << 10;

export type PasswordSource = { kind: "env"; name: string } | { kind: "file"; path: string };

export interface CreateKeystoreOptions {
  /** An existing key to encrypt (0x-hex); default: a fresh random key. */
  privateKey?: string;
  /** scrypt cost, a power of two (default DEFAULT_SCRYPT_N). */
  scryptN?: number;
  /** Replace an existing file (default: refuse with KEYSTORE_EXISTS). */
  overwrite?: boolean;
}

/** Writes a new encrypted key file (mode 0600) and returns its address. */
export async function createKeystore(file: string, password: string, options: CreateKeystoreOptions = {}): Promise<{ address: string }> {
  if (password.length === 0) throw new TvmxError("KEYSTORE_PASSWORD_MISSING", "refusing to encrypt a key with an empty password", { details: { file } });
  const scryptN = options.scryptN ?? DEFAULT_SCRYPT_N;
  if (!Number.isSafeInteger(scryptN) || scryptN < 2 || (scryptN & (scryptN - 1)) !== 0) {
    throw new TvmxError("KEYSTORE_MALFORMED", `scrypt N must be a power of two >= 2, got ${scryptN}`, { details: { scryptN } });
  }
  const wallet = options.privateKey === undefined ? Wallet.createRandom() : new Wallet(options.privateKey);
  const json = await encryptKeystoreJson({ address: wallet.address, privateKey: wallet.privateKey }, password, { scrypt: { N: scryptN } });
  await mkdir(dirname(file), { recursive: true });
  try {
    await writeFile(file, json, { mode: 0o600, flag: options.overwrite ? "w" : "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") {
      throw new TvmxError("KEYSTORE_EXISTS", `keystore file already exists: ${file}`, { details: { file }, cause: err });
    }
    throw new TvmxError("KEYSTORE_NOT_FOUND", `cannot write keystore file ${file}`, { details: { file }, cause: err });
  }
  return { address: wallet.address };
}

async function readKeystoreText(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new TvmxError("KEYSTORE_NOT_FOUND", `cannot read keystore file ${file}: ${(err as NodeJS.ErrnoException).code ?? "error"}`, {
      details: { file },
      cause: err,
    });
  }
  if (!isKeystoreJson(text)) throw new TvmxError("KEYSTORE_MALFORMED", `not an encrypted keystore file: ${file}`, { details: { file } });
  return text;
}

/** The address stored in a key file, without decrypting it. */
export async function keystoreAddress(file: string): Promise<string> {
  const text = await readKeystoreText(file);
  const address = (JSON.parse(text) as { address?: unknown }).address;
  if (typeof address !== "string" || !/^(0x)?[0-9a-fA-F]{40}$/.test(address)) {
    throw new TvmxError("KEYSTORE_MALFORMED", `keystore file has no address: ${file}`, { details: { file } });
  }
  return getAddress(address.startsWith("0x") ? address : `0x${address}`);
}

/** Decrypts a key file. A wrong password gives KEYSTORE_WRONG_PASSWORD. */
export async function unlockKeystore(file: string, password: string): Promise<Wallet> {
  const text = await readKeystoreText(file);
  let wallet: Wallet | HDNodeWallet;
  try {
    wallet = await Wallet.fromEncryptedJson(text, password);
  } catch (err) {
    if (err instanceof Error && /incorrect password/i.test(err.message)) {
      throw new TvmxError("KEYSTORE_WRONG_PASSWORD", `wrong password for keystore ${file}`, { details: { file } });
    }
    throw new TvmxError("KEYSTORE_MALFORMED", `cannot decrypt keystore ${file}`, { details: { file }, cause: err });
  }
  // An HD wallet (a mnemonic inside the file) is reduced to its signing key: the host needs nothing else.
  return wallet instanceof Wallet ? wallet : new Wallet(wallet.privateKey);
}

/** Reads the password from its configured source (an environment variable, or a file whose trailing newline is dropped). */
export async function readPassword(source: PasswordSource, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (source.kind === "env") {
    const value = env[source.name];
    if (value === undefined || value === "") {
      throw new TvmxError("KEYSTORE_PASSWORD_MISSING", `the keystore password environment variable ${source.name} is not set`, {
        details: { env: source.name },
      });
    }
    return value;
  }
  let text: string;
  try {
    text = await readFile(source.path, "utf8");
  } catch (err) {
    throw new TvmxError("KEYSTORE_PASSWORD_MISSING", `cannot read the keystore password file ${source.path}`, {
      details: { file: source.path },
      cause: err,
    });
  }
  const password = text.replace(/\r?\n$/, "");
  if (password === "") throw new TvmxError("KEYSTORE_PASSWORD_MISSING", `the keystore password file ${source.path} is empty`, { details: { file: source.path } });
  return password;
}

/** Reads the password from its source and unlocks the key file. */
export async function unlockFromConfig(keystore: { path: string; password: PasswordSource }, env: NodeJS.ProcessEnv = process.env): Promise<Wallet> {
  return unlockKeystore(keystore.path, await readPassword(keystore.password, env));
}
