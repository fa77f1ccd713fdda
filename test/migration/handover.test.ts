import { expect } from "chai";
import { migrateOut, type HandOverCheck } from "../../orchestrator/migration/index.js";
import { isTvmxError, TvmxError } from "../../orchestrator/errors/index.js";
import { tdStateDigest } from "../../orchestrator/tdx/index.js";
import { destinationListener, makeHosts, MiB, rejectionOf, runningTd, startWorkload } from "./fixtures/setup.js";

/** The hand-over the source sends with COMMIT, and the destination's verifier that gates TDH.IMPORT.COMMIT. */
describe("migration: the source's hand-over at commit", function () {
  this.timeout(30_000);

  it("commits once the verifier accepts the hand-over, which names the digest the destination imported", async () => {
    const hosts = makeHosts();
    const checks: HandOverCheck[] = [];
    const { listener, states } = await destinationListener(hosts, {
      key: () => ({ key: hosts.key, acceptHandOver: async (c) => void checks.push(c) }),
    });
    try {
      const td = runningTd(hosts.source, 4 * MiB);
      const workload = startWorkload(td);
      const incoming = listener.accept();
      const offered: string[] = [];
      const done = await migrateOut({
        td,
        module: hosts.source.module,
        peer: { host: listener.host, port: listener.port },
        key: hosts.key,
        downtimeTargetMs: 20,
        workload,
        handOver: async (digest) => {
          offered.push(digest);
          return `signed:${digest}`;
        },
      });
      workload.stop();
      const imported = await incoming;
      expect(offered).to.deep.equal([done.sourceDigest]);
      expect(checks).to.have.length(1);
      expect(checks[0]).to.deep.include({ migrationId: done.migrationId, handOver: `signed:${done.sourceDigest}`, sourceDigest: done.sourceDigest, digest: done.sourceDigest });
      // The digest checked before the commit is the running TD's after it.
      expect(tdStateDigest(imported.td).toString("hex")).to.equal(checks[0]!.digest);
      expect(imported.digest).to.equal(done.sourceDigest);
      expect(done.digestMatch).to.equal(true);
      expect(states.get(done.migrationId)).to.include.members(["ready", "committed"]);
    } finally {
      await listener.close();
    }
  });

  it("does not commit when the verifier refuses: the TD resumes on the source", async () => {
    const hosts = makeHosts();
    const { listener, states } = await destinationListener(hosts, {
      key: () => ({
        key: hosts.key,
        acceptHandOver: async (c) => {
          throw new TvmxError("HOST_HANDOVER_INVALID", "not the source's signature", { details: { handOver: c.handOver } });
        },
      }),
    });
    try {
      const td = runningTd(hosts.source, 4 * MiB);
      const incoming = listener.accept();
      incoming.catch(() => undefined);
      const err = await rejectionOf(() =>
        migrateOut({ td, module: hosts.source.module, peer: { host: listener.host, port: listener.port }, key: hosts.key, downtimeTargetMs: 20, handOver: async () => "forged" }),
      );
      expect(isTvmxError(err)).to.equal(true);
      const refused = await rejectionOf(() => incoming);
      expect((refused as TvmxError).code).to.equal("MIGRATION_HANDOVER_REFUSED");
      expect(((refused as TvmxError).cause as TvmxError).code).to.equal("HOST_HANDOVER_INVALID");
      const phases = [...states.values()][0]!;
      expect(phases).to.include("aborted");
      expect(phases).not.to.include("committed");
      expect(td.isRunning, "the TD runs on the source again").to.equal(true);
    } finally {
      await listener.close();
    }
  });

  it("does not commit when the source cannot produce its hand-over: it cancels and resumes", async () => {
    const hosts = makeHosts();
    let asked = 0;
    const { listener, states } = await destinationListener(hosts, { key: () => ({ key: hosts.key, acceptHandOver: async () => void asked++ }) });
    try {
      const td = runningTd(hosts.source, 4 * MiB);
      const incoming = listener.accept();
      incoming.catch(() => undefined);
      const err = await rejectionOf(() =>
        migrateOut({
          td,
          module: hosts.source.module,
          peer: { host: listener.host, port: listener.port },
          key: hosts.key,
          downtimeTargetMs: 20,
          handOver: async () => {
            throw new TvmxError("KEYSTORE_PASSWORD_MISSING", "the signing key is not available");
          },
        }),
      );
      expect((err as TvmxError).code).to.equal("KEYSTORE_PASSWORD_MISSING");
      await rejectionOf(() => incoming);
      expect(asked).to.equal(0);
      expect([...states.values()][0]).not.to.include("committed");
      expect(td.isRunning).to.equal(true);
    } finally {
      await listener.close();
    }
  });

  it("commits on an accepted hand-over even when the source is gone by then", async () => {
    const hosts = makeHosts();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let verifying!: () => void;
    const verifyingNow = new Promise<void>((r) => (verifying = r));
    const { listener } = await destinationListener(hosts, {
      key: () => ({
        key: hosts.key,
        acceptHandOver: async () => {
          verifying();
          await held;
        },
      }),
    });
    try {
      const td = runningTd(hosts.source, 4 * MiB);
      const incoming = listener.accept();
      const controller = new AbortController();
      const source = migrateOut({ td, module: hosts.source.module, peer: { host: listener.host, port: listener.port }, key: hosts.key, downtimeTargetMs: 20, handOver: async (d) => d, signal: controller.signal, recoveryAttempts: 1 });
      source.catch(() => undefined);
      await verifyingNow;
      // The source gives up while the destination checks the hand-over: its connections close, and it asks (on a
      // fresh connection) what the destination decided.
      controller.abort();
      await new Promise((r) => setTimeout(r, 100));
      release();
      const imported = await incoming;
      expect(imported.td.isRunning).to.equal(true);
      // The destination committed, so the source learns that it did and never resumes.
      const done = await source;
      expect(done.recovered).to.equal(true);
      expect(td.isRunning).to.equal(false);
    } finally {
      await listener.close();
    }
  });
});
