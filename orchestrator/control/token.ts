import { randomBytes, timingSafeEqual } from "node:crypto";
import { chmod, mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { TvmxError } from "../errors/index.js";
import { writeFileDurably } from "../journal/index.js";

/**
 * Files the control API keeps in the host's data directory:
 *   control.token  the bearer token (32 random bytes, hex), mode 0600: only the operator's account can read
 *                  it, and only a client that can read it can drive the host.
 *   control.json   {"port": n, "pid": n} of the running daemon, so the CLI finds a port chosen at random.
 */
export const TOKEN_FILE = "control.token";
export const ENDPOINT_FILE = "control.json";

/** Returns the data dir's token, creating it (0600) on first use. A token readable by others is refused. */
export async function ensureControlToken(dataDir: string): Promise<string> {
  const file = join(dataDir, TOKEN_FILE);
  try {
    return await readControlToken(dataDir);
  } catch (err) {
    if (!(err instanceof TvmxError) || err.code !== "CONTROL_TOKEN_MISSING") throw err;
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString("hex");
  await writeFileDurably(file, `${token}\n`, 0o600);
  await chmod(file, 0o600); // the umask may have narrowed the create mode, never widened: make it exact
  return token;
}

export async function readControlToken(dataDir: string): Promise<string> {
  const file = join(dataDir, TOKEN_FILE);
  let text: string;
  try {
    const info = await stat(file);
    if ((info.mode & 0o077) !== 0) {
      throw new TvmxError("CONTROL_UNAUTHORIZED", `control token ${file} is readable by other users (mode ${(info.mode & 0o777).toString(8)}); run chmod 600 on it`, {
        details: { file, mode: info.mode & 0o777 },
      });
    }
    text = await readFile(file, "utf8");
  } catch (err) {
    if (err instanceof TvmxError) throw err;
    throw new TvmxError("CONTROL_TOKEN_MISSING", `no control token at ${file}: is the host's data directory right, and was the host started once?`, {
      details: { file },
      cause: err,
    });
  }
  const token = text.trim();
  if (!/^[0-9a-f]{64}$/.test(token)) throw new TvmxError("CONTROL_TOKEN_MISSING", `control token ${file} is malformed`, { details: { file } });
  return token;
}

/** Constant-time comparison of a presented token with the expected one. */
export function tokenMatches(presented: string, expected: string): boolean {
  const a = Buffer.from(presented, "utf8");
  const b = Buffer.from(expected, "utf8");
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function writeControlEndpoint(dataDir: string, port: number): Promise<void> {
  await writeFileDurably(join(dataDir, ENDPOINT_FILE), `${JSON.stringify({ port, pid: process.pid })}\n`, 0o600);
}

export async function readControlEndpoint(dataDir: string): Promise<{ port: number; pid: number }> {
  const file = join(dataDir, ENDPOINT_FILE);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, "utf8"));
  } catch (err) {
    throw new TvmxError("CONTROL_UNREACHABLE", `no running host found for data directory ${dataDir} (${file} missing or unreadable)`, {
      details: { file },
      cause: err,
    });
  }
  const { port, pid } = (parsed ?? {}) as { port?: unknown; pid?: unknown };
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65_535 || typeof pid !== "number") {
    throw new TvmxError("CONTROL_UNREACHABLE", `${file} is malformed`, { details: { file } });
  }
  return { port, pid };
}
