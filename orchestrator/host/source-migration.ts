import { getAddress } from "ethers";
import { runProtectedSession, sessionVersionRange } from "../channel/index.js";
import type { DecodedEvent } from "../chain/index.js";
import { describeError, TvmxError } from "../errors/index.js";
import { migrateOut, type CompletedMigration } from "../migration/index.js";
import { deferred, pollUntil } from "../util/index.js";
import { allocationOnChain } from "./allocation-check.js";
import type { HostContext, MigrationOutcomeReport, SessionKey } from "./context.js";
import { parseEndpoint } from "./endpoint.js";
import { signHandOver } from "./hand-over.js";
import { chainStateDigest, engineMigrationId } from "./peer-messages.js";
import { abortOnChain, withdrawAll } from "./settlement.js";
import { followUp } from "./source-follow-up.js";

/**
 * The source's side of a migration once the auction allocated it (the Allocated event): a fresh protected session
 * with the winner, the live migration with the hand-over signed at the end of the blackout, then the destination's
 * confirmation awaited on-chain and the withdrawals; a failure before the commit aborts on-chain and hands the TD to
 * the follow-up policy (source-follow-up.ts). source-flow.ts runs the auction before it.
 */

/** A protected session with `peer` for `migrationId`, this host initiating (the source always dials). */
export async function freshSession(ctx: HostContext, peer: string, migrationId: string, log: HostContext["logger"]): Promise<SessionKey> {
  const conn = await ctx.peers.connect(peer);
  const session = await runProtectedSession(conn, {
    migrationId,
    role: "initiator",
    migrationVersions: sessionVersionRange(ctx.hp.platform.info, "initiator"),
    timeoutMs: ctx.config.migration.peerTimeoutMs,
    install: (key, migrationVersion) => {
      ctx.sessions.set(`${migrationId}/${peer}`, { key: Buffer.from(key), migrationVersion, peer, keyId: "" });
    },
  });
  log.info("protected session established", { step: "protected-session", keyId: session.keyId, fresh: true });
  return ctx.sessions.get(`${migrationId}/${peer}`)!;
}

/** The Allocated event names this host as the source: stream the TD to the winner, countersign, settle. */
export async function onAllocatedAsSource(ctx: HostContext, event: DecodedEvent): Promise<void> {
  const allocationId = event.args.allocationId as bigint;
  const auctionId = event.args.auctionId as bigint;
  const destination = getAddress(event.args.destination as string);
  const tvmId = event.args.tvmId as string;
  if (ctx.journal.state.migrations.has(allocationId)) return;
  const auction = ctx.journal.state.auctions.get(auctionId);
  if (!auction) {
    ctx.logger.warn("Allocated event for an auction this host did not journal", { auctionId, allocationId });
    return;
  }
  // The contract's word, not the log's: a reorg may have taken the allocation away since the log was read.
  if (!(await allocationOnChain(ctx, event, ctx.logger.child({ migrationId: auction.requestId, role: "source", allocationId, auctionId, peer: destination })))) return;
  const migrationId = auction.requestId;
  const log = ctx.logger.child({ migrationId, role: "source", allocationId, auctionId, peer: destination });
  const waiter = ctx.outcomes.get(auctionId) ?? deferred<MigrationOutcomeReport>();
  const report: MigrationOutcomeReport = {
    status: "Aborted",
    migrationId,
    allocationId,
    auctionId,
    tvmId,
    source: ctx.address,
    destination,
    priceWei: event.args.price as bigint,
    allocationTx: event.log.transactionHash,
  };
  await ctx.journal.record({ type: "migration.started", allocationId, migrationId, auctionId, tvmId, role: "source", peer: destination, tdId: auction.tdId });
  ctx.metrics.migrationsInFlight.inc({ role: "source" });
  log.info("allocated: starting the live migration", { step: "allocated", priceWei: report.priceWei, txHash: event.log.transactionHash });
  let migrated = false;
  try {
    const running = ctx.tds.get(auction.tdId);
    // step: protected-session — re-keyed for the migration itself: the key of the auction's session may be gone
    // on either side (keys never touch the disk, and a host may have restarted since), and a fresh key per
    // migration is what TDX asks for anyway.
    const session = await freshSession(ctx, destination, migrationId, log);
    const endpoint = parseEndpoint((await ctx.directory.info(destination)).endpoint);
    // step: live-migrate
    let done: CompletedMigration;
    try {
      done = await migrateOut({
        td: running.td,
        module: ctx.hp.platform.module,
        peer: { host: endpoint.host, port: endpoint.migrationPort },
        key: session.key,
        migrationVersion: session.migrationVersion,
        streams: ctx.config.migration.streams,
        downtimeTargetMs: ctx.downtimeTargets.get(auctionId) ?? ctx.config.migration.downtimeTargetMs,
        ...(running.workload ? { workload: running.workload } : {}),
        logger: log,
        signal: ctx.signal,
        migrationId: engineMigrationId(migrationId),
        // The hand-over, signed once the TD is paused and its digest final, travels with COMMIT: the destination
        // commits only with it, and confirms on-chain with it alone.
        handOver: signHandOver(ctx, allocationId, tvmId),
        onProgress: (p) => ctx.onProgress?.({ migrationId, phase: p.phase, round: p.round, bytesSent: p.bytesSent, memoryBytes: p.memoryBytes, elapsedMs: p.elapsedMs }),
      });
    } finally {
      ctx.downtimeTargets.delete(auctionId);
    }
    migrated = true;
    Object.assign(report, {
      rounds: done.rounds,
      bytesSent: done.bytesSent,
      totalMs: done.totalMs,
      downtimeMs: done.downtimeMs,
      sourceDigest: done.sourceDigest,
      destinationDigest: done.destinationDigest,
      ...(done.digestMatch !== undefined ? { digestMatch: done.digestMatch } : {}),
    });
    ctx.metrics.migrationBytesTotal.inc({ direction: "sent" }, done.bytesSent);
    ctx.metrics.downtimeSeconds.observe({ role: "source" }, done.downtimeMs / 1000);
    ctx.metrics.migrationSeconds.observe({ role: "source" }, done.totalMs / 1000);
    await ctx.tds.remove(auction.tdId, `migrated to ${destination} (allocation ${allocationId})`);
    const stateDigest = chainStateDigest(done.sourceDigest);
    // step: await-confirmation — the destination confirms with the hand-over it got before committing.
    const settled = await awaitSettlement(ctx, allocationId);
    report.status = settled;
    await ctx.journal.record({ type: "migration.finished", allocationId, outcome: settled, stateDigest });
    ctx.metrics.migrationsTotal.inc({ role: "source", outcome: settled });
    log.info("migration settled on-chain", { step: "await-confirmation", status: settled, downtimeMs: done.downtimeMs, totalMs: done.totalMs });
    await withdrawAll(ctx, auctionId, log);
  } catch (err) {
    report.reason = describeError(err);
    if (migrated) {
      // The TD runs on the destination now (the commit is irreversible); only the chain's record is behind.
      log.error("migration committed but its confirmation on-chain failed", { err });
      report.status = (await ctx.market.allocations.allocation(allocationId).catch(() => undefined))?.state === "Committed" ? "Committed" : "Aborted";
    } else {
      log.error("migration failed; the TD keeps running here", { err });
      await abortOnChain(ctx, allocationId, err, log);
      report.status = "Aborted";
      followUp(ctx, auction.tdId, auctionId, destination, report, log);
    }
  } finally {
    ctx.metrics.migrationsInFlight.dec({ role: "source" });
    ctx.outcomes.delete(auctionId);
  }
  waiter.resolve(report);
}

/** Polls the allocation until the destination confirmed it (Committed) or someone aborted it. */
async function awaitSettlement(ctx: HostContext, allocationId: bigint): Promise<"Committed" | "Aborted"> {
  const settled = await pollUntil(
    async () => {
      const { state } = await ctx.market.allocations.allocation(allocationId);
      return state === "Committed" || state === "Aborted" ? state : undefined;
    },
    {
      intervalMs: ctx.market.chain.pollIntervalMs,
      timeoutMs: ctx.config.migration.peerTimeoutMs * 2,
      onTimeout: () => new TvmxError("HOST_PEER_TIMEOUT", "the destination did not confirm the migration on-chain in time", { details: { allocationId } }),
    },
  );
  return settled!;
}
