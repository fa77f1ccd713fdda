/** What the end-to-end tests share: the `tvmx` binary run as a user runs it, log tails, and cluster set-up. */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Wallet } from "ethers";
import { connectChain, HostRegistryClient, SUITE_ERROR_INTERFACES, TxSender } from "../../orchestrator/chain/index.js";
import { Cluster, type ClusterOptions } from "../../orchestrator/demo/cluster.js";
import { TVMX_BIN } from "../../orchestrator/demo/host-process.js";

export const ROOT = join(import.meta.dirname, "../..");

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `tvmx <args>` in a child process and waits for it. */
export function tvmx(args: string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [TVMX_BIN, ...args], { cwd: ROOT, env: { ...process.env, ...options.env }, timeout: options.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The JSON log records of a host's log file (other lines skipped). */
export async function logRecords(file: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(file, "utf8").catch(() => "");
  const out: Record<string, unknown>[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a line being written
    }
  }
  return out;
}

/** Polls a host's log until a record matches (every 25 ms), for at most `timeoutMs`. */
export async function waitForLog(file: string, match: (r: Record<string, unknown>) => boolean, timeoutMs = 120_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = (await logRecords(file)).find(match);
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error(`no log record matched in ${file} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Starts a cluster in a fresh temporary directory; `stop()` stops it and removes the directory. */
export async function startTestCluster(options: Omit<ClusterOptions, "workDir">): Promise<{ cluster: Cluster; stop(): Promise<void> }> {
  const workDir = await mkdtemp(join(tmpdir(), "tvmx-e2e-"));
  const cluster = new Cluster({ ...options, workDir });
  try {
    await cluster.setUp();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return {
    cluster,
    stop: async () => {
      await cluster.stop();
      if (process.env.TVMX_KEEP_E2E === undefined) await rm(workDir, { recursive: true, force: true });
    },
  };
}

/** The control API's view of a TD, as the e2e tests read it. */
export interface TdView {
  tdId: string;
  tvmId: string;
  running: boolean;
  workloadBytesWritten: number;
}

/**
 * One cluster for a mocha suite: started in `before`, stopped (and its directory removed) in `after`. Returns an
 * accessor, since the cluster exists only once `before` has run.
 */
export function clusterForSuite(options: Omit<ClusterOptions, "workDir">): () => Cluster {
  let started: { cluster: Cluster; stop(): Promise<void> } | undefined;
  before(async () => {
    started = await startTestCluster(options);
  });
  after(async () => {
    await started?.stop();
  });
  return () => {
    if (!started) throw new Error("the suite's cluster is not started (used outside its tests?)");
    return started.cluster;
  };
}

/** True while a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Publishes `keyFingerprint` as the channel key of the registered host `wallet` (as a host process does when it
 * starts), keeping the rest of its registration, so that a test can dial the channel as that host with an
 * identity of its own. Waits out the hosts' 2 s cache of registry entries.
 */
export async function publishChannelKey(cluster: Cluster, wallet: Wallet, keyFingerprint: string): Promise<void> {
  const chain = await connectChain({ rpcUrl: cluster.chain.node.url, confirmations: 1, pollIntervalMs: 200, rpcRetries: 3 });
  try {
    const registry = new HostRegistryClient(chain, cluster.chain.addresses.hostRegistry, new TxSender(chain, wallet, { errorInterfaces: SUITE_ERROR_INTERFACES }));
    const info = await registry.hostInfo(wallet.address);
    await registry.ensureRegistered({ endpoint: info.endpoint, channelKeyFingerprint: keyFingerprint, platform: info.platform, capacity: info.capacity }, 10n ** 18n);
    const published = (await registry.hostInfo(wallet.address)).channelKeyFingerprint;
    if (published !== keyFingerprint) throw new Error(`the registry has channel key ${published} for ${wallet.address}, not ${keyFingerprint}`);
  } finally {
    chain.close();
  }
  await new Promise((r) => setTimeout(r, 2_500));
}
