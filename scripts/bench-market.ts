/**
 * Benchmark of how the market's cost grows with the number of destinations: for each N of the sweep it starts a
 * source and N destination host daemons (real processes, as the demo does) on two local `hardhat node` chains,
 * migrates a TD (or `--concurrent` TDs at once) by auction, and reports the time from the migrate call to Allocated
 * and to Committed beyond the auction windows (configuration, printed), the source daemon's CPU per acknowledger,
 * the JSON-RPC requests and eth_getLogs blocks of the source per auction (a counting proxy in front of the node for
 * the source only), and the gas the source pays; then the targets against the figures.
 *
 *   npm run bench:market                                  the default sweep (N = 2, 4, 8, 12), a table
 *   npm run -s bench:market -- --json                     exactly one JSON object on stdout (progress on stderr)
 *   npm run bench:market -- --hosts 2,4 --runs 3 --concurrent 4 [--commit-window-sec 8] [--reveal-window-sec 6]
 *                           [--td-memory-mib 16] [--destination-slots 2] [--idle-ms 3000] [--mining interval|auto] [--keep]
 *
 * --mining interval (the default): after the set-up both chains mine one block a second and no block per
 * transaction, like a chain with a 1 s block time, so the windows last as long on the wall clock as configured;
 * "auto" keeps the demo's automining (a block per transaction besides), under which the windows shrink with N.
 *
 * Each run starts its own cluster (fresh chains), so runs do not share state; with `--runs K` > 1 the figures are
 * medians over the runs. Every process a run starts is stopped before the next one begins.
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { runMarket, type MarketRunResult } from "./market/market-run.js";
import { growth, summarize, table, TARGETS, type ConfigSummary } from "./market/report.js";

let parsed: ReturnType<typeof parseOptions>;
try {
  parsed = parseOptions();
} catch (err) {
  process.stderr.write(`error [CLI_USAGE]: ${(err as Error).message}\n`);
  process.exit(2);
}
const args = parsed.values;

function parseOptions() {
  return parseArgs({
  options: {
    json: { type: "boolean", default: false },
    hosts: { type: "string", default: "2,4,8,12" },
    runs: { type: "string", default: "1" },
    concurrent: { type: "string", default: "1" },
    "commit-window-sec": { type: "string", default: "8" },
    "reveal-window-sec": { type: "string", default: "6" },
    "ack-timeout-ms": { type: "string", default: "10000" },
    "td-memory-mib": { type: "string", default: "16" },
    "destination-slots": { type: "string" },
    "idle-ms": { type: "string", default: "3000" },
    mining: { type: "string", default: "interval" },
    keep: { type: "boolean", default: false },
  },
  strict: true,
  });
}

function fail(message: string): never {
  process.stderr.write(`error [CLI_BAD_ARGUMENT]: ${message}\n`);
  process.exit(2);
}

function int(name: keyof typeof args, min: number, max: number): number {
  const raw = args[name];
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) fail(`--${name} must be an integer from ${min} to ${max} (got ${String(raw)})`);
  return v;
}

const hostsArg = String(args.hosts);
const sweep = hostsArg.split(",").map((s) => Number(s.trim()));
if (sweep.length === 0 || sweep.some((n) => !Number.isInteger(n) || n < 1 || n > 32)) fail(`--hosts must be a comma-separated list of destination counts from 1 to 32 (got ${hostsArg})`);
const config = {
  runs: int("runs", 1, 20),
  concurrent: int("concurrent", 1, 16),
  commitWindowSec: int("commit-window-sec", 2, 600),
  revealWindowSec: int("reveal-window-sec", 2, 600),
  ackTimeoutMs: int("ack-timeout-ms", 1000, 120_000),
  tdMemoryMiB: int("td-memory-mib", 1, 1024),
  idleMs: int("idle-ms", 500, 60_000),
  ...(args["destination-slots"] !== undefined ? { destinationSlots: int("destination-slots", 1, 64) } : {}),
};
if (config.destinationSlots !== undefined && sweep.some((n) => n * config.destinationSlots! < config.concurrent)) {
  fail(`--destination-slots ${config.destinationSlots}: the smallest N cannot hold ${config.concurrent} concurrent TDs`);
}
const miningArg = String(args.mining);
if (miningArg !== "interval" && miningArg !== "auto") fail(`--mining must be "interval" or "auto" (got ${miningArg})`);
const mining: "interval" | "auto" = miningArg;
const json = args.json === true;
const progress = (line: string) => process.stderr.write(`${line}\n`);

async function main(): Promise<void> {
  const loadBefore = loadavg();
  const started = performance.now();
  const results: MarketRunResult[] = [];
  const configs: ConfigSummary[] = [];
  for (const n of [...new Set(sweep)].sort((a, b) => a - b)) {
    const runs: MarketRunResult[] = [];
    for (let run = 1; run <= config.runs; run++) {
      progress(`bench:market: N=${n} destinations, ${config.concurrent} TD(s) at once, run ${run}/${config.runs}`);
      const result = await runMarket({ destinations: n, ...config, mining, keep: args.keep === true, onStep: (s) => progress(`  ${s}`) });
      for (const c of result.checks) if (!c.ok) progress(`  CHECK FAILED: ${c.check}${c.detail ? ` (${c.detail})` : ""}`);
      progress(`  beyond the windows: to Allocated ${result.beyondWindowsToAllocatedMs.toFixed(0)} ms, to Committed ${result.beyondWindowsToCommittedMs.toFixed(0)} ms; RPC ${result.rpc.requests} requests`);
      runs.push(result);
      results.push(result);
    }
    configs.push(summarize(runs));
  }
  const g = growth(configs);
  const windows = { commit: config.commitWindowSec, reveal: config.revealWindowSec };
  const ok = configs.every((c) => c.ok);
  if (json) {
    process.stdout.write(
      `${JSON.stringify({
        benchmark: "market",
        config: { hosts: sweep, ...config, mining, windowsSec: windows },
        targets: TARGETS,
        configs,
        growth: g ?? null,
        ok,
        runs: results,
        loadAverage: { before: loadBefore, after: loadavg() },
        wallMs: performance.now() - started,
      })}\n`,
    );
  } else {
    process.stdout.write(`TVM Exchange market benchmark (source + N destinations, real host processes, local hardhat nodes)\n`);
    process.stdout.write(`${table(configs, g, windows)}\n`);
    process.stdout.write(`load average before ${loadBefore.map((x) => x.toFixed(2)).join(" ")}, after ${loadavg().map((x) => x.toFixed(2)).join(" ")}\n`);
  }
  process.exitCode = ok ? 0 : 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:market failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
