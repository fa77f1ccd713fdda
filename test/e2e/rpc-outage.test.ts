import { expect } from "chai";
import { startTcpProxy, type TcpProxy } from "../chain/helpers/tcp-proxy.js";
import { clusterForSuite, logRecords, waitForLog } from "./helpers.js";

/**
 * Every host reaches the chain through a TCP proxy that the test cuts for a few seconds while the auction runs
 * (bidders are committing): the hosts retry, and the migration still commits.
 */
describe("e2e: an RPC outage during the auction", function () {
  this.timeout(600_000);
  let proxy: TcpProxy | undefined;
  const cluster = clusterForSuite({
    mirrorChain: false,
    auction: { commitWindowSec: 20, revealWindowSec: 15, ackTimeoutMs: 10_000 },
    hosts: [
      { name: "source", capacity: { tvmSlots: 4, memoryMiB: 1024 } },
      { name: "roomy", capacity: { tvmSlots: 8, memoryMiB: 4096 } },
      { name: "cramped", capacity: { tvmSlots: 2, memoryMiB: 512 } },
    ],
    beforeHosts: async (c) => {
      proxy = await startTcpProxy(c.chain.node.port);
      for (const h of c.hosts.values()) h.spec.config = { ...h.spec.config, chain: { rpcUrl: proxy.url, confirmations: 1, pollIntervalMs: 200, rpcRetries: 30 } };
    },
  });
  after(async () => {
    await proxy?.close(); // after the cluster's own `after` stopped the hosts
  });

  it("retries through the outage and the migration commits", async () => {
    const source = await cluster().client("source", 300_000);
    const td = await source.post<{ tdId: string; tvmId: string }>("/v1/tds", { memoryMiB: 32, vcpus: 1, workload: { bytesPerSecond: 1_000_000, hotSetMiB: 4, seed: 9 } });
    const migrating = source.post<{ status: string; winner?: string; outcome?: { digestMatch?: boolean } }>(`/v1/tds/${td.tdId}/migrate`, {});
    // cut as soon as the auction is open: the bidders' commits meet a dead RPC endpoint
    await waitForLog(cluster().host("source").logFile, (r) => r.msg === "auction opened");
    await proxy!.cut();
    await new Promise((r) => setTimeout(r, 5_000));
    await proxy!.restore();
    const summary = await migrating;
    expect(summary.status).to.equal("Committed");
    expect(summary.winner).to.equal(cluster().host("roomy").address);
    expect(summary.outcome?.digestMatch).to.equal(true);
    // the hosts did meet the outage, and said so
    const warnings = (await Promise.all([...cluster().hosts.values()].map((h) => logRecords(h.logFile)))).flat().filter((r) => r.level === "warn" && /retrying/.test(String(r.msg)));
    expect(warnings.length).to.be.greaterThan(0);
  });
});
