import { expect } from "chai";
import { CHANNEL_SERVER_DEFAULTS, connectChannel, createChannelIdentity, StaticHostDirectory, type ChannelConnection, type ChannelIdentity, type ChannelTrust } from "../../orchestrator/channel/index.js";
import { DEFAULT_PASSWORD, PASSWORD_ENV } from "../../orchestrator/demo/cluster.js";
import { readHostFiles, type HostFiles } from "../../orchestrator/host/index.js";
import { pollUntil } from "../../orchestrator/util/index.js";
import { captureClientHello, garbageTcp, keepOpen, stallAfterTls, stallTcp, type KeptOpen } from "../channel/hostile-clients.js";
import { clusterForSuite, logRecords, publishChannelKey, type TdView } from "./helpers.js";

/** The hosts of this cluster run with the channel listener's defaults: 4 per identity, 8 per address, 20 warnings a minute. */
const {
  maxPendingPerIdentity: PER_IDENTITY,
  maxPendingPerAddress: PER_ADDRESS,
  handshakeTimeoutMs: DEADLINE_MS,
  refusedLogLimit: REFUSED_LOG_LIMIT,
  refusedLogWindowMs: REFUSED_LOG_WINDOW_MS,
} = CHANNEL_SERVER_DEFAULTS;
/** Handshakes the honest host makes with the flooded destination while the flood runs. */
const HONEST_HANDSHAKES = 25;

/** The attacker's loopback addresses: none is 127.0.0.1, where the honest hosts connect from. */
const MALLORY_ADDRESSES = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"];
const SILENT_ADDRESS = "127.0.0.6";
const HALF_HELLO_ADDRESS = "127.0.0.7";
const GARBAGE_ADDRESSES = ["127.0.0.8", "127.0.0.9", "127.0.0.10", "127.0.0.11"];

/** A counter of a host's Prometheus endpoint, by its `reason` label. */
async function refusedByReason(metricsUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(metricsUrl)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^tvmx_channel_refused_total\{reason="([a-z_]+)"\} (\d+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/**
 * The most connections that were held at once: open for at least `minMs` at the same moment (a connection the
 * listener refuses at once is closed long before). Counting from `minMs` after each opened, not from its open,
 * leaves out the moment when a held one is closed by the deadline and a renewal takes its slot, which the client
 * sees a few milliseconds apart.
 */
function maxHeldAtOnce(lifetimes: readonly { openedAt: number; closedAt: number }[], minMs: number): number {
  const events = lifetimes
    .filter((l) => l.closedAt - l.openedAt >= minMs)
    .flatMap((l) => [
      [l.openedAt + minMs, 1],
      [l.closedAt, -1],
    ])
    .sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
  let held = 0;
  let max = 0;
  for (const [, delta] of events) max = Math.max(max, (held += delta!));
  return max;
}

const sum = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);

/**
 * The most "peer refused" lines any one window of the rate limit let through, replaying the limiter's fixed
 * windows (each begins at the first refusal after the previous one ended) over the lines' timestamps.
 */
function linesPerWindow(times: number[]): number[] {
  const windows: number[] = [];
  let start = Number.NEGATIVE_INFINITY;
  for (const t of times) {
    if (t - start >= REFUSED_LOG_WINDOW_MS) {
      start = t;
      windows.push(0);
    }
    windows[windows.length - 1]!++;
  }
  return windows;
}

/**
 * One registered host's key against a real destination host process: it holds its maximum of pending channel
 * connections (TLS done, no HELLO, renewed as the deadline closes them) and tries for more from several
 * addresses, while one address holds its share with silent TCP connections and hammers on for more, another
 * stops halfway through its ClientHello, and others send garbage. Meanwhile the source migrates a TD to the
 * flooded host and an honest host's handshakes with it succeed; the refusals are counted in the metric and
 * sampled in the log.
 */
describe("e2e: the channel port under one registered identity and one address holding their pending limits", function () {
  this.timeout(600_000);
  const cluster = clusterForSuite({
    mirrorChain: false,
    hosts: [
      { name: "source", capacity: { tvmSlots: 4, memoryMiB: 1024 } },
      // the flooded destination, the only host with room for the TD
      { name: "roomy", capacity: { tvmSlots: 8, memoryMiB: 4096 } },
      // registered hosts whose keys the test holds (their processes are stopped): the attacker and an honest dialer
      { name: "mallory", capacity: { tvmSlots: 1, memoryMiB: 16 } },
      { name: "honest", capacity: { tvmSlots: 1, memoryMiB: 16 } },
    ],
  });

  /** A registered host's files and a channel identity made from them as the host process makes its own. */
  async function impersonate(name: string): Promise<{ files: HostFiles; identity: ChannelIdentity }> {
    const h = cluster().host(name);
    await h.process!.stop();
    const files = await readHostFiles(h.configFile, { [PASSWORD_ENV]: DEFAULT_PASSWORD });
    const identity = await createChannelIdentity({ attester: files.cpu.attester, signer: files.wallet });
    return { files, identity };
  }

  let flood: KeptOpen[] = [];
  const figures = { refused: {} as Record<string, number>, refusedEver: 0, floodStartedAt: 0, floodMs: 0, logBytesDuringFlood: 0, logLinesDuringFlood: 0 };

  after(() => {
    for (const f of flood) f.stop();
  });

  it(`commits a migration to the flooded host and serves ${HONEST_HANDSHAKES} honest handshakes while the flood runs`, async () => {
    const roomy = cluster().host("roomy");
    const status = await (await cluster().client("roomy")).get<{ channelPort: number; metricsUrl?: string }>("/v1/status");
    const port = status.channelPort;
    expect(status.metricsUrl, "the flooded host's metrics endpoint").to.be.a("string");
    const metricsUrl = status.metricsUrl!;

    const mallory = await impersonate("mallory");
    const honest = await impersonate("honest");
    // Both dial with the channel key they publish, as a host process does at start: Mallory's connections pass
    // the evidence check and then wait for a HELLO that never comes, holding their slots until the deadline.
    await Promise.all([mallory, honest].map((h) => publishChannelKey(cluster(), h.files.wallet, h.identity.keyFingerprint)));
    const trust: ChannelTrust = {
      trustedRoots: honest.files.cpu.trustedRoots,
      collateral: honest.files.cpu.collateral,
      policy: honest.files.policy,
      directory: new StaticHostDirectory([[roomy.address, { registered: true }]]),
    };
    const refusedBefore = await refusedByReason(metricsUrl);
    const logBefore = (await logRecords(roomy.logFile)).length;
    const hello = await captureClientHello();
    const halfHello = hello.subarray(0, Math.floor(hello.length / 2));

    // The flood. Mallory: 16 connections (four times its share) from four addresses, so that only the
    // per-identity limit stops it (each address stays within its own 8).
    figures.floodStartedAt = Date.now();
    let m = 0;
    const [malloryFlood, , halfHelloFlood] = (flood = [
      keepOpen(() => stallAfterTls(port, mallory.identity, MALLORY_ADDRESSES[m++ % MALLORY_ADDRESSES.length]!), 4 * PER_IDENTITY, 100),
      // One address: silent TCP connections, four times its share.
      keepOpen(() => stallTcp(port, SILENT_ADDRESS), 4 * PER_ADDRESS, 100),
      // Half a ClientHello each, then nothing: held until the deadline.
      keepOpen(() => stallTcp(port, HALF_HELLO_ADDRESS, halfHello), 6, 100),
      // Garbage where a ClientHello belongs, from other addresses.
      ...GARBAGE_ADDRESSES.map((a) => keepOpen(() => garbageTcp(port, a), 2, 100)),
    ]);
    // Mallory holds its share and is being refused more before anyone honest comes.
    await pollUntil(
      async () => {
        const r = await refusedByReason(metricsUrl);
        return (r.limit_identity ?? 0) - (refusedBefore.limit_identity ?? 0) >= 20 && (r.limit_address ?? 0) - (refusedBefore.limit_address ?? 0) >= 20 ? true : undefined;
      },
      { intervalMs: 200, timeoutMs: 30_000 },
    );

    // The real migration, source → roomy, while the flood runs.
    const source = await cluster().client("source", 300_000);
    const td = await source.post<TdView>("/v1/tds", { memoryMiB: 64, vcpus: 1, workload: { bytesPerSecond: 2_000_000, hotSetMiB: 4, seed: 13 } });
    const migrating = source.post<{ status: string; winner?: string; acknowledged: { host: string }[]; refused: { host: string; reason: string }[] }>(`/v1/tds/${td.tdId}/migrate`, {});

    // The honest host's handshakes, one every 700 ms (at most 3 at once, within its own share of 4), from 127.0.0.1.
    const outcomes: (string | undefined)[] = [];
    const inFlight = new Set<Promise<void>>();
    for (let i = 0; i < HONEST_HANDSHAKES; i++) {
      while (inFlight.size >= 3) await Promise.race(inFlight);
      const one = (async () => {
        let conn: ChannelConnection | undefined;
        try {
          conn = await connectChannel({ host: "127.0.0.1", port, identity: honest.identity, trust, expectedAddress: roomy.address, connectTimeoutMs: 20_000, handshakeTimeoutMs: 20_000 });
          outcomes.push(undefined);
        } catch (err) {
          outcomes.push((err as Error).message);
        } finally {
          await conn?.close();
        }
      })();
      inFlight.add(one);
      void one.finally(() => inFlight.delete(one));
      await new Promise((r) => setTimeout(r, 700));
    }
    await Promise.all(inFlight);
    const summary = await migrating;
    // At least one deadline of the held connections passes (10 s from accept) before the flood stops.
    const minFloodMs = 15_000;
    const left = figures.floodStartedAt + minFloodMs - Date.now();
    if (left > 0) await new Promise((r) => setTimeout(r, left));
    const opened = flood.reduce((n, f) => n + f.opened, 0);
    for (const f of flood) f.stop();
    figures.floodMs = Date.now() - figures.floodStartedAt;
    // The last refusals of the connections just destroyed land within a moment.
    await new Promise((r) => setTimeout(r, 1_500));
    const refusedAfter = await refusedByReason(metricsUrl);
    figures.refusedEver = sum(refusedAfter);
    figures.refused = Object.fromEntries(Object.entries(refusedAfter).map(([k, v]) => [k, v - (refusedBefore[k] ?? 0)]));
    const records = (await logRecords(roomy.logFile)).slice(logBefore);
    figures.logLinesDuringFlood = records.length;
    figures.logBytesDuringFlood = records.reduce((n, r) => n + JSON.stringify(r).length + 1, 0);

    const succeeded = outcomes.filter((o) => o === undefined).length;
    const authenticated = records.filter((r) => r.msg === "peer authenticated" && r.keyFingerprint === honest.identity.keyFingerprint).length;
    console.log(`      figures: ${succeeded}/${HONEST_HANDSHAKES} honest handshakes (the flooded host logged ${authenticated} of them authenticated); migration ${summary.status}, won by ${summary.winner === roomy.address ? "roomy" : summary.winner}`);
    const malloryHeld = maxHeldAtOnce(malloryFlood!.lifetimes, 3_000);
    const longestHeld = Math.max(...[...malloryFlood!.lifetimes, ...halfHelloFlood!.lifetimes].map((l) => l.closedAt - l.openedAt));
    const halfHellosToDeadline = halfHelloFlood!.lifetimes.filter((l) => l.closedAt - l.openedAt >= DEADLINE_MS - 1_000).length;
    console.log(`      figures: Mallory held ${malloryHeld} connections at once (limit ${PER_IDENTITY}); ${halfHellosToDeadline} half ClientHellos closed by the deadline; longest held ${(longestHeld / 1000).toFixed(1)} s`);
    console.log(`      figures: ${opened} hostile connections in ${(figures.floodMs / 1000).toFixed(1)} s; refused ${JSON.stringify(figures.refused)} (${sum(figures.refused)} in all)`);
    const failures = outcomes.filter((o): o is string => o !== undefined);
    expect(failures, "honest handshakes that failed").to.deep.equal([]);
    expect(authenticated).to.equal(HONEST_HANDSHAKES);
    expect(summary.status).to.equal("Committed");
    expect(summary.winner).to.equal(roomy.address);
    expect(summary.acknowledged.map((a) => a.host)).to.include(roomy.address);
    expect((await (await cluster().client("roomy")).get<TdView[]>("/v1/tds")).map((t) => t.tvmId)).to.include(td.tvmId);
    // Mallory held its share, no more, and each held connection was closed by the deadline from accept, as was
    // each half ClientHello.
    expect(malloryHeld, "Mallory's connections held at once").to.equal(PER_IDENTITY);
    expect(halfHellosToDeadline).to.be.at.least(6);
    expect(longestHeld).to.be.below(DEADLINE_MS + 4_000);
    // Each limit was met and held: Mallory was refused for its identity, the silent address for its address, the
    // half ClientHellos by the deadline and the garbage by TLS; nothing by the total limit.
    expect(figures.refused.limit_identity ?? 0).to.be.at.least(100);
    expect(figures.refused.limit_address ?? 0).to.be.at.least(100);
    expect(figures.refused.deadline ?? 0).to.be.at.least(6);
    expect(figures.refused.tls ?? 0).to.be.at.least(20);
    expect(figures.refused.limit_total ?? 0).to.equal(0);
  });

  it(`writes at most ${REFUSED_LOG_LIMIT} "peer refused" lines a minute and one summary per minute, while every refusal is counted`, async () => {
    expect(figures.floodMs, "the flood ran (previous test)").to.be.above(0);
    const roomy = cluster().host("roomy");
    // A clean stop writes the summary of the window in progress (the host closes its channel server).
    await roomy.process!.stop();
    const records = await logRecords(roomy.logFile);
    const lines = records.filter((r) => r.msg === "peer refused");
    const summaries = records.filter((r) => r.msg === "peer refused: suppressed");
    const windows = linesPerWindow(lines.map((r) => Date.parse(String(r.time))));
    const suppressed = summaries.reduce((n, r) => n + Number(r.suppressed), 0);
    const total = sum(figures.refused);
    console.log(
      `      figures: ${total} refused during the flood; the host wrote ${lines.length} "peer refused" lines (per window ${JSON.stringify(windows)}) and ${summaries.length} summary line(s) counting ${suppressed} suppressed; ${figures.logLinesDuringFlood} log lines (${figures.logBytesDuringFlood} bytes) in all during the flood`,
    );
    expect(total).to.be.at.least(500);
    expect(Math.max(...windows)).to.be.at.most(REFUSED_LOG_LIMIT);
    expect(summaries.length).to.be.at.least(1).and.at.most(windows.length);
    for (const r of summaries) expect(r.level).to.equal("warn");
    // Every refusal since the host started is either a line or counted in a summary.
    expect(lines.length + suppressed).to.equal(figures.refusedEver);
    // Nothing is written per refused connection: the whole log of the flood is a small fraction of the refusals.
    expect(figures.logLinesDuringFlood).to.be.below(total / 5);
  });
});
