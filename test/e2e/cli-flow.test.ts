import { expect } from "chai";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { clusterForSuite, logRecords, tvmx } from "./helpers.js";

describe("e2e: a migration driven with the tvmx commands against host processes on a local node", function () {
  this.timeout(300_000);
  const cluster = clusterForSuite({
    hosts: [
      { name: "source", capacity: { tvmSlots: 4, memoryMiB: 1024 } },
      { name: "roomy", capacity: { tvmSlots: 8, memoryMiB: 4096 }, mirror: true },
      { name: "cramped", capacity: { tvmSlots: 2, memoryMiB: 256 }, mirror: true },
    ],
  });

  const cfg = (name: string) => ["--config", cluster().host(name).configFile];
  const json = async (args: string[]) => {
    const r = await tvmx([...args, "--json"], { timeoutMs: 240_000 });
    expect(r.code, `tvmx ${args.join(" ")}: ${r.stderr.slice(-2000)}`).to.equal(0);
    return JSON.parse(r.stdout) as Record<string, any>;
  };

  it("creates a TD, migrates it by auction to the cheaper host, and every command reports it", async () => {
    const status = await json(["host", "status", ...cfg("source")]);
    expect(status).to.include({ name: "source", registration: "Active", address: cluster().host("source").address });

    const td = await json(["td", "create", ...cfg("source"), "--memory-mib", "32", "--vcpus", "2", "--workload-bytes-per-sec", "2000000", "--workload-hot-mib", "4"]);
    expect(td.tdId).to.be.a("string");
    const human = await tvmx(["td", "list", ...cfg("source")]);
    expect(human.stdout).to.contain(td.tdId);

    const m = await json(["migrate", td.tdId, ...cfg("source"), "--reserve-price", "100000000000000000", "--downtime-ms", "200"]);
    expect(m.status).to.equal("Committed");
    expect(m.winner).to.equal(cluster().host("roomy").address);
    expect(m.acknowledged).to.have.length(2);
    expect(m.outcome.digestMatch).to.equal(true);

    const imported = (await json(["td", "list", ...cfg("roomy")])) as unknown as { tvmId: string; running: boolean; origin: { kind: string } }[];
    expect(imported.find((t) => t.tvmId === td.tvmId)).to.deep.include({ running: true });
    expect(imported.find((t) => t.tvmId === td.tvmId)!.origin.kind).to.equal("imported");

    const allocation = await json(["allocation", "show", td.tvmId, ...cfg("roomy")]);
    expect(allocation.placement.host).to.equal(cluster().host("roomy").address);
    expect(allocation.history.map((h: { state: string }) => h.state)).to.deep.equal(["Committed"]);
    const allocationHuman = await tvmx(["allocation", "show", td.tvmId, ...cfg("source")]);
    expect(allocationHuman.stdout).to.match(/runs on:\s+0x/);

    const auction = await json(["auction", "show", m.auctionId, ...cfg("source")]);
    expect(auction).to.include({ state: "Finalized", bestBidder: cluster().host("roomy").address });
    const opened = await json(["auction", "list", ...cfg("source")]);
    expect(opened.opened.map((a: { auctionId: string }) => a.auctionId)).to.include(m.auctionId);
    const bids = await json(["auction", "list", ...cfg("cramped")]);
    expect(bids.bids.map((b: { auctionId: string }) => b.auctionId)).to.include(m.auctionId);
    expect(JSON.stringify(bids)).not.to.contain("salt");

    // operators see it in the metrics of both hosts (Prometheus text format)
    for (const [name, role] of [["roomy", "destination"], ["source", "source"]] as const) {
      const url = (await json(["host", "status", ...cfg(name)])).metricsUrl as string;
      const text = await (await fetch(url)).text();
      expect(text, name).to.match(new RegExp(`^tvmx_migrations_total\\{[^}]*role="${role}"[^}]*outcome="Committed"[^}]*\\} 1$|^tvmx_migrations_total\\{[^}]*outcome="Committed"[^}]*role="${role}"[^}]*\\} 1$`, "m"));
    }

    // the same, for a human
    const statusHuman = await tvmx(["host", "status", ...cfg("roomy")]);
    expect(statusHuman.stdout).to.match(/registration:\s+Active/);
    expect(statusHuman.stdout).to.match(/capacity:\s+1\/8 slots, 32\/4096 MiB used/);
    const auctionHuman = await tvmx(["auction", "show", m.auctionId, ...cfg("source")]);
    expect(auctionHuman.stdout).to.match(/state:\s+Finalized/);
    expect(auctionHuman.stdout).to.match(/second price \(paid\):\s+\d/);
    const listHuman = await tvmx(["auction", "list", ...cfg("source")]);
    expect(listHuman.stdout).to.match(new RegExp(`\\s${m.auctionId}\\s.*finalized\\s+${cluster().host("roomy").address}`));
    const tdHuman = await tvmx(["td", "show", td.tvmId, ...cfg("roomy")]);
    expect(tdHuman.stdout).to.match(/origin:\s+imported from 0x/);

    // the TD left the source: asking for it there is a clear error
    const gone = await tvmx(["td", "show", td.tdId, ...cfg("source")]);
    expect(gone.code).to.equal(1);
    expect(gone.stderr).to.match(/error \[HOST_TD_NOT_FOUND\]/);
    const again = await tvmx(["migrate", td.tdId, ...cfg("source")]);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.match(/HOST_TD_NOT_FOUND/);
  });

  it("deploys another suite on the running node and writes the deployment file", async () => {
    const out = join(cluster().workDir, "second-deployment.json");
    const d = await json(["deploy", "--rpc", cluster().chain.node.url, "--out", out, "--mirror-recorder", cluster().host("roomy").address]);
    const file = JSON.parse(await readFile(out, "utf8")) as Record<string, unknown>;
    for (const k of ["hostRegistry", "migrationAuction", "allocationRegistry"]) {
      expect(file[k]).to.equal(d[k]);
      expect(d[k]).to.match(/^0x[0-9a-fA-F]{40}$/);
      const addresses = cluster().chain.addresses;
      expect(d[k]).not.to.equal(addresses[k as keyof typeof addresses]);
    }
    expect(file.chainId).to.equal("31337");
  });

  it("refuses a wrong control token", async () => {
    const dir = join(cluster().workDir, "impostor");
    await mkdir(dir);
    await copyFile(join(cluster().host("source").dataDir, "control.json"), join(dir, "control.json"));
    await writeFile(join(dir, "control.token"), "00".repeat(32), { mode: 0o600 });
    const r = await tvmx(["td", "list", "--data-dir", dir]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/error \[CONTROL_UNAUTHORIZED\]: host at http:\/\/127\.0\.0\.1:\d+ refused the control token/);
  });

  it("closes a host cleanly on SIGTERM (exit status 0, journal closed)", async () => {
    const proc = cluster().host("cramped").process!;
    await proc.stop();
    expect(await proc.exited).to.deep.equal({ code: 0, signal: null });
    const records = await logRecords(cluster().host("cramped").logFile);
    expect(records.map((r) => r.msg)).to.include("host stopped");
    const status = await tvmx(["host", "status", ...cfg("cramped")]);
    expect(status.code).to.equal(1);
    expect(status.stderr).to.match(/CONTROL_UNREACHABLE/);
  });
});
