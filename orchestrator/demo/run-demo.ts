/**
 * The demo (`npm run demo`, `tvmx demo`): on one machine, two local chains, the suite deployed on both, four host
 * processes — a source, and three destinations: one whose TCB is out of date (the policy refuses it) and two with
 * different free capacity (they bid different prices) — a TD with a running guest created on the source, migrated
 * by auction, and the outcome checked on the hosts and on both chains. Every process it started is stopped before
 * it returns, also when it fails or is interrupted.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getAddress } from "ethers";
import { AllocationRegistryClient, connectChain, MigrationAuctionClient, type ChainConnection } from "../chain/index.js";
import { describeError, TvmxError } from "../errors/index.js";
import { pollUntil } from "../util/index.js";
import { Cluster, OUT_OF_DATE_TCB, type ClusterHostSpec } from "./cluster.js";
import type { DemoSummary, DemoTx } from "./summary.js";

export const DEMO_HOSTS: ClusterHostSpec[] = [
  { name: "source", capacity: { tvmSlots: 4, memoryMiB: 1024 } },
  { name: "dest-roomy", capacity: { tvmSlots: 8, memoryMiB: 4096 }, mirror: true },
  { name: "dest-cramped", capacity: { tvmSlots: 2, memoryMiB: 512 }, mirror: true },
  { name: "dest-stale", capacity: { tvmSlots: 8, memoryMiB: 4096 }, mirror: true, platform: { teeTcbSvnRest: OUT_OF_DATE_TCB } },
];

export interface DemoOptions {
  /** Where keys, configs, journals and logs go (default: a new temporary directory). */
  workDir?: string;
  /** Keep the work directory after a successful run (it is always kept after a failure). */
  keep?: boolean;
  /** The TD: memory and its guest's write rate. */
  td?: { memoryMiB: number; vcpus: number; bytesPerSecond: number; hotSetMiB: number };
  onStep?: (step: string) => void;
  signal?: AbortSignal;
}

const DEFAULT_TD = { memoryMiB: 64, vcpus: 2, bytesPerSecond: 4_000_000, hotSetMiB: 4 };

/** Runs the demo and returns its checked summary (`summary.ok`); throws only when it could not run at all. */
export async function runDemo(options: DemoOptions = {}): Promise<DemoSummary> {
  const t0 = performance.now();
  const step = options.onStep ?? (() => undefined);
  const workDir = options.workDir ?? (await mkdtemp(join(tmpdir(), "tvmx-demo-")));
  const cluster = new Cluster({ workDir, hosts: DEMO_HOSTS, onStep: step, auction: { commitWindowSec: 8, revealWindowSec: 6, ackTimeoutMs: 10_000 } });
  const chains: ChainConnection[] = [];
  let ok = false;
  step(`keys, configs, journals and host logs go to ${workDir}`);
  try {
    await abortable(cluster.setUp(), options.signal);
    const nameOf = (address: string | undefined) => [...cluster.hosts.values()].find((h) => address !== undefined && h.address === getAddress(address))?.name ?? "unknown";
    const source = await cluster.api("source", 240_000);
    const td = options.td ?? DEFAULT_TD;
    step(`creating a ${td.memoryMiB} MiB TD with a running guest on the source`);
    const created = await source.call("POST /v1/tds", {
      body: { memoryMiB: td.memoryMiB, vcpus: td.vcpus, workload: { bytesPerSecond: td.bytesPerSecond, hotSetMiB: td.hotSetMiB, seed: 42 } },
    });
    step(`migrating ${created.tdId}: broadcast, acknowledgements, sealed-bid auction, live migration`);
    const answer = await abortable(source.call("POST /v1/tds/:id/migrate", { params: { id: created.tdId }, body: {} }), options.signal);

    step("checking the outcome on the hosts and on both chains");
    const chain = await connectChain({ rpcUrl: cluster.chain.node.url, confirmations: 1, pollIntervalMs: 200, rpcRetries: 3 });
    chains.push(chain);
    const mirrorInfo = cluster.mirror!;
    const mirrorChain = await connectChain({ rpcUrl: mirrorInfo.node.url, confirmations: 1, pollIntervalMs: 200, rpcRetries: 3 });
    chains.push(mirrorChain);
    const auction = new MigrationAuctionClient(chain, cluster.chain.addresses.migrationAuction);
    const allocations = new AllocationRegistryClient(chain, cluster.chain.addresses.allocationRegistry);
    const mirrorRegistry = new AllocationRegistryClient(mirrorChain, mirrorInfo.addresses.allocationRegistry);
    const auctionId = answer.auctionId === undefined ? undefined : BigInt(answer.auctionId);
    const allocationId = answer.allocationId === undefined ? undefined : BigInt(answer.allocationId);

    const bids = await Promise.all(
      answer.bids.map(async (b) => {
        const info = auctionId === undefined ? undefined : await auction.bid(auctionId, b.host);
        return { host: b.host, name: nameOf(b.host), priceWei: info && info.price > 0n ? info.price.toString() : undefined, status: info?.status ?? "?", ...(b.txHash ? { commitTx: b.txHash } : {}) };
      }),
    );
    const onChain = allocationId === undefined ? undefined : await allocations.allocation(allocationId);
    const allocationTx = answer.outcome?.allocationTx;
    const allocationBlock = allocationTx ? (await chain.provider.getTransactionReceipt(allocationTx))?.blockNumber : undefined;
    // The winner records the mirror after confirming: it may land a moment after the source's answer.
    const winner = answer.winner;
    const mirror = allocationId === undefined || winner === undefined ? undefined : await poll(() => mirrorRegistry.mirrored(chain.chainId, allocationId, winner), 30_000, options.signal);
    const winnerName = answer.winner ? nameOf(answer.winner) : undefined;
    const winnerTds = winnerName ? await (await cluster.api(winnerName)).call("GET /v1/tds") : [];
    const sourceTds = await source.call("GET /v1/tds");
    // Let the parties finish their withdrawals, then read every host's transactions.
    await settle(cluster, winnerName, options.signal);
    const transactions: DemoTx[] = [];
    for (const h of cluster.hosts.values()) {
      const list = await (await cluster.api(h.name)).call("GET /v1/transactions");
      for (const t of list) transactions.push({ host: h.name, label: t.label, chainId: String(t.chainId), hash: t.hash, blockNumber: t.blockNumber, gasUsed: String(t.gasUsed), feeWei: String(t.feeWei) });
    }
    for (const c of [cluster.chain, mirrorInfo]) {
      for (const t of c.deployTxs) transactions.push({ host: "deployer", label: t.label, chainId: String(c.node.chainId), hash: t.hash, blockNumber: t.blockNumber, gasUsed: t.gasUsed.toString(), feeWei: t.feeWei.toString() });
    }
    transactions.sort((a, b) => Number(a.chainId) - Number(b.chainId) || a.blockNumber - b.blockNumber);
    const mirrorTx = transactions.find((t) => t.label === "AllocationRegistry.recordMirror" && t.chainId === mirrorChain.chainId.toString());

    const stale = cluster.host("dest-stale").address;
    const o = answer.outcome;
    const checks: DemoSummary["checks"] = [
      { check: "the source's migration answered Committed", ok: answer.status === "Committed", detail: answer.status + (o?.reason ? `: ${o.reason}` : "") },
      { check: "the allocation is Committed on the auction chain", ok: onChain?.state === "Committed", detail: onChain?.state },
      { check: "the destination's TD state digest equals the source's", ok: o?.digestMatch === true && o.sourceDigest === o.destinationDigest },
      { check: "the winner runs the TD, the source no longer does", ok: winnerTds.some((t) => t.tvmId === answer.tvmId && t.running) && !sourceTds.some((t) => t.tvmId === answer.tvmId) },
      { check: "the winner recorded the allocation on its own chain, referencing the allocation tx", ok: mirror !== undefined && mirror.sourceTxHash === allocationTx && getAddress(mirror.destination) === answer.winner && mirror.outcome === "Committed" },
      { check: "the out-of-date host was refused by the policy", ok: answer.refused.some((r) => getAddress(r.host) === stale) && !answer.acknowledged.some((a) => getAddress(a.host) === stale) },
      { check: "the two acceptable hosts bid different prices", ok: bids.length === 2 && bids[0]!.priceWei !== undefined && bids[1]!.priceWei !== undefined && bids[0]!.priceWei !== bids[1]!.priceWei },
      { check: "the roomier host won", ok: winnerName === "dest-roomy", detail: winnerName },
    ];
    ok = checks.every((c) => c.ok);
    return {
      status: answer.status,
      winner: answer.winner,
      winnerName,
      pricePaid: answer.priceWei,
      winningBid: answer.winningBidWei,
      acks: answer.acknowledged.map((a) => ({ ...a, name: nameOf(a.host) })),
      refused: answer.refused.map((r) => ({ ...r, name: nameOf(r.host) })),
      bids,
      auctionId: answer.auctionId,
      allocationId: answer.allocationId,
      allocationTx,
      allocationBlock,
      mirrorTx: mirrorTx?.hash,
      mirrorBlock: mirrorTx?.blockNumber,
      mirrorChainId: mirrorChain.chainId.toString(),
      onChainState: onChain?.state,
      rounds: o?.rounds,
      bytes: o?.bytesSent,
      totalMs: o?.totalMs,
      downtimeMs: o?.downtimeMs,
      digestMatch: o?.digestMatch === true,
      sourceDigest: o?.sourceDigest,
      destinationDigest: o?.destinationDigest,
      transactions,
      deployGas: [cluster.chain, mirrorInfo].map((c) => ({ chainId: String(c.node.chainId), gasUsed: c.deployGas.toString() })),
      checks,
      ok,
      wallMs: performance.now() - t0,
      workDir,
      workDirKept: !(ok && !options.keep && options.workDir === undefined),
      processes: cluster.processes(),
    };
  } finally {
    for (const c of chains) c.close();
    const failures = await cluster.stop();
    if (failures.length > 0) step(`could not stop cleanly: ${failures.map((f) => `${f.name}: ${f.error}`).join("; ")}`);
    if (ok && !options.keep && options.workDir === undefined) await rm(workDir, { recursive: true, force: true });
  }
}

/** Waits for `work`, or rejects as soon as `signal` aborts (the caller's finally then stops everything). */
function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(interrupted(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(interrupted(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e instanceof Error ? e : new Error(describeError(e)));
      },
    );
  });
}

function interrupted(signal: AbortSignal): TvmxError {
  return new TvmxError("HOST_SHUTTING_DOWN", `interrupted (${describeError(signal.reason)})`, { details: {} });
}

/** Calls `read` every 250 ms until it returns a value, for at most `timeoutMs`. */
function poll<T>(read: () => Promise<T | undefined>, timeoutMs: number, signal?: AbortSignal): Promise<T | undefined> {
  return pollUntil(read, { intervalMs: 250, timeoutMs, ...(signal ? { signal } : {}) });
}

/** Waits (bounded) until the winner has withdrawn its payment, so that the gas table has every transaction. */
async function settle(cluster: Cluster, winnerName: string | undefined, signal?: AbortSignal): Promise<void> {
  if (!winnerName) return;
  const api = await cluster.api(winnerName);
  await poll(
    async () => ((await api.call("GET /v1/transactions")).some((t) => t.label === "AllocationRegistry.withdraw") ? true : undefined),
    10_000,
    signal,
  );
}
