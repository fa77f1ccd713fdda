/**
 * A host daemon as a child process, run exactly as an operator runs it: `tvmx host start --config <file> --json`.
 * Its stdout and stderr (JSON log lines) go to a log file; it is ready when it printed its "started" line.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { join, resolve } from "node:path";
import { ControlClient } from "../control/index.js";
import { TvmxError } from "../errors/index.js";
import { ENGINE_NODE_FLAGS } from "../runtime/index.js";
import { withTimeout } from "../util/index.js";

const PROJECT_ROOT = resolve(import.meta.dirname, "..", "..");
/** The `tvmx` binary of this checkout. */
export const TVMX_BIN = join(PROJECT_ROOT, "bin", "tvmx.mjs");

export interface HostProcessOptions {
  name: string;
  configFile: string;
  dataDir: string;
  logFile: string;
  /** Added to this process's environment (the keystore password, test-only fault switches). */
  env?: Record<string, string>;
  readyTimeoutMs?: number;
}

export interface HostProcess {
  name: string;
  pid: number;
  /** The status the host printed when it came up (address, endpoint, ports). */
  started: Record<string, unknown> & { address: string; controlPort: number };
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** True once the process has exited. */
  readonly gone: boolean;
  /** SIGTERM (a clean close), then SIGKILL after `graceMs`; resolves when the process is gone. Idempotent. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL: a crash. */
  kill(): Promise<void>;
  /** A control API client for this host. */
  client(timeoutMs?: number): Promise<ControlClient>;
}

export async function spawnHostProcess(options: HostProcessOptions): Promise<HostProcess> {
  const log = createWriteStream(options.logFile, { flags: "a" });
  const child: ChildProcess = spawn(process.execPath, [...ENGINE_NODE_FLAGS, TVMX_BIN, "host", "start", "--config", options.configFile, "--json"], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, TVMX_EXIT_WITH_PARENT: "1", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let gone = false;
  let tail = "";
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.on("exit", (code, signal) => {
      gone = true;
      res({ code, signal });
    }),
  );
  child.stderr!.on("data", (chunk: Buffer) => {
    log.write(chunk);
    tail = (tail + chunk.toString()).slice(-4000);
  });
  let stdoutBuffer = "";
  const started = new Promise<HostProcess["started"]>((resolveStarted, rejectStarted) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      log.write(chunk);
      stdoutBuffer += chunk.toString();
      let nl: number;
      while ((nl = stdoutBuffer.indexOf("\n")) >= 0) {
        const line = stdoutBuffer.slice(0, nl);
        stdoutBuffer = stdoutBuffer.slice(nl + 1);
        try {
          const parsed = JSON.parse(line) as { event?: string };
          if (parsed.event === "started") resolveStarted(parsed as HostProcess["started"]);
        } catch {
          // not a status line
        }
      }
    });
    void exited.then(({ code, signal }) =>
      rejectStarted(
        new TvmxError("HOST_SHUTTING_DOWN", `host ${options.name} exited before it was up (code ${code}, signal ${signal}): ${lastError(tail)}`, {
          details: { name: options.name, code, signal, logFile: options.logFile },
        }),
      ),
    );
  });
  void exited.then(() => log.end());
  const stopWith = async (signal: NodeJS.Signals, graceMs: number) => {
    if (gone) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  };
  const timeoutMs = options.readyTimeoutMs ?? 90_000;
  try {
    const status = await withTimeout(
      started,
      timeoutMs,
      () => new TvmxError("HOST_PEER_TIMEOUT", `host ${options.name} did not come up within ${timeoutMs} ms: ${lastError(tail)}`, { details: { name: options.name, logFile: options.logFile } }),
    );
    return {
      name: options.name,
      pid: child.pid!,
      started: status,
      exited,
      get gone() {
        return gone;
      },
      stop: (graceMs = 10_000) => stopWith("SIGTERM", graceMs),
      kill: () => stopWith("SIGKILL", 0),
      client: (t) => ControlClient.fromDataDir(options.dataDir, t === undefined ? {} : { timeoutMs: t }),
    };
  } catch (err) {
    await stopWith("SIGKILL", 0);
    throw err;
  }
}

/** The most useful line of a host's stderr for an error message: its last error, else its last line. */
function lastError(tail: string): string {
  const lines = tail.split("\n").filter((l) => l.trim() !== "");
  const errorLine = [...lines].reverse().find((l) => l.startsWith("error") || l.includes('"level":"error"'));
  return (errorLine ?? lines.at(-1) ?? "(no output)").slice(0, 600);
}
