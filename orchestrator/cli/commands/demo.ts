/**
 * `tvmx demo` (`npm run demo`): the whole mission on this machine (see orchestrator/demo/run-demo.ts).
 * Prints the summary (`--json`: one JSON object); exit status 0 only when every check held. Ctrl-C stops every
 * process the demo started before exiting.
 */
import { formatSummary, runDemo } from "../../demo/index.js";
import type { CliIo } from "../io.js";
import { printJson } from "./output.js";

export interface DemoCommandOptions {
  json?: boolean;
  workDir?: string;
  keep?: boolean;
}

export async function run(options: DemoCommandOptions, io: CliIo): Promise<number> {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    io.err(`${signal}: stopping every process the demo started…`);
    controller.abort(new Error(`received ${signal}`));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const started = performance.now();
  try {
    const summary = await runDemo({
      ...(options.workDir !== undefined ? { workDir: options.workDir } : {}),
      keep: options.keep === true,
      signal: controller.signal,
      // Steps go to stderr, so that `--json` leaves stdout to the one JSON object.
      onStep: (step) => io.err(`[${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${step}`),
    });
    if (options.json) printJson(io, summary);
    else io.out(formatSummary(summary));
    return summary.ok ? 0 : 1;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
