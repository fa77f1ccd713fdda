/**
 * The destination's listener: accepts the TCP connections of incoming migrations, groups them by migration id,
 * negotiates the engine protocol version, runs one ImportSession per migration, and answers RECOVER questions
 * ("what did you decide?") from sources whose connection was cut after their start token.
 */
import { once } from "node:events";
import { createServer } from "node:net";
import type { AddressInfo, Server, Socket } from "node:net";
import type { Logger } from "../log/index.js";
import { nullLogger } from "../log/index.js";
import type { Platform, TrustDomain } from "../tdx/index.js";
import { BufferPool } from "./buffer-pool.js";
import { expectHello } from "./connect.js";
import { deferred, type Deferred } from "../util/index.js";
import { ConnectionClosedError, MigrationAbortedError, MigrationError } from "./errors.js";
import { FRAME_TYPE } from "./frame.js";
import { FramedConnection } from "./framed-connection.js";
import { ImportSession } from "./import-session.js";
import type { CompletedImport, ImportOutcome, KeyProvider } from "./import-session.js";
import { decodeHello, ENGINE_PROTOCOL, negotiateVersion } from "./control-messages.js";
import type { StreamHelloMessage, RejectMessage } from "./control-messages.js";
import type { DestinationState } from "./session-state.js";
import { migrationWorkerEntry } from "./source-session.js";
import { WorkerPool } from "./worker-pool.js";

export interface ListenIncomingOptions {
  /** The destination platform: it creates the import TDs and its module runs the leaves. */
  platform: Platform;
  /** The session key, or a provider asked per incoming migration. */
  key: Uint8Array | KeyProvider;
  host?: string;
  /** 0 (default) picks a free port; `port` on the result tells which. */
  port?: number;
  logger?: Logger;
  /**
   * Fields for the log lines of one incoming migration, by its stream id (the HELLO's 16-byte id), e.g. the
   * caller's own id for it so that every line of one migration carries one id.
   */
  logContext?: (streamId: string) => Record<string, unknown> | undefined;
  /** A worker pool to use (not closed by the listener); by default one of `workers` (2) is started. */
  pool?: WorkerPool;
  workers?: number;
  /** Pre-touched memory for an import TD of this size (a real VMM prepares it before -incoming). */
  memoryProvider?: (memoryBytes: number) => SharedArrayBuffer | undefined;
  /** Digest the TD after commit and send it to the source for comparison (default true). */
  verifyDigest?: boolean;
  /** Import descriptors in flight per stream (default 4). */
  importWindow?: number;
  /** Memory bundles up to this many pages are imported on the main thread when nothing is in flight (default 128). */
  inlineImportPages?: number;
  /** How long a fresh connection may take to send HELLO (default 10 s). */
  helloTimeoutMs?: number;
  /** Every state change of every import session, e.g. to check the TD never runs before commit. */
  onStateChange?: (migrationId: string, state: DestinationState, td: TrustDomain | undefined) => void;
}

export interface IncomingListener {
  readonly port: number;
  readonly host: string;
  /** The next incoming migration's result: resolves when it committed, rejects with why it was aborted. */
  accept(): Promise<CompletedImport>;
  /** Stops listening, aborts the sessions in progress, stops its workers. */
  close(): Promise<void>;
}

/** How many finished migrations the listener remembers for RECOVER. */
const OUTCOMES_KEPT = 256;

export async function listenIncoming(options: ListenIncomingOptions): Promise<IncomingListener> {
  const log = (options.logger ?? nullLogger).child({ component: "migration-listener" });
  const pool = options.pool ?? (await WorkerPool.start({ size: options.workers ?? 2, entry: migrationWorkerEntry(), name: "import" }));
  const ownsPool = options.pool === undefined;
  const keyProvider: KeyProvider = typeof options.key === "function" ? options.key : (() => options.key as Uint8Array);
  const buffers = new BufferPool();
  const server: Server = createServer();
  const host = options.host ?? "127.0.0.1";
  const sockets = new Set<Socket>();
  const forming = new Map<string, { hello: StreamHelloMessage; conns: (FramedConnection | undefined)[]; count: number }>();
  const active = new Map<string, ImportSession>();
  const outcomes = new Map<string, ImportOutcome>();
  const results: Deferred<CompletedImport>[] = [];
  const waiters: Deferred<CompletedImport>[] = [];
  let closed = false;

  const deliver = (settle: (d: Deferred<CompletedImport>) => void): void => {
    const waiter = waiters.shift();
    if (waiter) settle(waiter);
    else {
      const d = deferred<CompletedImport>();
      settle(d);
      results.push(d);
    }
  };

  const remember = (id: string, outcome: ImportOutcome): void => {
    outcomes.set(id, outcome);
    if (outcomes.size > OUTCOMES_KEPT) outcomes.delete(outcomes.keys().next().value!);
  };

  const startSession = (hello: StreamHelloMessage, conns: FramedConnection[]): void => {
    const session = new ImportSession({
      hello,
      conns,
      platform: options.platform,
      keyProvider,
      pool,
      logger: (options.logger ?? nullLogger).child(options.logContext?.(hello.migrationId) ?? {}),
      memoryProvider: options.memoryProvider,
      verifyDigest: options.verifyDigest ?? true,
      importWindow: options.importWindow ?? 4,
      inlineImportPages: options.inlineImportPages ?? 128,
      buffers,
      onStateChange: options.onStateChange,
    });
    active.set(hello.migrationId, session);
    void session.outcome.promise.then((o) => remember(hello.migrationId, o));
    session.run().then(
      (done) => {
        active.delete(hello.migrationId);
        deliver((d) => d.resolve(done));
      },
      (err: Error) => {
        active.delete(hello.migrationId);
        deliver((d) => d.reject(err));
      },
    );
  };

  const answerRecover = async (conn: FramedConnection, hello: StreamHelloMessage): Promise<void> => {
    const session = active.get(hello.migrationId);
    // The source lost its connections and asks: whatever was not committed yet is aborted now.
    if (session) {
      if (session.phase !== "committed") session.interrupt(new ConnectionClosedError({ reason: "the source reconnected to recover" }));
      await session.outcome.promise;
    }
    const outcome = outcomes.get(hello.migrationId);
    if (!outcome) {
      await conn.sendJson(FRAME_TYPE.REJECT, { reason: "unknown-migration", message: "no such migration" } satisfies RejectMessage);
    } else if (outcome.kind === "committed") {
      await conn.sendJson(FRAME_TYPE.COMMITTED, outcome.committed);
    } else {
      await conn.sendJson(FRAME_TYPE.ABORT_TOKEN, outcome.abort);
    }
    log.info("answered a recovery request", { streamId: hello.migrationId, outcome: outcome?.kind ?? "unknown" });
    conn.end();
  };

  const onConnection = async (socket: Socket): Promise<void> => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    const conn = new FramedConnection(socket, { label: "incoming", allocate: (n) => buffers.take(n) });
    const timer = setTimeout(() => conn.destroy(), options.helloTimeoutMs ?? 10_000);
    let hello: StreamHelloMessage;
    try {
      hello = decodeHello(await expectHello(conn));
    } catch (err) {
      log.warn("dropping a connection without a valid HELLO", { err });
      await conn.sendJson(FRAME_TYPE.REJECT, { reason: "bad-hello", message: (err as Error).message } satisfies RejectMessage).catch(() => undefined);
      conn.end();
      return;
    } finally {
      clearTimeout(timer);
    }
    if (closed) {
      await conn.sendJson(FRAME_TYPE.REJECT, { reason: "closed", message: "the listener is closing" } satisfies RejectMessage).catch(() => undefined);
      conn.end();
      return;
    }
    if (negotiateVersion(ENGINE_PROTOCOL, hello.protocol) === undefined) {
      log.warn("engine protocol version mismatch", { streamId: hello.migrationId, offered: hello.protocol, supported: ENGINE_PROTOCOL });
      await conn.sendJson(FRAME_TYPE.REJECT, {
        reason: "version-mismatch",
        message: `supported ${ENGINE_PROTOCOL.min}..${ENGINE_PROTOCOL.max}, offered ${hello.protocol.min}..${hello.protocol.max}`,
      } satisfies RejectMessage).catch(() => undefined);
      conn.end();
      return;
    }
    if (hello.recover) {
      await answerRecover(conn, hello).catch((err: unknown) => log.warn("recovery answer failed", { err }));
      return;
    }
    if (active.has(hello.migrationId) || outcomes.has(hello.migrationId)) {
      await conn.sendJson(FRAME_TYPE.REJECT, { reason: "busy", message: "this migration id is already in use" } satisfies RejectMessage).catch(() => undefined);
      conn.end();
      return;
    }
    let group = forming.get(hello.migrationId);
    if (!group) {
      group = { hello, conns: new Array(hello.streamCount).fill(undefined), count: 0 };
      forming.set(hello.migrationId, group);
    }
    if (hello.streamCount !== group.hello.streamCount || group.conns[hello.streamIndex] !== undefined) {
      await conn.sendJson(FRAME_TYPE.REJECT, { reason: "bad-hello", message: "inconsistent stream set" } satisfies RejectMessage).catch(() => undefined);
      conn.end();
      return;
    }
    conn.socket.once("close", () => {
      // A stream set that never completes must not linger.
      if (forming.get(hello.migrationId) === group) {
        forming.delete(hello.migrationId);
        for (const c of group.conns) c?.destroy();
      }
    });
    group.conns[hello.streamIndex] = conn;
    group.count++;
    if (group.count === hello.streamCount) {
      forming.delete(hello.migrationId);
      startSession(group.hello, group.conns as FramedConnection[]);
    }
  };

  server.on("connection", (socket) => {
    onConnection(socket).catch((err: unknown) => {
      log.error("incoming connection failed", { err });
      socket.destroy();
    });
  });
  server.listen(options.port ?? 0, host);
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  log.info("listening for incoming migrations", { host, port });

  return {
    port,
    host,
    accept(): Promise<CompletedImport> {
      const ready = results.shift();
      if (ready) return ready.promise;
      if (closed) return Promise.reject(new MigrationError("MIGRATION_ABORTED", "the listener is closed"));
      const d = deferred<CompletedImport>();
      waiters.push(d);
      return d.promise;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      server.close();
      for (const s of active.values()) s.interrupt(new MigrationAbortedError("the destination is shutting down"));
      await Promise.allSettled([...active.values()].map((s) => s.outcome.promise));
      for (const s of sockets) s.destroy();
      for (const w of waiters.splice(0)) w.reject(new MigrationError("MIGRATION_ABORTED", "the listener closed"));
      if (ownsPool) await pool.close();
      log.info("listener closed", { port });
    },
  };
}
