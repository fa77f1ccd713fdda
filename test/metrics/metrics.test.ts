import { expect } from "chai";
import { createServer } from "node:net";
import { TvmxError } from "../../orchestrator/errors/index.js";
import { createHostMetrics, METRICS_CONTENT_TYPE, MetricsRegistry, startMetricsServer } from "../../orchestrator/metrics/index.js";

describe("metrics/registry", () => {
  it("renders counters with labels in the text format", () => {
    const r = new MetricsRegistry();
    const c = r.counter("tvmx_migrations_total", "Migrations finished.", ["role", "outcome"]);
    c.inc({ role: "source", outcome: "Committed" });
    c.inc({ role: "source", outcome: "Committed" }, 2);
    c.inc({ role: "destination", outcome: "Aborted" });
    expect(r.render()).to.equal(
      "# HELP tvmx_migrations_total Migrations finished.\n" +
        "# TYPE tvmx_migrations_total counter\n" +
        'tvmx_migrations_total{role="source",outcome="Committed"} 3\n' +
        'tvmx_migrations_total{role="destination",outcome="Aborted"} 1\n',
    );
    expect(c.get({ role: "source", outcome: "Committed" })).to.equal(3);
  });

  it("renders gauges without labels and lets them go down", () => {
    const r = new MetricsRegistry();
    const g = r.gauge("tvmx_free_tvm_slots", "Free slots.");
    g.set({}, 4);
    g.dec();
    expect(r.render()).to.contain("tvmx_free_tvm_slots 3\n");
  });

  it("renders cumulative histogram buckets, sum and count", () => {
    const r = new MetricsRegistry();
    const h = r.histogram("tvmx_migration_downtime_seconds", "Blackout.", ["role"], [0.01, 0.1, 1]);
    h.observe({ role: "source" }, 0.005);
    h.observe({ role: "source" }, 0.05);
    h.observe({ role: "source" }, 5);
    const text = r.render();
    expect(text).to.contain('tvmx_migration_downtime_seconds_bucket{role="source",le="0.01"} 1\n');
    expect(text).to.contain('tvmx_migration_downtime_seconds_bucket{role="source",le="0.1"} 2\n');
    expect(text).to.contain('tvmx_migration_downtime_seconds_bucket{role="source",le="1"} 2\n');
    expect(text).to.contain('tvmx_migration_downtime_seconds_bucket{role="source",le="+Inf"} 3\n');
    expect(text).to.contain('tvmx_migration_downtime_seconds_sum{role="source"} 5.055\n');
    expect(text).to.contain('tvmx_migration_downtime_seconds_count{role="source"} 3\n');
  });

  it("escapes label values and help text", () => {
    const r = new MetricsRegistry();
    r.counter("x_total", "a\\b\nc", ["l"]).inc({ l: 'q"\\\n' });
    expect(r.render()).to.equal('# HELP x_total a\\\\b\\nc\n# TYPE x_total counter\nx_total{l="q\\"\\\\\\n"} 1\n');
  });

  it("rejects bad names, labels, buckets, decrements and duplicates", () => {
    const r = new MetricsRegistry();
    const bad = [
      () => r.counter("1bad", "h"),
      () => r.counter("ok_total", "h", ["le"]),
      () => r.counter("ok2_total", "h", ["__x"]),
      () => r.histogram("h", "h", [], [1, 1]),
      () => r.histogram("h2", "h", [], []),
      () => r.counter("c_total", "h").inc({}, -1),
      () => r.counter("c_total", "h"),
      () => r.counter("d_total", "h", ["a"]).inc({ b: "x" }),
      () => r.counter("e_total", "h", ["a"]).inc({}),
      () => r.histogram("h3", "h", [], [1]).observe({}, Number.NaN),
    ];
    for (const f of bad) expect(f).to.throw(TvmxError).with.property("code", "METRICS_INVALID");
  });

  it("registers the host's metrics once each", () => {
    const m = createHostMetrics();
    m.bidsTotal.inc({ outcome: "committed" });
    m.downtimeSeconds.observe({ role: "source" }, 0.02);
    expect(m.registry.render()).to.contain('tvmx_bids_total{outcome="committed"} 1');
  });
});

describe("metrics/server", () => {
  it("serves the registry on 127.0.0.1 and reports the port it bound", async () => {
    const r = new MetricsRegistry();
    r.counter("tvmx_bids_total", "Bids.", ["outcome"]).inc({ outcome: "won" });
    const server = await startMetricsServer(r, { port: 0 });
    try {
      expect(server.port).to.be.greaterThan(0);
      const res = await fetch(server.url);
      expect(res.status).to.equal(200);
      expect(res.headers.get("content-type")).to.equal(METRICS_CONTENT_TYPE);
      expect(await res.text()).to.contain('tvmx_bids_total{outcome="won"} 1');
      expect((await fetch(`http://127.0.0.1:${server.port}/other`)).status).to.equal(404);
      expect((await fetch(server.url, { method: "POST" })).status).to.equal(405);
    } finally {
      await server.close();
    }
  });

  it("reports a port that is already taken", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const err = await startMetricsServer(new MetricsRegistry(), { port }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(TvmxError);
      expect((err as TvmxError).code).to.equal("METRICS_LISTEN");
      expect((err as TvmxError).message).to.contain(`127.0.0.1:${port}`);
    } finally {
      blocker.close();
    }
  });
});
