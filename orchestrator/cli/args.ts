/** Argument parsers and file readers shared by command declarations and handlers. */
import { readFile } from "node:fs/promises";
import { InvalidArgumentError } from "commander";
import { CliArgumentError } from "./errors.js";

/** commander argument parser for hex of exactly `bytes` bytes (0x prefix optional); shorter input is zero-padded when `pad`. */
export function hexBytes(bytes: number, options: { pad?: boolean } = {}): (value: string) => Buffer {
  return (value) => {
    const hex = value.startsWith("0x") ? value.slice(2) : value;
    if (!/^[0-9a-fA-F]*$/.test(hex) || hex.length % 2 !== 0) throw new InvalidArgumentError("expected hex bytes, e.g. 0x00ff");
    const buf = Buffer.from(hex, "hex");
    if (buf.length > bytes || (!options.pad && buf.length !== bytes)) {
      throw new InvalidArgumentError(`expected ${options.pad ? "at most " : ""}${bytes} bytes, got ${buf.length}`);
    }
    return Buffer.concat([buf, Buffer.alloc(bytes - buf.length)]);
  };
}

/** Reads a file a user named, with an error that names the option and the path. */
export async function readUserFile(path: string, option: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (cause) {
    throw new CliArgumentError(`${option}: cannot read ${path}`, { details: { option, path }, cause });
  }
}

export async function readJsonFile(path: string, option: string): Promise<unknown> {
  const text = (await readUserFile(path, option)).toString("utf8");
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new CliArgumentError(`${option}: ${path} is not valid JSON (${(cause as Error).message})`, { details: { option, path }, cause });
  }
}
