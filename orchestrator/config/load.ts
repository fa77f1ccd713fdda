import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { TvmxError } from "../errors/index.js";
import { jsonErrorOffset, lineColumn } from "./json-position.js";
import { parseHostConfig, type HostConfig } from "./host-config.js";

/** Reads, parses and validates a host config file. Errors: CONFIG_NOT_FOUND, CONFIG_UNREADABLE, CONFIG_SYNTAX, CONFIG_INVALID. */
export async function loadHostConfig(file: string): Promise<HostConfig> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new TvmxError("CONFIG_NOT_FOUND", `config file not found: ${path}`, { details: { path }, cause: err });
    throw new TvmxError("CONFIG_UNREADABLE", `cannot read config file ${path}: ${code ?? "error"}`, { details: { path }, cause: err });
  }
  return parseHostConfig(parseJsonText(text, path), dirname(path), path);
}

/** JSON.parse with an error that names the file, the line and the column. */
export function parseJsonText(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const details: Record<string, unknown> = { source };
    let where = "";
    const offset = jsonErrorOffset(text);
    if (offset !== undefined) {
      const { line, column } = lineColumn(text, offset);
      details.line = line;
      details.column = column;
      where = ` at line ${line}, column ${column}`;
    }
    throw new TvmxError("CONFIG_SYNTAX", `${source}: invalid JSON${where}: ${message}`, { details, cause: err });
  }
}
