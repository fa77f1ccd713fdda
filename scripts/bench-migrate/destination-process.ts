/**
 * The benchmark's destination host in its own process (`bench:migrate --link`, where it runs in the destination's
 * network namespace, or `--destination-process`). Driven by JSON lines: on stdin `{"cmd":"accept"}` (take the next
 * migration) and `{"cmd":"exit"}`; on stdout `{"listening":...}` once, `{"accepting":true}`, then `{"imported":...}`
 * (or `{"failed":...}`) per migration, and `{"exit":{"peakRssMiB"}}` last. Besides the migration listener it serves
 * a probe port for the link's limits: a connection that starts with "e" is echoed (round trips), one that starts
 * with "s" is a sink that answers one byte once it has received the 8-byte length it was told.
 *
 * Environment: BENCH_KEY (hex), BENCH_MEMORY_BYTES, BENCH_STREAMS, BENCH_HOST (listen address), BENCH_FRESH_MEMORY.
 */
import { createServer } from "node:net";
import type { AddressInfo, Socket } from "node:net";
import { createInterface } from "node:readline";
import { listenIncoming, migrationWorkerEntry, WorkerPool } from "../../orchestrator/migration/index.js";
import { Platform } from "../../orchestrator/tdx/index.js";

const key = Buffer.from(process.env.BENCH_KEY ?? "", "hex");
const memoryBytes = Number(process.env.BENCH_MEMORY_BYTES);
const streams = Number(process.env.BENCH_STREAMS ?? "2");
const host = process.env.BENCH_HOST ?? "127.0.0.1";

const say = (value: unknown): void => void process.stdout.write(`${JSON.stringify(value)}\n`);

function cpuMs(from: NodeJS.CpuUsage, to: NodeJS.CpuUsage): number {
  return (to.user - from.user + to.system - from.system) / 1000;
}

function serveProbe(socket: Socket): void {
  socket.setNoDelay(true);
  let mode: "e" | "s" | undefined;
  let expected = -1;
  let received = 0;
  let header = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    if (mode === undefined) {
      mode = chunk[0] === 0x65 ? "e" : "s";
      chunk = chunk.subarray(1);
    }
    if (mode === "e") {
      socket.write(chunk);
      return;
    }
    if (expected < 0) {
      header = Buffer.concat([header, chunk]);
      if (header.length < 8) return;
      expected = Number(header.readBigUInt64LE(0));
      chunk = header.subarray(8);
    }
    received += chunk.length;
    if (received >= expected) socket.write(Buffer.from([1]));
  });
  socket.on("error", () => undefined);
}

async function main(): Promise<void> {
  const platform = new Platform({ name: "bench-destination" });
  const pool = await WorkerPool.start({ size: streams, entry: migrationWorkerEntry(), name: "bench-import" });
  const codecs = await pool.codecs();
  let memory: SharedArrayBuffer | undefined;
  if (process.env.BENCH_FRESH_MEMORY !== "1") {
    memory = new SharedArrayBuffer(memoryBytes);
    new Uint8Array(memory).fill(1);
  }
  let cpuAtCommit: NodeJS.CpuUsage | undefined;
  let mainCpuAtCommit: NodeJS.CpuUsage | undefined;
  const listener = await listenIncoming({
    platform,
    key,
    pool,
    host,
    memoryProvider: (bytes) => (bytes === memoryBytes ? memory : undefined),
    onStateChange: (_id, state) => {
      if (state.phase === "committed") {
        cpuAtCommit = process.cpuUsage();
        mainCpuAtCommit = process.threadCpuUsage();
      }
    },
  });
  const probe = createServer(serveProbe);
  await new Promise<void>((resolve) => probe.listen(0, host, resolve));
  say({ listening: { host: listener.host, port: listener.port, probePort: (probe.address() as AddressInfo).port, codecs } });

  for await (const line of createInterface({ input: process.stdin })) {
    const { cmd } = JSON.parse(line) as { cmd: string };
    if (cmd === "exit") break;
    if (cmd !== "accept") continue;
    const incoming = listener.accept();
    const poolAtStart = await pool.cpuUsage();
    const cpuAtStart = process.cpuUsage();
    const mainAtStart = process.threadCpuUsage();
    say({ accepting: true });
    try {
      const imported = await incoming;
      const poolAtEnd = await pool.cpuUsage();
      const teardown = platform.module.teardown(imported.td);
      if (teardown.status !== 0n) throw new Error(`teardown of the imported TD failed: ${teardown.status}`);
      say({
        imported: {
          runningAt: imported.runningAt,
          digest: imported.digest,
          bytesReceived: imported.bytesReceived,
          cpuMs: cpuMs(cpuAtStart, cpuAtCommit!),
          mainCpuMs: cpuMs(mainAtStart, mainCpuAtCommit!),
          importWorkersCpuMs: cpuMs(poolAtStart, poolAtEnd),
        },
      });
    } catch (err) {
      say({ failed: { message: (err as Error).message } });
    }
  }
  probe.close();
  await listener.close();
  await pool.close();
  say({ exit: { peakRssMiB: process.resourceUsage().maxRSS / 1024 } });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench-migrate destination failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
