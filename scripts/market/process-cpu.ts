/**
 * CPU time of another process, from Linux's /proc/<pid>/stat: user + system time of all its threads (the host
 * daemon's main loop, its migration workers and libuv's pool), in milliseconds.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** utime and stime (fields 14 and 15 of /proc/<pid>/stat) in clock ticks. The command name may hold spaces and parentheses: fields are counted after its last ")". */
export function parseProcStat(text: string): { utimeTicks: number; stimeTicks: number } {
  const close = text.lastIndexOf(")");
  if (close < 0) throw new Error(`not a /proc/<pid>/stat line: ${text.slice(0, 80)}`);
  // after ")": field 3 (state) is index 0, so field n is index n - 3
  const fields = text.slice(close + 1).trim().split(/\s+/);
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  if (!Number.isSafeInteger(utime) || !Number.isSafeInteger(stime)) throw new Error(`no utime/stime in /proc/<pid>/stat: ${text.slice(0, 120)}`);
  return { utimeTicks: utime, stimeTicks: stime };
}

let ticksPerSecond: number | undefined;
/** The kernel's clock ticks per second (`getconf CLK_TCK`; 100 where getconf is missing). */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    try {
      const v = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
      ticksPerSecond = Number.isSafeInteger(v) && v > 0 ? v : 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** CPU milliseconds (user + system) `pid` has used so far. */
export function processCpuMs(pid: number): number {
  const { utimeTicks, stimeTicks } = parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
  return ((utimeTicks + stimeTicks) * 1000) / clockTicksPerSecond();
}

/** Samples a process's CPU time every `intervalMs`, so that the CPU used up to any instant can be read afterwards. */
export class CpuSampler {
  readonly samples: { atMs: number; cpuMs: number }[] = [];
  readonly #timer: NodeJS.Timeout;

  constructor(readonly pid: number, intervalMs = 50) {
    this.sample();
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
  }

  /** Takes a sample; a process that is gone (stopped by a failed run) ends the sampling. */
  sample(): void {
    try {
      this.samples.push({ atMs: Date.now(), cpuMs: processCpuMs(this.pid) });
    } catch {
      clearInterval(this.#timer);
    }
  }

  /** CPU ms at `atMs`: the last sample taken at or before it. */
  at(atMs: number): number {
    let best = this.samples[0]!;
    for (const s of this.samples) if (s.atMs <= atMs) best = s;
    return best.cpuMs;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.sample();
  }
}
