/**
 * The destination's listener: accepts the TCP connections of incoming migrations, authenticates each before it costs
 * anything (CHALLENGE, then a HELLO whose MAC proves the session key of a migration this host agreed to: see
 * hello-auth.ts), groups them by migration id, negotiates the engine protocol version, runs one ImportSession per
 * migration, and answers RECOVER questions ("what did you decide?") from the authenticated source only.
 *
 * Nothing is reserved for a connection until its HELLO is authenticated: no TD, no memory, no group slot. The import
 * TD's size is the admission's (the host's capacity accounting), never the HELLO's word.
 */
import { once } from "node:events";
import { createServer } from "node:net";
import type { AddressInfo, Server, Socket } from "node:net";
import type { Logger } from "../log/index.js";
import { nullLogger, RateLimitedWarning } from "../log/index.js";
import type { Platform, TrustDomain } from "../tdx/index.js";
import { BufferPool } from "./buffer-pool.js";
import { expectHello } from "./connect.js";
import { addressGroupOf, deferred, type Deferred } from "../util/index.js";
import { ConnectionClosedError, MigrationAbortedError, MigrationError } from "./errors.js";
import { FRAME_TYPE, MAX_FRAME_BYTES } from "./frame.js";
import { FramedConnection } from "./framed-connection.js";
import { ImportSession } from "./import-session.js";
import type { CompletedImport, ImportOutcome, IncomingAdmission, KeyProvider } from "./import-options.js";
import { decodeHello, ENGINE_PROTOCOL, negotiateVersion } from "./control-messages.js";
import type { ChallengeMessage, RejectMessage, RejectReason, StreamHelloMessage } from "./control-messages.js";
import { freshHelloNonce, helloMacValid } from "./hello-auth.js";
import { resultCodeOf } from "../errors/index.js";
import type { ErrorCode } from "../errors/index.js";
import type { DestinationState } from "./session-state.js";
import { migrationWorkerEntry } from "./session-shared.js";
import { WorkerPool } from "./worker-pool.js";

export interface ListenIncomingOptions {
  /** The destination platform: it creates the import TDs and its module runs the leaves. */
  platform: Platform;
  /**
   * Which migrations this destination agreed to: a provider asked per incoming HELLO (before anything is reserved)
   * for the admission (session key and accounted memory size), or one key for every migration (tests, a bare engine).
   */
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
  /** Deadline from accept for the whole handshake (HELLO received and admitted; default 10 s): not an idle timer. */
  helloTimeoutMs?: number;
  /** Connections still in their handshake at once; more are closed at accept (default 64). */
  maxPendingHandshakes?: number;
  /** Of those, from one remote address (default 32: a source's 16 streams and its recovery, twice over). */
  maxPendingPerAddress?: number;
  /** Every refused connection, by its reason (a metric counts them; the log says only some). */
  onRefused?: (reason: StreamRefusal) => void;
  /** Every state change of every import session, e.g. to check the TD never runs before commit. */
  onStateChange?: (migrationId: string, state: DestinationState, td: TrustDomain | undefined) => void;
}

/**
 * Why a stream connection was refused before admission: a REJECT's reason, or closed without one — at accept over
 * the pending limits (`too-many-pending`), or by the handshake deadline (`deadline`).
 */
export type StreamRefusal = RejectReason | "too-many-pending" | "deadline";

export interface IncomingListener {
  readonly port: number;
  readonly host: string;
  /** The next incoming migration's result: resolves when it committed, rejects with why it was aborted. */
  accept(): Promise<CompletedImport>;
  /** Stops listening, aborts the sessions in progress, stops its workers. */
  close(): Promise<void>;
}

/** An authenticated HELLO of an admitted migration, with the key it proved and the TD size the host agreed to. */
interface Admitted {
  hello: StreamHelloMessage;
  key: Uint8Array;
  memoryBytes: number;
  acceptHandOver: IncomingAdmission["acceptHandOver"];
}

/** How many finished migrations the listener remembers for RECOVER. */
const OUTCOMES_KEPT = 256;

/**
 * Until a connection is authenticated it may send one small frame (a HELLO is about 400 bytes) and have little
 * queued: a stranger cannot make the destination buffer a 4 MiB frame. Admitted streams get the engine's limits.
 */
const HANDSHAKE_LIMITS = { maxFrameBytes: 4096, highWaterBytes: 16 * 1024 };
const STREAM_LIMITS = { maxFrameBytes: MAX_FRAME_BYTES, highWaterBytes: 8 * 1024 * 1024 };

export async function listenIncoming(options: ListenIncomingOptions): Promise<IncomingListener> {
  const log = (options.logger ?? nullLogger).child({ component: "migration-listener" });
  const pool = options.pool ?? (await WorkerPool.start({ size: options.workers ?? 2, entry: migrationWorkerEntry(), name: "import" }));
  const ownsPool = options.pool === undefined;
  const keyProvider: KeyProvider = typeof options.key === "function" ? options.key : (() => options.key as Uint8Array);
  const buffers = new BufferPool();
  const server: Server = createServer();
  const host = options.host ?? "127.0.0.1";
  const sockets = new Set<Socket>();
  const forming = new Map<string, { admitted: Admitted; conns: (FramedConnection | undefined)[]; count: number }>();
  const active = new Map<string, { session: ImportSession; key: Uint8Array }>();
  /** Finished migrations with the key their source proved: a recover HELLO must prove the same key. */
  const outcomes = new Map<string, { outcome: ImportOutcome; key: Uint8Array }>();
  const results: Deferred<CompletedImport>[] = [];
  const waiters: Deferred<CompletedImport>[] = [];
  let closed = false;
  // A stranger can cause refusals at will: they are counted (onRefused → a metric) and only sampled in the log.
  const refusedLog = new RateLimitedWarning(log, "refused a stream connection", { limit: 20, windowMs: 60_000 });

  const deliver = (settle: (d: Deferred<CompletedImport>) => void): void => {
    const waiter = waiters.shift();
    if (waiter) settle(waiter);
    else {
      const d = deferred<CompletedImport>();
      settle(d);
      results.push(d);
    }
  };

  const remember = (id: string, outcome: ImportOutcome, key: Uint8Array): void => {
    outcomes.set(id, { outcome, key });
    if (outcomes.size > OUTCOMES_KEPT) outcomes.delete(outcomes.keys().next().value!);
  };

  const startSession = (admitted: Admitted, conns: FramedConnection[]): void => {
    const { hello } = admitted;
    const session = new ImportSession({
      hello,
      conns,
      platform: options.platform,
      key: admitted.key,
      memoryBytes: admitted.memoryBytes,
      pool,
      logger: (options.logger ?? nullLogger).child(options.logContext?.(hello.migrationId) ?? {}),
      memoryProvider: options.memoryProvider,
      verifyDigest: options.verifyDigest ?? true,
      importWindow: options.importWindow ?? 4,
      inlineImportPages: options.inlineImportPages ?? 128,
      buffers,
      onStateChange: options.onStateChange,
      acceptHandOver: admitted.acceptHandOver,
    });
    active.set(hello.migrationId, { session, key: admitted.key });
    void session.outcome.promise.then((o) => remember(hello.migrationId, o, admitted.key));
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
    const session = active.get(hello.migrationId)?.session;
    // The source (authenticated by its HELLO) lost its connections and asks: whatever was not committed yet is aborted now.
    if (session) {
      if (session.phase !== "committed") session.interrupt(new ConnectionClosedError({ reason: "the source reconnected to recover" }));
      await session.outcome.promise;
    }
    const outcome = outcomes.get(hello.migrationId)?.outcome;
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

  const refuse = async (conn: FramedConnection, reason: RejectReason, message: string, code?: ErrorCode, extra: Record<string, unknown> = {}): Promise<undefined> => {
    options.onRefused?.(reason);
    refusedLog.warn({ reason, remote: conn.socket.remoteAddress, ...(code ? { code } : {}), ...extra });
    const reject: RejectMessage = { reason, message, ...(code ? { code: resultCodeOf(code) } : {}) };
    await conn.sendJson(FRAME_TYPE.REJECT, reject).catch(() => undefined);
    conn.end();
    return undefined;
  };

  /** The session key a recover HELLO must prove: that of the running or finished migration it names. */
  const recoverKey = (migrationId: string): Uint8Array | undefined => active.get(migrationId)?.key ?? outcomes.get(migrationId)?.key;

  const admissionOf = async (hello: StreamHelloMessage): Promise<IncomingAdmission | undefined> => {
    try {
      const given = await keyProvider({ migrationId: hello.migrationId, migVersion: hello.migVersion, memoryBytes: hello.memoryBytes, numVcpus: hello.numVcpus });
      if (given === undefined) return undefined;
      return given instanceof Uint8Array ? { key: given } : given;
    } catch (err) {
      log.debug("no admission for an incoming migration", { migrationId: hello.migrationId, err });
      return undefined;
    }
  };

  /**
   * CHALLENGE, HELLO, admission, MAC, memory size: the HELLO of an admitted, authenticated stream, or undefined when
   * the connection was refused (recover HELLOs are answered here and also give undefined).
   */
  const authenticate = async (conn: FramedConnection): Promise<Admitted | undefined> => {
    const nonce = freshHelloNonce();
    await conn.sendJson(FRAME_TYPE.CHALLENGE, { nonce: nonce.toString("hex") } satisfies ChallengeMessage);
    let hello: StreamHelloMessage;
    try {
      hello = decodeHello(await expectHello(conn));
    } catch (err) {
      // A connection that went away first (its deadline, or the peer hung up) sent no HELLO, not a bad one.
      if (err instanceof ConnectionClosedError) throw err;
      return refuse(conn, "bad-hello", (err as Error).message, undefined, { err: (err as Error).message });
    }
    if (closed) return refuse(conn, "closed", "the listener is closing");
    if (negotiateVersion(ENGINE_PROTOCOL, hello.protocol) === undefined) {
      return refuse(conn, "version-mismatch", `supported ${ENGINE_PROTOCOL.min}..${ENGINE_PROTOCOL.max}, offered ${hello.protocol.min}..${hello.protocol.max}`, "MIGRATION_VERSION_MISMATCH");
    }
    if (hello.recover) {
      const key = recoverKey(hello.migrationId);
      if (!key) return refuse(conn, "unknown-migration", "no such migration", "MIGRATION_NOT_ADMITTED");
      if (!helloMacValid(key, nonce, hello)) return refuse(conn, "unauthenticated", "the HELLO does not prove the migration's key", "MIGRATION_HELLO_UNAUTHENTICATED");
      await answerRecover(conn, hello).catch((err: unknown) => log.warn("recovery answer failed", { err }));
      return undefined;
    }
    const admission = await admissionOf(hello);
    if (!admission) return refuse(conn, "unknown-migration", "no migration by that id was agreed to here", "MIGRATION_NOT_ADMITTED");
    if (!helloMacValid(admission.key, nonce, hello)) return refuse(conn, "unauthenticated", "the HELLO does not prove the migration's key", "MIGRATION_HELLO_UNAUTHENTICATED");
    if (admission.memoryBytes !== undefined && admission.memoryBytes !== hello.memoryBytes) {
      return refuse(conn, "memory-mismatch", `the allocation is for ${admission.memoryBytes} bytes of TD memory`, "MIGRATION_HELLO_MEMORY_MISMATCH", {
        stated: hello.memoryBytes,
        agreed: admission.memoryBytes,
      });
    }
    return { hello, key: admission.key, memoryBytes: admission.memoryBytes ?? hello.memoryBytes, acceptHandOver: admission.acceptHandOver };
  };

  /** Connections in their handshake, in total and by remote address. */
  let pendingTotal = 0;
  const pendingByAddress = new Map<string, number>();
  const maxPending = options.maxPendingHandshakes ?? 64;
  const maxPendingPerAddress = options.maxPendingPerAddress ?? 32;

  const onConnection = async (socket: Socket): Promise<void> => {
    // Limits count an IPv6 client by its /64 (see addressGroupOf): one host holds a whole /64.
    const address = addressGroupOf(socket.remoteAddress ?? "unknown");
    const fromAddress = pendingByAddress.get(address) ?? 0;
    if (pendingTotal >= maxPending || fromAddress >= maxPendingPerAddress) {
      // Refused before a byte is read or a buffer is made: no CHALLENGE, no frame decoder.
      options.onRefused?.("too-many-pending");
      refusedLog.warn({ reason: "too-many-pending", remote: address, pendingTotal, fromAddress });
      socket.destroy();
      return;
    }
    pendingTotal++;
    pendingByAddress.set(address, fromAddress + 1);
    const donePending = (): void => {
      pendingTotal--;
      const left = (pendingByAddress.get(address) ?? 1) - 1;
      if (left === 0) pendingByAddress.delete(address);
      else pendingByAddress.set(address, left);
    };
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    const conn = new FramedConnection(socket, { label: "incoming", allocate: (n) => buffers.take(n) });
    conn.setReceiveLimits(HANDSHAKE_LIMITS);
    // An absolute deadline from accept: a slow client cannot stretch the handshake by trickling bytes.
    const helloTimeoutMs = options.helloTimeoutMs ?? 10_000;
    let pastDeadline = false;
    const timer = setTimeout(() => {
      pastDeadline = true;
      conn.destroy();
    }, helloTimeoutMs);
    let admitted: Admitted | undefined;
    try {
      admitted = await authenticate(conn);
    } catch (err) {
      // The connection went away during the handshake: closed by its deadline (a refusal, counted and sampled like
      // the others), or reset by the peer (its own business).
      if (pastDeadline) {
        options.onRefused?.("deadline");
        refusedLog.warn({ reason: "deadline", remote: address, helloTimeoutMs });
      } else log.debug("stream handshake ended", { err });
      conn.destroy();
      return;
    } finally {
      clearTimeout(timer);
      donePending();
    }
    if (!admitted) return;
    conn.setReceiveLimits(STREAM_LIMITS);
    const hello = admitted.hello;
    if (active.has(hello.migrationId) || outcomes.has(hello.migrationId)) {
      await refuse(conn, "busy", "this migration id is already in use");
      return;
    }
    let group = forming.get(hello.migrationId);
    if (!group) {
      group = { admitted, conns: new Array(hello.streamCount).fill(undefined), count: 0 };
      forming.set(hello.migrationId, group);
    }
    if (hello.streamCount !== group.admitted.hello.streamCount || group.conns[hello.streamIndex] !== undefined) {
      await refuse(conn, "bad-hello", "inconsistent stream set");
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
      startSession(group.admitted, group.conns as FramedConnection[]);
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
      refusedLog.close();
      server.close();
      for (const { session } of active.values()) session.interrupt(new MigrationAbortedError("the destination is shutting down"));
      await Promise.allSettled([...active.values()].map(({ session }) => session.outcome.promise));
      for (const s of sockets) s.destroy();
      for (const w of waiters.splice(0)) w.reject(new MigrationError("MIGRATION_ABORTED", "the listener closed"));
      if (ownsPool) await pool.close();
      log.info("listener closed", { port });
    },
  };
}
