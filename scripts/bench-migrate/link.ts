/**
 * An emulated network link for `bench:migrate --link`: three network namespaces, source ⟷ link ⟷ destination,
 * joined by two veth pairs; in the link namespace native/link_emulator.c bridges the two pairs and gives each
 * direction the link's rate, one-way delay (RTT / 2) and loss. (`tc qdisc ... netem` does the same in one veth pair,
 * but this machine's kernel is built without sch_netem; the emulator needs only AF_PACKET.)
 *
 * Needs root, iproute2's `ip` and a C compiler (the emulator is compiled on first use into build/). `linkUnavailable()`
 * says why not, and the benchmark then skips. Everything set up is torn down by `tearDown()`, and on exit, Ctrl-C
 * (SIGINT), SIGTERM and errors by the handlers `setUpLink` installs.
 */
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export interface LinkProfile {
  name: string;
  rateBitsPerSec: number;
  rttMs: number;
  lossPercent: number;
}

export const LINK_PROFILES: Readonly<Record<string, LinkProfile>> = Object.freeze({
  dc: { name: "dc", rateBitsPerSec: 10e9, rttMs: 0.1, lossPercent: 0 },
  metro: { name: "metro", rateBitsPerSec: 1e9, rttMs: 2, lossPercent: 0 },
  wan: { name: "wan", rateBitsPerSec: 1e9, rttMs: 20, lossPercent: 0.01 },
});

export interface LinkStats {
  forward: { frames: number; bytes: number; lost: number; tailDropped: number; sendFailed: number };
  backward: { frames: number; bytes: number; lost: number; tailDropped: number; sendFailed: number };
}

export interface Link {
  profile: LinkProfile;
  /** Network namespaces of the two ends (`ip netns exec NAME ...`). */
  sourceNamespace: string;
  destinationNamespace: string;
  sourceAddress: string;
  destinationAddress: string;
  /** The router's buffer in front of each direction, bytes (tail drop beyond it). */
  queueBytes: number;
  /** Stops the emulator (its counters are returned) and deletes the namespaces; safe to call twice. */
  tearDown(): Promise<LinkStats | undefined>;
}

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const emulatorSource = join(root, "native", "link_emulator.c");
const emulatorBinary = join(root, "build", "link_emulator");

/** Why the link cannot be set up here (undefined when it can). */
export function linkUnavailable(): string | undefined {
  if (process.platform !== "linux") return "network namespaces need Linux";
  if (process.getuid?.() !== 0) return "it needs root (network namespaces, veth pairs, AF_PACKET sockets)";
  if (spawnSync("ip", ["-V"], { stdio: "ignore" }).status !== 0) return "iproute2's `ip` is not installed";
  if (!existsSync(emulatorBinary) && spawnSync("cc", ["--version"], { stdio: "ignore" }).status !== 0) {
    return "no C compiler (cc) to build native/link_emulator.c";
  }
  return undefined;
}

function buildEmulator(): void {
  if (existsSync(emulatorBinary) && statSync(emulatorBinary).mtimeMs >= statSync(emulatorSource).mtimeMs) return;
  mkdirSync(dirname(emulatorBinary), { recursive: true });
  const r = spawnSync("cc", ["-O2", "-Wall", "-o", emulatorBinary, emulatorSource], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building the link emulator failed: ${r.stderr || r.error?.message}`);
}

function ip(args: string[]): void {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")} failed: ${(r.stderr || r.error?.message || "").trim()}`);
}

/** Sets up the namespaces and starts the emulator; resolves once frames flow. */
export async function setUpLink(profile: LinkProfile): Promise<Link> {
  buildEmulator();
  const tag = `tvmx${process.pid}`;
  const ns = { source: `${tag}-src`, link: `${tag}-link`, destination: `${tag}-dst` };
  // Interface names have at most 15 characters.
  const dev = { s0: `tvx${process.pid}s0`, s1: `tvx${process.pid}s1`, d0: `tvx${process.pid}d0`, d1: `tvx${process.pid}d1` };
  let emulator: ChildProcess | undefined;
  let stats: Promise<LinkStats | undefined> = Promise.resolve(undefined);
  let tornDown = false;
  const deleteNamespaces = (): void => {
    for (const n of Object.values(ns)) spawnSync("ip", ["netns", "del", n], { stdio: "ignore" });
  };
  const onExit = (): void => {
    // Last resort (process.exit, an uncaught error): synchronous.
    if (tornDown) return;
    emulator?.kill("SIGKILL");
    deleteNamespaces();
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    process.stderr.write(`bench-migrate: ${signal}: tearing the link down\n`);
    onExit();
    tornDown = true;
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.on("exit", onExit);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const tearDown = async (): Promise<LinkStats | undefined> => {
    if (tornDown) return stats;
    tornDown = true;
    if (emulator && emulator.exitCode === null) emulator.kill("SIGTERM");
    const result = await Promise.race([stats, new Promise<undefined>((r) => setTimeout(() => r(undefined), 2000))]);
    emulator?.kill("SIGKILL");
    deleteNamespaces();
    process.off("exit", onExit);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    return result;
  };
  // A router buffer of one bandwidth-delay product (at least 1 MiB): TCP fills it, it never drops a burst of the
  // window it needs.
  const queueBytes = Math.max(1 << 20, Math.round((profile.rateBitsPerSec / 8) * (profile.rttMs / 1000)));
  try {
    for (const n of Object.values(ns)) {
      ip(["netns", "add", n]);
      ip(["-n", n, "link", "set", "lo", "up"]);
      // No IPv6 chatter (router solicitations, DAD) on the emulated link.
      spawnSync("ip", ["netns", "exec", n, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"], { stdio: "ignore" });
    }
    ip(["link", "add", dev.s0, "netns", ns.source, "type", "veth", "peer", "name", dev.s1, "netns", ns.link]);
    ip(["link", "add", dev.d0, "netns", ns.destination, "type", "veth", "peer", "name", dev.d1, "netns", ns.link]);
    ip(["-n", ns.source, "addr", "add", "10.213.0.1/24", "dev", dev.s0]);
    ip(["-n", ns.destination, "addr", "add", "10.213.0.2/24", "dev", dev.d0]);
    for (const [n, d] of [[ns.source, dev.s0], [ns.link, dev.s1], [ns.link, dev.d1], [ns.destination, dev.d0]] as const) {
      ip(["-n", n, "link", "set", d, "up"]);
    }
    const args = [
      dev.s1,
      dev.d1,
      String(Math.round(profile.rateBitsPerSec)),
      String(Math.round((profile.rttMs * 1000) / 2)),
      String(Math.round(profile.lossPercent * 10_000)),
      String(queueBytes),
      String(process.pid),
    ];
    emulator = spawn("ip", ["netns", "exec", ns.link, emulatorBinary, ...args], { stdio: ["ignore", "pipe", "inherit"] });
    const lines = createInterface({ input: emulator.stdout! })[Symbol.asyncIterator]();
    const first = await Promise.race([
      lines.next(),
      new Promise<never>((_, reject) => emulator!.once("exit", (code) => reject(new Error(`the link emulator exited (${code}) before it was ready`)))),
    ]);
    if (first.done || !String(first.value).includes("ready")) throw new Error("the link emulator did not start");
    stats = lines.next().then((l) => (l.done ? undefined : (JSON.parse(String(l.value)) as LinkStats)), () => undefined);
  } catch (err) {
    await tearDown();
    throw err;
  }
  return {
    profile,
    sourceNamespace: ns.source,
    destinationNamespace: ns.destination,
    sourceAddress: "10.213.0.1",
    destinationAddress: "10.213.0.2",
    queueBytes,
    tearDown,
  };
}
