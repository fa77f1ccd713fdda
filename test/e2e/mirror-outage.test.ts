import { expect } from "chai";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { JsonRpcProvider } from "ethers";
import { decodeLine, LOG_FILE } from "../../orchestrator/journal/index.js";
import { AllocationRegistry__factory } from "../../types/ethers-contracts/index.js";
import { startTcpProxy, type TcpProxy } from "../chain/helpers/tcp-proxy.js";
import { clusterForSuite, logRecords, waitForLog, type TdView } from "./helpers.js";

interface Summary {
  migrationId: string;
  status: string;
  winner?: string;
  allocationId?: string;
  priceWei?: string;
  outcome?: { status: string; migrationId: string; digestMatch?: boolean };
}

/**
 * The winner reaches its own chain (the mirror records) through a TCP proxy that the test cuts while the TD
 * is streaming, so the chain is down when the migration commits: the outcome stays Committed, the winner is
 * paid at once, and the mirror lands (retried) when the chain is back. One migration id in every log line.
 */
describe("e2e: the mirror chain down at commit", function () {
  this.timeout(600_000);
  let proxy: TcpProxy | undefined;
  const cluster = clusterForSuite({
    hosts: [
      { name: "source", capacity: { tvmSlots: 4, memoryMiB: 1024 } },
      { name: "roomy", capacity: { tvmSlots: 8, memoryMiB: 4096 }, mirror: true },
    ],
    beforeHosts: async (c) => {
      proxy = await startTcpProxy(c.mirror!.node.port);
      const roomy = c.host("roomy");
      roomy.spec.config = {
        ...roomy.spec.config,
        mirrorChain: { rpcUrl: proxy.url, confirmations: 1, pollIntervalMs: 200, rpcRetries: 1, deploymentFile: c.mirror!.deploymentFile },
      };
    },
  });
  after(async () => {
    await proxy?.close(); // after the cluster's own `after` stopped the hosts
  });

  it("commits, pays the destination, and records the mirror once the chain is back", async () => {
    const roomy = cluster().host("roomy");
    const source = await cluster().client("source", 300_000);
    const td = await source.post<TdView>("/v1/tds", { memoryMiB: 32, vcpus: 1, workload: { bytesPerSecond: 1_000_000, hotSetMiB: 4, seed: 5 } });
    const migrating = source.post<Summary>(`/v1/tds/${td.tdId}/migrate`, {});
    await waitForLog(roomy.logFile, (r) => r.msg === "import started");
    await proxy!.cut();
    await waitForLog(roomy.logFile, (r) => r.msg === "migration confirmed on-chain");
    await waitForLog(roomy.logFile, (r) => r.msg === "mirror record failed; retrying");
    const summary = await migrating;
    expect(summary.status).to.equal("Committed");
    expect(summary.winner).to.equal(roomy.address);
    expect(summary.outcome?.migrationId).to.equal(summary.migrationId);

    // the destination was paid while the mirror chain was still down
    const provider = new JsonRpcProvider(cluster().chain.node.url);
    try {
      const registry = AllocationRegistry__factory.connect(cluster().chain.addresses.allocationRegistry, provider);
      const allocation = await registry.allocation(BigInt(summary.allocationId!));
      expect(allocation.state).to.equal(2n); // Committed
      expect(allocation.destination).to.equal(roomy.address);
      const withdrawn = await registry.queryFilter(registry.filters.Withdrawn(roomy.address));
      expect(withdrawn.map((e) => e.args.amount)).to.deep.equal([BigInt(summary.priceWei!)]);
      expect(await registry.balanceOf(roomy.address)).to.equal(0n);
    } finally {
      provider.destroy();
    }
    expect((await logRecords(roomy.logFile)).some((r) => r.msg === "allocation recorded on this host's own chain")).to.equal(false);

    await proxy!.restore();
    await waitForLog(roomy.logFile, (r) => r.msg === "allocation recorded on this host's own chain");
    const mirrorProvider = new JsonRpcProvider(cluster().mirror!.node.url);
    try {
      const mirror = AllocationRegistry__factory.connect(cluster().mirror!.addresses.allocationRegistry, mirrorProvider);
      const m = await mirror.mirroredAllocation(cluster().chain.node.chainId, BigInt(summary.allocationId!), roomy.address);
      expect(m.record.destination).to.equal(roomy.address);
      expect(m.record.tvmId).to.equal(td.tvmId);
      expect(m.record.outcome).to.equal(2n); // AllocationState.Committed
    } finally {
      mirrorProvider.destroy();
    }

    // one id per migration: every line of it on both hosts names the source's 32-byte id, none another one
    const lines = (await Promise.all(["source", "roomy"].map((n) => logRecords(cluster().host(n).logFile)))).flat();
    const ids = new Set(lines.map((r) => r.migrationId).filter((id) => id !== undefined));
    expect([...ids]).to.deep.equal([summary.migrationId]);
    const engineLines = lines.filter((r) => r.streamId !== undefined);
    expect(engineLines.length).to.be.greaterThan(0);
    for (const r of engineLines.filter((l) => l.side !== undefined)) expect(r.migrationId, String(r.msg)).to.equal(summary.migrationId);
    // the journals of both hosts name it too, and the winner's says Committed and the mirror recorded
    for (const name of ["source", "roomy"]) {
      const entries = (await readFile(join(cluster().host(name).dataDir, LOG_FILE), "utf8"))
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => decodeLine(l))
        .flatMap((d) => (d.ok ? [(d.value as { entry: { type: string; migrationId?: string; outcome?: string } }).entry] : []));
      const started = entries.filter((e) => e.type === "migration.started");
      expect(started.map((e) => e.migrationId), name).to.deep.equal([summary.migrationId]);
      expect(entries.filter((e) => e.type === "migration.finished").map((e) => e.outcome), name).to.deep.equal(["Committed"]);
    }
    const roomyEntries = (await readFile(join(roomy.dataDir, LOG_FILE), "utf8")).split("\n").filter((l) => l !== "").map((l) => decodeLine(l));
    const types = roomyEntries.flatMap((d) => (d.ok ? [(d.value as { entry: { type: string } }).entry.type] : []));
    expect(types.filter((t) => t.startsWith("mirror."))).to.deep.equal(["mirror.pending", "mirror.recorded"]);
  });
});
