/**
 * `tvmx host start --config <file>`: runs the host daemon in the foreground until SIGINT/SIGTERM, then stops
 * every subsystem in reverse order. Logs go to stderr as JSON lines; a migration's progress bar is drawn on
 * stderr when it is a terminal. Exit status 0 after a clean stop, 1 when the host cannot start.
 */
import { createProgressBar, type ProgressBar } from "../../progress/index.js";
import { startHostFromConfig } from "../bootstrap.js";

export interface HostStartOptions {
  config: string;
}

export async function run(options: HostStartOptions, io: { out(text: string): void; err(text: string): void }): Promise<number> {
  const bars = new Map<string, ProgressBar>();
  const started = await startHostFromConfig(options.config, {
    onProgress: (p) => {
      let bar = bars.get(p.migrationId);
      if (!bar) {
        bar = createProgressBar(`migration ${p.migrationId.slice(0, 10)}`);
        bars.set(p.migrationId, bar);
      }
      const state = { phase: p.phase, round: p.round, sentBytes: p.bytesSent, totalBytes: p.memoryBytes, elapsedMs: p.elapsedMs };
      if (p.phase === "committed" || p.phase === "aborted") {
        bar.finish(state);
        bars.delete(p.migrationId);
      } else bar.update(state);
    },
  });
  const status = await started.host.status();
  io.out(`host ${status.name} (${status.address}) running: ${status.endpoint}, control port ${status.controlPort}${status.metricsUrl ? `, metrics ${status.metricsUrl}` : ""}`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await started.close();
  return 0;
}
