/**
 * The benchmark's destination: in this process (the default; both sides share the main thread and the process's
 * CPU figures), or in a child process (`--destination-process`, and with `--link` in the destination's network
 * namespace), which reports its own CPU time and peak memory.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { listenIncoming, WorkerPool, migrationWorkerEntry } from "../../orchestrator/migration/index.js";
import type { CodecReport, Platform } from "../../orchestrator/tdx/index.js";

export interface ImportSummary {
  runningAt: number;
  digest: string;
  /** The destination process's CPU time from accept to commit, ms (0 in this process: it is in the source's figure). */
  processCpuMs: number;
  /** Its main thread's, ms (undefined in this process: the source's main-thread figure covers both). */
  mainCpuMs: number | undefined;
  /** Its import workers' CPU time, ms. */
  importWorkersCpuMs: number;
}

export interface BenchDestination {
  host: string;
  port: number;
  /** A probe port (echo and sink) for the link's limits; only a child process serves one. */
  probePort: number | undefined;
  separateProcess: boolean;
  codecs: CodecReport[];
  /** Readies the next import; resolves with its outcome's promise once the destination takes the migration. */
  accept(): Promise<{ imported: Promise<ImportSummary> }>;
  /** Peak resident memory of the destination's own process (undefined in this process). */
  close(): Promise<{ peakRssMiB: number | undefined }>;
}

function cpuMs(from: { user: number; system: number }, to: { user: number; system: number }): number {
  return (to.user - from.user + to.system - from.system) / 1000;
}

export async function inProcessDestination(options: {
  platform: Platform;
  key: Uint8Array;
  streams: number;
  memoryBytes: number;
  memory: SharedArrayBuffer | undefined;
  /** Called when the TD runs on the destination (the CPU figures are taken there). */
  onCommitted: () => void;
}): Promise<BenchDestination> {
  const pool = await WorkerPool.start({ size: options.streams, entry: migrationWorkerEntry(), name: "bench-import" });
  const listener = await listenIncoming({
    platform: options.platform,
    key: options.key,
    pool,
    memoryProvider: (bytes) => (bytes === options.memoryBytes ? options.memory : undefined),
    onStateChange: (_id, state) => {
      if (state.phase === "committed") options.onCommitted();
    },
  });
  return {
    host: listener.host,
    port: listener.port,
    probePort: undefined,
    separateProcess: false,
    codecs: await pool.codecs(),
    async accept() {
      const incoming = listener.accept();
      const atStart = await pool.cpuUsage();
      const outcome = incoming.then(async (imported): Promise<ImportSummary> => {
        const atEnd = await pool.cpuUsage();
        const teardown = options.platform.module.teardown(imported.td);
        if (teardown.status !== 0n) throw new Error(`teardown of the imported TD failed: ${teardown.status}`);
        return { runningAt: imported.runningAt, digest: imported.digest, processCpuMs: 0, mainCpuMs: undefined, importWorkersCpuMs: cpuMs(atStart, atEnd) };
      });
      return { imported: outcome };
    },
    async close() {
      await listener.close();
      await pool.close();
      return { peakRssMiB: undefined };
    },
  };
}

/** Starts the destination in a child process, under `prefix` (e.g. `ip netns exec NS`) when given. */
export async function childDestination(options: {
  prefix: string[];
  host: string;
  key: Uint8Array;
  streams: number;
  memoryBytes: number;
  freshMemory: boolean;
}): Promise<BenchDestination> {
  const entry = fileURLToPath(new URL("./destination-process.ts", import.meta.url));
  const nodeArgs = [...process.execArgv.filter((a) => !a.startsWith("--inspect")), entry];
  const [cmd, ...args] = options.prefix.length > 0 ? [...options.prefix, process.execPath, ...nodeArgs] : [process.execPath, ...nodeArgs];
  const child = spawn(cmd!, args, {
    stdio: ["pipe", "pipe", "inherit"],
    env: {
      ...process.env,
      BENCH_KEY: Buffer.from(options.key).toString("hex"),
      BENCH_MEMORY_BYTES: String(options.memoryBytes),
      BENCH_STREAMS: String(options.streams),
      BENCH_HOST: options.host,
      BENCH_FRESH_MEMORY: options.freshMemory ? "1" : "0",
    },
  });
  const exited = new Promise<never>((_, reject) => child.once("exit", (code, signal) => reject(new Error(`the destination process exited (${code ?? signal})`))));
  exited.catch(() => undefined);
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async <T>(field: string): Promise<T> => {
    for (;;) {
      const line = await Promise.race([lines.next(), exited]);
      if (line.done) throw new Error("the destination process closed its output");
      const message = JSON.parse(String(line.value)) as Record<string, unknown>;
      if (field in message) return message[field] as T;
      if ("failed" in message) throw new Error(`the destination failed: ${(message.failed as { message: string }).message}`);
    }
  };
  const send = (cmd: string): void => void child.stdin!.write(`${JSON.stringify({ cmd })}\n`);
  try {
    const listening = await next<{ host: string; port: number; probePort: number; codecs: CodecReport[] }>("listening");
    const codecs = listening.codecs;
    return {
      host: options.host,
      port: listening.port,
      probePort: listening.probePort,
      separateProcess: true,
      codecs,
      async accept() {
        send("accept");
        await next("accepting");
        const imported = next<{ runningAt: number; digest: string; cpuMs: number; mainCpuMs: number; importWorkersCpuMs: number }>("imported").then((r): ImportSummary => ({
          runningAt: r.runningAt,
          digest: r.digest,
          processCpuMs: r.cpuMs,
          mainCpuMs: r.mainCpuMs,
          importWorkersCpuMs: r.importWorkersCpuMs,
        }));
        return { imported };
      },
      async close() {
        send("exit");
        const exit = await next<{ peakRssMiB: number }>("exit").catch(() => ({ peakRssMiB: undefined }));
        child.stdin!.end();
        child.kill();
        return exit;
      },
    };
  } catch (err) {
    child.kill();
    throw err;
  }
}
