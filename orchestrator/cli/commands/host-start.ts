/**
 * `tvmx host start --config <file>`: runs the host daemon in the foreground until SIGINT or SIGTERM, then
 * closes it cleanly (subsystems in reverse order, journal last). Logs are JSON lines on stderr; stdout gets one
 * line when the host is up (`--json`: the host's status as one JSON object, which scripts wait for).
 * A second signal during the close exits at once. With TVMX_EXIT_WITH_PARENT=1 in its environment (the demo and
 * the tests set it) the host also closes when the process that started it is gone, even if that one was killed
 * with SIGKILL and could not stop it.
 */
import { startHostFromConfig } from "../../host/index.js";
import { createProgressBar, type ProgressBar } from "../../progress/index.js";
import type { CliIo } from "../io.js";
import { printJsonLine } from "./output.js";

export interface HostStartOptions {
  config: string;
  json?: boolean;
}

const SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM"];

export async function run(options: HostStartOptions, io: CliIo): Promise<number> {
  const controller = new AbortController();
  let stopRequested: (signal: NodeJS.Signals) => void = () => undefined;
  const stopped = new Promise<NodeJS.Signals>((resolve) => (stopRequested = resolve));
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      io.err(`${signal} again: exiting without a clean close`);
      process.exit(130);
    }
    controller.abort(new Error(`received ${signal}`));
    stopRequested(signal);
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  const parent = process.ppid;
  const orphanWatch =
    process.env.TVMX_EXIT_WITH_PARENT === "1"
      ? setInterval(() => {
          // a dead parent's children are adopted by another process: the parent id changes
          if (process.ppid !== parent && signals === 0) {
            io.err("the process that started this host is gone: stopping");
            signals += 1;
            controller.abort(new Error("parent process gone"));
            stopRequested("SIGTERM");
          }
        }, 1_000).unref()
      : undefined;
  const bars = new Map<string, ProgressBar>();
  try {
    const started = await startHostFromConfig(options.config, {
      signal: controller.signal,
      onProgress: (p) => {
        let bar = bars.get(p.migrationId);
        if (!bar) bars.set(p.migrationId, (bar = createProgressBar(`${p.migrationId.slice(0, 10)}…`)));
        const state = { phase: p.phase, sentBytes: p.bytesSent, totalBytes: p.memoryBytes, round: p.round, elapsedMs: p.elapsedMs };
        if (p.phase === "committed" || p.phase === "aborted" || p.phase === "outcome-unknown") {
          bar.finish(state);
          bars.delete(p.migrationId);
        } else bar.update(state);
      },
    });
    const status = await started.host.status();
    if (options.json) printJsonLine(io, { event: "started", ...status });
    else io.out(`host ${status.name} (${status.address}) running: channel ${status.endpoint}, control port ${status.controlPort}${status.metricsUrl ? `, metrics ${status.metricsUrl}` : ""}; Ctrl-C stops it`);
    const signal = await stopped;
    started.host.context.logger.info("stopping", { signal });
    await started.close();
    if (!options.json) io.out(`host ${status.name} stopped`);
    return 0;
  } finally {
    for (const s of SIGNALS) process.off(s, onSignal);
    clearInterval(orphanWatch);
  }
}
