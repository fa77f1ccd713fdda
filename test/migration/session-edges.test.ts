import { expect } from "chai";
import { once } from "node:events";
import { connect, createServer } from "node:net";
import type { AddressInfo, Socket } from "node:net";
import {
  MigrationAbortedError,
  MigrationError,
  migrateOut,
} from "../../orchestrator/migration/index.js";
import { BufferPool } from "../../orchestrator/migration/buffer-pool.js";
import { FRAME_TYPE } from "../../orchestrator/migration/frame.js";
import { FramedConnection, frameJson } from "../../orchestrator/migration/framed-connection.js";
import { decodeHello, decodeReject } from "../../orchestrator/migration/control-messages.js";
import { tdMemoryDigest, TDX_STATUS } from "../../orchestrator/tdx/index.js";
import { answerChallenge, connectTo, destinationListener, makeHosts, MiB, rejectionOf, runningTd, startPools, stopPools, streamHello } from "./fixtures/setup.js";
import type { Pools } from "./fixtures/setup.js";

const hello = streamHello("00112233445566778899aabbccddeeff");

describe("migration sessions: protocol edges", function () {
  this.timeout(20_000);
  let pools: Pools | undefined;
  before(async () => {
    pools = await startPools();
  });
  after(async () => stopPools(pools));

  it("refuses an engine protocol version it does not speak (REJECT version-mismatch)", async () => {
    const hosts = makeHosts();
    const { listener } = await destinationListener(hosts, { pool: pools!.destination });
    try {
      const conn = await connectTo(listener.port);
      await answerChallenge(conn, { ...hello, protocol: { min: 9, max: 9 } }, hosts.key);
      const answer = await conn.receive();
      expect(answer.type).to.equal(FRAME_TYPE.REJECT);
      expect(decodeReject(frameJson(answer)).reason).to.equal("version-mismatch");
      conn.destroy();
    } finally {
      await listener.close();
    }
  });

  it("reports a destination's protocol refusal as MIGRATION_VERSION_MISMATCH and resumes the TD", async () => {
    // A destination that speaks another engine protocol version.
    const server = createServer((socket: Socket) => {
      const conn = new FramedConnection(socket);
      void conn.sendJson(FRAME_TYPE.CHALLENGE, { nonce: "ab".repeat(32) });
      void conn.receive().then(async (frame) => {
        decodeHello(frameJson(frame));
        await conn.sendJson(FRAME_TYPE.REJECT, { reason: "version-mismatch", message: "supported 2..2" });
        conn.end();
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      const hosts = makeHosts();
      const td = runningTd(hosts.source, 4 * MiB);
      const before = tdMemoryDigest(td).toString("hex");
      const err = await rejectionOf(() =>
        migrateOut({ td, module: hosts.source.module, peer: { host: "127.0.0.1", port: (server.address() as AddressInfo).port }, key: hosts.key, pool: pools!.source }),
      );
      expect(err).to.be.instanceOf(MigrationError);
      expect((err as MigrationError).code).to.equal("MIGRATION_VERSION_MISMATCH");
      expect(td.isRunning).to.equal(true);
      expect(tdMemoryDigest(td).toString("hex")).to.equal(before);
    } finally {
      server.close();
    }
  });

  it("drops a connection whose first frame is not a valid HELLO, and keeps serving", async () => {
    const hosts = makeHosts();
    const { listener } = await destinationListener(hosts, { pool: pools!.destination });
    try {
      const bad = await connectTo(listener.port);
      expect((await bad.receive()).type).to.equal(FRAME_TYPE.CHALLENGE);
      await bad.sendJson(FRAME_TYPE.HELLO, { ...hello, migrationId: "not hex" });
      const answer = await bad.receive();
      expect(decodeReject(frameJson(answer)).reason).to.equal("bad-hello");
      // An oversized frame header: the listener closes the connection.
      const socket = connect(listener.port, "127.0.0.1");
      await once(socket, "connect");
      socket.resume(); // drop the CHALLENGE: a paused socket would not report the close
      socket.write(Buffer.from([0xff, 0xff, 0xff, 0x7f, FRAME_TYPE.HELLO]));
      await once(socket, "close");
      // A real migration still goes through.
      const td = runningTd(hosts.source, 4 * MiB);
      const incoming = listener.accept();
      const done = await migrateOut({ td, module: hosts.source.module, peer: { host: listener.host, port: listener.port }, key: hosts.key, pool: pools!.source });
      expect(done.digestMatch).to.equal(true);
      await incoming;
    } finally {
      await listener.close();
    }
  });

  it("aborts cleanly when the caller's signal fires during pre-copy", async () => {
    const hosts = makeHosts();
    const { listener, ranBeforeCommit } = await destinationListener(hosts, { pool: pools!.destination });
    try {
      const td = runningTd(hosts.source, 4 * MiB);
      const before = tdMemoryDigest(td).toString("hex");
      const controller = new AbortController();
      const incoming = rejectionOf(() => listener.accept());
      const err = await rejectionOf(() =>
        migrateOut({
          td,
          module: hosts.source.module,
          peer: { host: listener.host, port: listener.port },
          key: hosts.key,
          pool: pools!.source,
          signal: controller.signal,
          onProgress: (p) => {
            if (p.phase === "precopy") controller.abort();
          },
        }),
      );
      expect(err).to.be.instanceOf(MigrationAbortedError);
      expect(td.isRunning).to.equal(true);
      expect(tdMemoryDigest(td).toString("hex")).to.equal(before);
      expect(await incoming).to.be.instanceOf(MigrationAbortedError);
      expect(ranBeforeCommit()).to.equal(false);
      // The TD can be migrated again afterwards.
      expect(td.guestWrite(4096, Buffer.from([9]))).to.equal(TDX_STATUS.TDX_SUCCESS);
    } finally {
      await listener.close();
    }
  });

  it("lets a TD migrate again after an aborted attempt", async () => {
    const hosts = makeHosts();
    const { listener } = await destinationListener(hosts, { pool: pools!.destination });
    try {
      const td = runningTd(hosts.source, 4 * MiB);
      const controller = new AbortController();
      const first = rejectionOf(() => listener.accept());
      await rejectionOf(() =>
        migrateOut({
          td,
          module: hosts.source.module,
          peer: { host: listener.host, port: listener.port },
          key: hosts.key,
          pool: pools!.source,
          signal: controller.signal,
          onProgress: (p) => {
            if (p.phase === "precopy") controller.abort();
          },
        }),
      );
      await first;
      const second = listener.accept();
      const done = await migrateOut({ td, module: hosts.source.module, peer: { host: listener.host, port: listener.port }, key: hosts.key, pool: pools!.source });
      expect(done.digestMatch).to.equal(true);
      expect((await second).td.isRunning).to.equal(true);
    } finally {
      await listener.close();
    }
  });
});

describe("buffer pool", () => {
  it("hands back a returned buffer of the same size and allocates otherwise", () => {
    const pool = new BufferPool(1);
    const a = pool.take(8192);
    pool.give(a.buffer as ArrayBuffer);
    const b = pool.take(8192);
    expect(b.buffer).to.equal(a.buffer);
    expect(pool.take(8192).buffer).to.not.equal(a.buffer);
    pool.give(new ArrayBuffer(100));
    pool.give(new ArrayBuffer(100)); // beyond the limit: dropped
    expect(pool.stats).to.deep.equal({ reused: 1, allocated: 2 });
  });
});
