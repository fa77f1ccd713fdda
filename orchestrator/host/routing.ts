import { getAddress } from "ethers";
import { watchEvents, type CursorStore, type SuiteAddresses, type Unwatch } from "../chain/index.js";
import type { ChannelConnection } from "../channel/index.js";
import { describeError } from "../errors/index.js";
import { listenIncoming, type IncomingListener } from "../migration/index.js";
import { deferred, pollUntil } from "../util/index.js";
import type { HostContext } from "./context.js";
import { awaitsStream, onAdmissionTicket, onAllocatedAsDestination, onMigrationRequest, streamAdmission } from "./destination-flow.js";
import { engineMigrationId } from "./peer-messages.js";
import type { InboundMessage } from "./peers.js";
import { onAllocatedAsSource } from "./source-migration.js";
import type { TaskSet } from "./teardown.js";

/** Where each input of a running host goes: channel messages, incoming page streams, and the Allocated event. */

/** A peer's message on the secure channel, to the destination flow that answers it. */
export function routeChannelMessage(context: HostContext): (conn: ChannelConnection, m: InboundMessage) => Promise<void> {
  return async (conn, m) => {
    switch (m.type) {
      case "MIGRATION_REQUEST":
        return onMigrationRequest(context, conn, m);
      case "ADMISSION_TICKET":
        return onAdmissionTicket(context, conn, m);
    }
  };
}

/**
 * The listener of incoming migrations: keys come from the protected sessions, completed imports go to the pipelines
 * awaiting them in `context.imports` (through an accept loop run as a task until `context.signal` aborts).
 */
export async function listenForImports(context: HostContext, tasks: TaskSet): Promise<IncomingListener> {
  const log = context.logger;
  const listener = await listenIncoming({
    platform: context.hp.platform,
    host: context.config.channel.listen.host,
    port: 0,
    logger: log.child({ component: "migration" }),
    // The engine names the stream with 16 bytes; the logs of the host's migration carry the host's 32-byte id.
    logContext: (streamId) => {
      const migrationId = [...context.acknowledged.keys()].find((id) => engineMigrationId(id) === streamId);
      return migrationId ? { migrationId, role: "destination" } : undefined;
    },
    // Admitted: a migration this host won (its allocation is awaited in `imports`) whose session key is installed;
    // the TD size is the one its capacity accounting reserved. The stream may arrive a moment before this side has
    // installed the key its fresh session just agreed: wait for it, within the stream's handshake deadline.
    // A stranger's id (no request this host acknowledged) is refused at once, without waiting.
    key: (req) => (awaitsStream(context, req.migrationId) ? pollUntil(() => streamAdmission(context, req.migrationId), { intervalMs: 20, timeoutMs: 5_000 }) : undefined),
    onRefused: (reason) => context.metrics.streamRefusedTotal.inc({ reason }),
    onStateChange: (migrationId, state) => {
      if (state.phase === "aborted") context.imports.get(migrationId)?.reject(new Error(`import aborted: ${state.status} ${state.reason}`));
    },
  });
  tasks.spawn("import accept loop", async () => {
    while (!context.signal.aborted) {
      try {
        const done = await listener.accept();
        const waiting = context.imports.get(done.migrationId) ?? deferred();
        context.imports.set(done.migrationId, waiting);
        waiting.resolve(done);
      } catch (err) {
        if (context.signal.aborted) return;
        log.debug("incoming migration ended without commit", { err: describeError(err) });
      }
    }
  });
  return listener;
}

/**
 * The Allocated event starts live migrations on both sides, with no command from anyone: this host's flows run as
 * tasks when it is the destination or the source. The watcher's cursor is journaled, so a restart resumes from the
 * last block it acted on.
 */
export async function watchAllocations(context: HostContext, addresses: SuiteAddresses, tasks: TaskSet): Promise<Unwatch> {
  const { journal, market, address } = context;
  const chain = market.chain;
  const log = context.logger;
  const cursorName = "allocations";
  const startBlock = journal.state.cursors.get(cursorName) ?? (await chain.provider.getBlockNumber());
  const cursor: CursorStore = {
    load: () => journal.state.cursors.get(cursorName) ?? startBlock,
    save: (block) => journal.record({ type: "cursor", name: cursorName, block }),
  };
  return watchEvents({
    provider: chain.provider,
    name: cursorName,
    address: addresses.allocationRegistry,
    iface: market.allocations.contract.interface,
    events: ["Allocated"],
    fromBlock: startBlock + 1,
    cursor,
    pollIntervalMs: chain.pollIntervalMs,
    confirmations: chain.confirmations,
    retry: { retries: Number.POSITIVE_INFINITY, baseDelayMs: chain.pollIntervalMs, maxDelayMs: 5_000 },
    logger: log.child({ component: "watcher" }),
    onEvent: (event) => {
      const destination = getAddress(event.args.destination as string);
      const source = getAddress(event.args.source as string);
      if (destination === address) tasks.spawn("incoming migration", () => onAllocatedAsDestination(context, event));
      if (source === address) tasks.spawn("outgoing migration", () => onAllocatedAsSource(context, event));
    },
    onRemoved: (event) => {
      const party = [getAddress(event.args.destination as string), getAddress(event.args.source as string)].includes(address);
      log.warn("Allocated event removed by a reorg before it was acted on; no migration started, its blocks are scanned again", {
        allocationId: event.args.allocationId as bigint,
        auctionId: event.args.auctionId as bigint,
        block: event.log.blockNumber,
        blockHash: event.log.blockHash,
        tx: event.log.transactionHash,
        party,
      });
    },
  });
}
