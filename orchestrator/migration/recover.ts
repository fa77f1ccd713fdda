/**
 * Settling a migration whose outcome the source does not know: its connections were cut after the start token and
 * the destination could not be reached then (`MigrationOutcomeUnknownError`). The TD sits in POST_EXPORT, paused.
 * Only the destination knows whether it committed: ask it (HELLO with `recover: true`), then either tear the source
 * down (it committed) or resume with its abort token. Without an answer nothing changes: resuming blindly could run
 * the TD in two places.
 */
import type { Logger } from "../log/index.js";
import { nullLogger } from "../log/index.js";
import { delay, withTimeout } from "../util/index.js";
import { isSuccess, statusName } from "../tdx/index.js";
import type { MigStreamContext, TdxModule, TrustDomain } from "../tdx/index.js";
import { openSocket, sendHello } from "./connect.js";
import type { PeerAddress } from "./connect.js";
import { InvalidArgumentError, MigrationOutcomeUnknownError, MigrationRejectedError } from "./errors.js";
import { FRAME_TYPE, frameTypeName } from "./frame.js";
import { FramedConnection, frameJson } from "./framed-connection.js";
import { decodeAbortToken, decodeCommitted, ENGINE_PROTOCOL } from "./control-messages.js";
import type { CommittedMessage, UnsignedStreamHello } from "./control-messages.js";

export type DestinationDecision =
  | { kind: "committed"; committed: CommittedMessage }
  | { kind: "aborted"; token: Buffer; statusName: string }
  | { kind: "unknown"; reason: string };

/**
 * Asks the destination at `peer` what it decided about `hello.migrationId` (one connection, one answer). The recover
 * HELLO is signed with the migration's session key: the destination tells the outcome only to the source.
 */
export async function queryDestinationDecision(peer: PeerAddress, hello: UnsignedStreamHello, key: Uint8Array, timeoutMs = 10_000): Promise<DestinationDecision> {
  const socket = await openSocket(peer, timeoutMs);
  const conn = new FramedConnection(socket, { label: "recovery" });
  try {
    const answer = await withTimeout(sendHello(conn, { ...hello, recover: true }, key), timeoutMs, () => new MigrationOutcomeUnknownError({ reason: "no answer", timeoutMs }));
    if (answer.type === FRAME_TYPE.COMMITTED) return { kind: "committed", committed: decodeCommitted(frameJson(answer)) };
    if (answer.type === FRAME_TYPE.ABORT_TOKEN) {
      const msg = decodeAbortToken(frameJson(answer));
      if (msg.token) return { kind: "aborted", token: Buffer.from(msg.token, "base64"), statusName: msg.statusName };
      return { kind: "unknown", reason: `the destination aborted without an abort token (${msg.statusName})` };
    }
    return { kind: "unknown", reason: `answer ${frameTypeName(answer.type)}` };
  } finally {
    conn.destroy();
  }
}

/** The source's HELLO for one stream of the migration of `td`. */
export function sourceHello(
  td: TrustDomain,
  h: { migrationId: string; streamIndex: number; streamCount: number; recover: boolean; migVersion: number },
): UnsignedStreamHello {
  return { protocol: { ...ENGINE_PROTOCOL }, ...h, memoryBytes: td.memoryBytes, numVcpus: td.numVcpus };
}

/**
 * Resumes the TD on the source: TDH.EXPORT.ABORT (with the destination's abort token once the start token is out),
 * then TDH.EXPORT.RESTORE. Throws MigrationRejectedError (source side) when either fails.
 */
export function exportAbortAndRestore(module: TdxModule, td: TrustDomain, stream: MigStreamContext, token: Buffer | undefined, details: Record<string, unknown> = {}): void {
  const abort = module.exportAbort(td, stream, token ? { abortToken: token } : {});
  if (!isSuccess(abort.status)) throw new MigrationRejectedError("source", "TDH.EXPORT.ABORT", abort.status, statusName(abort.status), { details });
  const restore = module.exportRestore(td);
  if (!isSuccess(restore.status)) throw new MigrationRejectedError("source", "TDH.EXPORT.RESTORE", restore.status, statusName(restore.status), { details });
}

export interface RecoverDecisionOptions {
  peer: PeerAddress;
  /** The session's HELLO for stream 0 (sent with `recover: true`). */
  hello: UnsignedStreamHello;
  key: Uint8Array;
  timeoutMs: number;
  /** Connections to try, 200 ms apart. */
  attempts: number;
  log: Logger;
}

/**
 * After a cut past the start token: asks the destination, on fresh connections, what it decided, until one answer
 * carries a decision or the attempts run out ("unknown": the source must stay paused).
 */
export async function recoverDestinationDecision(
  options: RecoverDecisionOptions,
): Promise<{ kind: "committed"; committed: CommittedMessage } | { kind: "abort-token"; token: Buffer } | { kind: "unknown" }> {
  const { log } = options;
  for (let attempt = 1; attempt <= options.attempts; attempt++) {
    try {
      const decision = await queryDestinationDecision(options.peer, options.hello, options.key, options.timeoutMs);
      if (decision.kind === "committed") return decision;
      if (decision.kind === "aborted") {
        log.info("recovered the destination's abort token", { attempt, status: decision.statusName });
        return { kind: "abort-token", token: decision.token };
      }
      log.warn("recovery answer without a decision", { attempt, reason: decision.reason });
    } catch (err) {
      log.warn("recovery attempt failed", { attempt, err });
    }
    await delay(200);
  }
  return { kind: "unknown" };
}

export interface ResolveOutgoingOptions {
  td: TrustDomain;
  module: TdxModule;
  peer: PeerAddress;
  migrationId: string;
  /** The migration's session key (the recover HELLO must prove it). */
  key: Uint8Array;
  logger?: Logger;
  timeoutMs?: number;
}

/**
 * Settles a migration left in `outcome-unknown`: resolves "committed" (the source TD was torn down) or "resumed"
 * (TDH.EXPORT.ABORT with the destination's abort token, then TDH.EXPORT.RESTORE: the TD runs on the source).
 * Throws MigrationOutcomeUnknownError when the destination still gives no decision.
 */
export async function resolveOutgoing(options: ResolveOutgoingOptions): Promise<"committed" | "resumed"> {
  const { td, module } = options;
  const log = (options.logger ?? nullLogger).child({ streamId: options.migrationId, side: "source" });
  if (td.lifecycle.kind !== "exported") {
    throw new InvalidArgumentError("only a TD paused after its start token has an outcome to resolve", { lifecycle: td.lifecycle.kind });
  }
  const hello = sourceHello(td, { migrationId: options.migrationId, streamIndex: 0, streamCount: 1, recover: true, migVersion: td.migrationVersion });
  const decision = await queryDestinationDecision(options.peer, hello, options.key, options.timeoutMs);
  if (decision.kind === "committed") {
    const r = module.teardown(td);
    if (!isSuccess(r.status)) throw new MigrationRejectedError("source", "teardown", r.status, statusName(r.status));
    log.info("the destination had committed: source torn down");
    return "committed";
  }
  if (decision.kind === "aborted") {
    exportAbortAndRestore(module, td, { tdId: td.id, migsIndex: 0 }, decision.token);
    log.info("the destination had aborted: TD resumed on the source", { status: decision.statusName });
    return "resumed";
  }
  throw new MigrationOutcomeUnknownError({ migrationId: options.migrationId, reason: decision.reason });
}
