// The migration stream port under clients that do not hold the migration's session key: every attack is played
// against a real listener, and the assertions are on what the destination created, reserved and decided.
import { expect } from "chai";
import { once } from "node:events";
import { connect } from "node:net";
import { randomBytes } from "node:crypto";
import { migrateOut, queryDestinationDecision } from "../../orchestrator/migration/index.js";
import type { IncomingAdmission } from "../../orchestrator/migration/index.js";
import { FRAME_TYPE } from "../../orchestrator/migration/frame.js";
import { FramedConnection, frameJson } from "../../orchestrator/migration/framed-connection.js";
import { decodeChallenge, decodeReject } from "../../orchestrator/migration/control-messages.js";
import { signHello } from "../../orchestrator/migration/hello-auth.js";
import { resultCodeOf } from "../../orchestrator/errors/index.js";
import { formatLogLine, MemoryLogger } from "../../orchestrator/log/index.js";
import { createHostMetrics } from "../../orchestrator/metrics/index.js";
import { pollUntil } from "../../orchestrator/util/index.js";
import { answerChallenge, connectTo, destinationListener, makeHosts, MiB, runningTd, streamHello, startPools, startWorkload, stopPools } from "./fixtures/setup.js";
import type { Hosts, Pools } from "./fixtures/setup.js";

const GiB = 1024 * MiB;

/** Counts the import TDs the destination platform creates (nothing else of it changes). */
function countImportTds(hosts: Hosts): () => number {
  let created = 0;
  const original = hosts.destination.createImportTd.bind(hosts.destination);
  hosts.destination.createImportTd = (options) => {
    created++;
    return original(options);
  };
  return () => created;
}

async function rejectOf(conn: FramedConnection): Promise<{ reason: string; code?: number }> {
  const answer = await conn.receive();
  expect(answer.type).to.equal(FRAME_TYPE.REJECT);
  return decodeReject(frameJson(answer));
}

describe("migration stream: only the holder of the session key gets in", function () {
  this.timeout(30_000);
  let pools: Pools | undefined;
  before(async () => {
    pools = await startPools();
  });
  after(async () => stopPools(pools));

  it("refuses 50 HELLOs of 4 GiB without the key before it creates a TD or reserves memory", async () => {
    const hosts = makeHosts();
    const created = countImportTds(hosts);
    const refused: string[] = [];
    const { listener } = await destinationListener(hosts, { pool: pools!.destination, onRefused: (reason) => refused.push(reason) });
    try {
      const before = process.memoryUsage().rss;
      const answers = await Promise.all(
        Array.from({ length: 50 }, async () => {
          const conn = await connectTo(listener.port);
          await answerChallenge(conn, streamHello(randomBytes(16).toString("hex"), { memoryBytes: 4 * GiB }), randomBytes(32));
          const reject = await rejectOf(conn);
          conn.destroy();
          return reject;
        }),
      );
      const grewMiB = (process.memoryUsage().rss - before) / MiB;
      expect(answers.map((a) => a.reason)).to.deep.equal(new Array(50).fill("unauthenticated"));
      expect(answers[0]!.code).to.equal(resultCodeOf("MIGRATION_HELLO_UNAUTHENTICATED"));
      expect(created()).to.equal(0);
      expect(refused).to.have.length(50);
      // One 4 GiB import TD would be 4096 MiB; the handshakes themselves cost kilobytes each.
      expect(grewMiB).to.be.below(64);
    } finally {
      await listener.close();
    }
  });

  it("refuses a migration it did not agree to, and one whose HELLO states another TD size than agreed", async () => {
    const hosts = makeHosts();
    const created = countImportTds(hosts);
    const agreed = "aa".repeat(16);
    const admit = (req: { migrationId: string }): IncomingAdmission | undefined => (req.migrationId === agreed ? { key: hosts.key, memoryBytes: 4 * MiB } : undefined);
    const { listener } = await destinationListener(hosts, { pool: pools!.destination, key: admit });
    try {
      const stranger = await connectTo(listener.port);
      await answerChallenge(stranger, streamHello("bb".repeat(16)), hosts.key);
      expect(await rejectOf(stranger)).to.deep.include({ reason: "unknown-migration", code: resultCodeOf("MIGRATION_NOT_ADMITTED") });
      stranger.destroy();

      const inflated = await connectTo(listener.port);
      await answerChallenge(inflated, streamHello(agreed, { memoryBytes: 1 * GiB }), hosts.key);
      expect(await rejectOf(inflated)).to.deep.include({ reason: "memory-mismatch", code: resultCodeOf("MIGRATION_HELLO_MEMORY_MISMATCH") });
      inflated.destroy();
      expect(created()).to.equal(0);

      // The agreed migration, at the agreed size, still goes through.
      const td = runningTd(hosts.source, 4 * MiB);
      const incoming = listener.accept();
      const done = await migrateOut({ td, module: hosts.source.module, peer: { host: listener.host, port: listener.port }, key: hosts.key, pool: pools!.source, migrationId: agreed, streams: 1 });
      expect(done.digestMatch).to.equal(true);
      expect((await incoming).migrationId).to.equal(agreed);
      expect(created()).to.equal(1);
    } finally {
      await listener.close();
    }
  });

  it("refuses a recorded HELLO replayed on a new connection (its MAC covers the old nonce)", async () => {
    const hosts = makeHosts();
    const created = countImportTds(hosts);
    const { listener } = await destinationListener(hosts, { pool: pools!.destination });
    try {
      // The attacker saw one HELLO on the wire (signed by the real source for its own connection's nonce).
      const first = await connectTo(listener.port);
      const challenge = decodeChallenge(frameJson(await first.receive()));
      const recorded = signHello(hosts.key, Buffer.from(challenge.nonce, "hex"), streamHello("cc".repeat(16)));
      first.destroy();
      const replay = await connectTo(listener.port);
      expect((await replay.receive()).type).to.equal(FRAME_TYPE.CHALLENGE);
      await replay.sendJson(FRAME_TYPE.HELLO, recorded);
      expect((await rejectOf(replay)).reason).to.equal("unauthenticated");
      replay.destroy();
      // Moved to another stream index, a MAC is wrong too.
      const moved = await connectTo(listener.port);
      const nonce = decodeChallenge(frameJson(await moved.receive())).nonce;
      const signed = signHello(hosts.key, Buffer.from(nonce, "hex"), streamHello("cc".repeat(16), { streamCount: 2 }));
      await moved.sendJson(FRAME_TYPE.HELLO, { ...signed, streamIndex: 1 });
      expect((await rejectOf(moved)).reason).to.equal("unauthenticated");
      moved.destroy();
      expect(created()).to.equal(0);
    } finally {
      await listener.close();
    }
  });

  it("a recover HELLO without the key neither disturbs a running migration nor learns its outcome", async () => {
    const hosts = makeHosts();
    const { listener } = await destinationListener(hosts, { pool: pools!.destination });
    const migrationId = "dd".repeat(16);
    try {
      const td = runningTd(hosts.source, 32 * MiB);
      const workload = startWorkload(td, 16 * MiB, 2 * MiB);
      const incoming = listener.accept();
      const attacks: Promise<string>[] = [];
      const attack = async (): Promise<string> => {
        const conn = await connectTo(listener.port);
        try {
          await answerChallenge(conn, streamHello(migrationId, { recover: true }), randomBytes(32));
          const answer = await conn.receive();
          return answer.type === FRAME_TYPE.REJECT ? decodeReject(frameJson(answer)).reason : `frame ${answer.type}`;
        } finally {
          conn.destroy();
        }
      };
      const done = await migrateOut({
        td,
        module: hosts.source.module,
        peer: { host: listener.host, port: listener.port },
        key: hosts.key,
        pool: pools!.source,
        migrationId,
        onProgress: (p) => {
          // Several recover HELLOs while pre-copy runs, as a process that saw the migration id would send.
          if (p.phase === "precopy" && attacks.length < 5) attacks.push(attack());
        },
      });
      workload.stop();
      expect(done.digestMatch).to.equal(true);
      expect((await incoming).migrationId).to.equal(migrationId);
      expect(attacks.length).to.be.greaterThan(0);
      for (const reason of await Promise.all(attacks)) expect(reason).to.equal("unauthenticated");

      // After commit: the keyless asker learns nothing; the source (holder of the key) learns COMMITTED.
      expect(await attack()).to.equal("unauthenticated");
      const decision = await queryDestinationDecision({ host: listener.host, port: listener.port }, streamHello(migrationId), hosts.key);
      expect(decision.kind).to.equal("committed");
    } finally {
      await listener.close();
    }
  });

  it("keeps a stranger to one small frame before HELLO: a 64 KiB frame header closes the connection at once", async () => {
    const hosts = makeHosts();
    // A long handshake deadline: the close below must come from the frame limit, not from the deadline.
    const { listener } = await destinationListener(hosts, { pool: pools!.destination, helloTimeoutMs: 60_000 });
    try {
      const socket = connect(listener.port, "127.0.0.1");
      await once(socket, "connect");
      // Declares a 64 KiB HELLO (the engine's frames may be 4 MiB once admitted): refused at the header.
      const header = Buffer.alloc(5);
      header.writeUInt32LE(64 * 1024, 0);
      header.writeUInt8(FRAME_TYPE.HELLO, 4);
      socket.resume(); // drop the CHALLENGE: a paused socket would not report the close
      socket.write(header);
      const closedAt = await Promise.race([once(socket, "close").then(() => "closed"), new Promise((r) => setTimeout(() => r("still open"), 5_000))]);
      expect(closedAt).to.equal("closed");
      socket.destroy();
    } finally {
      await listener.close();
    }
  });

  it("holds handshakes to a deadline from accept and to limits per address and in total", async () => {
    const hosts = makeHosts();
    const refused: string[] = [];
    const { listener } = await destinationListener(hosts, {
      pool: pools!.destination,
      helloTimeoutMs: 600,
      maxPendingPerAddress: 4,
      maxPendingHandshakes: 8,
      onRefused: (reason) => refused.push(reason),
    });
    try {
      // Four silent connections from one address fill its share; a fifth is closed at once.
      const silent = await Promise.all(Array.from({ length: 4 }, () => connectTo(listener.port)));
      for (const conn of silent) expect((await conn.receive()).type).to.equal(FRAME_TYPE.CHALLENGE);
      const fifth = await connectTo(listener.port);
      await fifth.closed;
      expect(refused).to.deep.equal(["too-many-pending"]);
      // The deadline closes the silent ones (a trickle of bytes does not extend it).
      const trickle = setInterval(() => silent[0]!.socket.write(Buffer.from([1])), 100);
      const started = Date.now();
      await Promise.all(silent.map((c) => c.closed));
      clearInterval(trickle);
      expect(Date.now() - started).to.be.below(5_000);
      // Each is counted as refused by the deadline (a moment after the client sees its close), except the trickler
      // when its bytes made a frame header over the handshake's 4 KiB first: that is a bad HELLO.
      await pollUntil(() => (refused.length === 5 ? true : undefined), { intervalMs: 5, timeoutMs: 2_000 });
      const deadlines = refused.filter((r) => r === "deadline").length;
      expect(deadlines).to.be.at.least(3);
      expect(refused.filter((r) => r === "bad-hello")).to.have.length(4 - deadlines);
      // Then the port serves again.
      const td = runningTd(hosts.source, 4 * MiB);
      const incoming = listener.accept();
      const done = await migrateOut({ td, module: hosts.source.module, peer: { host: listener.host, port: listener.port }, key: hosts.key, pool: pools!.source });
      expect(done.digestMatch).to.equal(true);
      await incoming;
    } finally {
      await listener.close();
    }
  });

  it("counts every refused stream connection in tvmx_stream_refused_total but logs only 20 a minute, then one summary", async () => {
    const hosts = makeHosts();
    const log = new MemoryLogger({ level: "info" });
    // The host's own metric, fed as the host feeds it (orchestrator/host/host.ts).
    const refused = createHostMetrics().streamRefusedTotal;
    const agreed = "dd".repeat(16);
    const { listener } = await destinationListener(hosts, {
      pool: pools!.destination,
      logger: log,
      maxPendingPerAddress: 2,
      key: (req) => (req.migrationId === agreed ? { key: hosts.key, memoryBytes: 4 * MiB } : undefined),
      onRefused: (reason) => refused.inc({ reason }),
    });
    const warnings = () => log.records.filter((r) => r.level === "warn" || r.level === "error");
    try {
      // Two silent connections fill the address's share; 20 more are closed at accept.
      const holders = await Promise.all([connectTo(listener.port), connectTo(listener.port)]);
      for (const h of holders) expect((await h.receive()).type).to.equal(FRAME_TYPE.CHALLENGE);
      await Promise.all(Array.from({ length: 20 }, async () => (await connectTo(listener.port)).closed));
      for (const h of holders) h.destroy();
      await Promise.all(holders.map((h) => h.closed));
      // Then 40 HELLOs, one at a time (within the address's share): wrong key, unknown id, malformed.
      const answers: string[] = [];
      const hello = async (send: (conn: FramedConnection) => Promise<unknown>): Promise<void> => {
        const conn = await connectTo(listener.port);
        await send(conn);
        answers.push((await rejectOf(conn)).reason);
        conn.destroy();
      };
      for (let i = 0; i < 15; i++) await hello((c) => answerChallenge(c, streamHello(agreed), randomBytes(32)));
      for (let i = 0; i < 15; i++) await hello((c) => answerChallenge(c, streamHello(randomBytes(16).toString("hex")), hosts.key));
      const malformed = async (c: FramedConnection): Promise<void> => {
        expect((await c.receive()).type).to.equal(FRAME_TYPE.CHALLENGE);
        await c.sendJson(FRAME_TYPE.HELLO, { migrationId: 7 });
      };
      for (let i = 0; i < 10; i++) await hello(malformed);
      expect(answers).to.deep.equal([...Array(15).fill("unauthenticated"), ...Array(15).fill("unknown-migration"), ...Array(10).fill("bad-hello")]);
      expect(refused.get({ reason: "too-many-pending" })).to.equal(20);
      expect(refused.get({ reason: "unauthenticated" })).to.equal(15);
      expect(refused.get({ reason: "unknown-migration" })).to.equal(15);
      expect(refused.get({ reason: "bad-hello" })).to.equal(10);
      // 60 refused, 20 lines: the first 20 (all at accept); nothing else was warned about.
      expect(warnings().map((r) => r.msg)).to.deep.equal(Array(20).fill("refused a stream connection"));
      expect(warnings().map((r) => r.reason)).to.deep.equal(Array(20).fill("too-many-pending"));
    } finally {
      await listener.close();
    }
    // Closing writes the summary of the window in progress.
    expect(warnings().map((r) => r.msg)).to.deep.equal([...Array(20).fill("refused a stream connection"), "refused a stream connection: suppressed"]);
    expect(log.find("refused a stream connection: suppressed")[0]).to.deep.include({ suppressed: 40, windowMs: 60_000 });
    const bytes = warnings().reduce((n, r) => n + formatLogLine(r).length, 0);
    console.log(`      figures: 60 refused stream connections, ${warnings().length} warning lines (${bytes} bytes)`);
  });
});
