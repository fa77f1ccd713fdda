import { randomBytes } from "node:crypto";
import { getAddress, keccak256 } from "ethers";
import { buildMigrationRequest, runProtectedSession, sessionVersionRange, verifyAck, type ChannelConnection } from "../channel/index.js";
import { requireContractCode, scanLogs, type DecodedEvent } from "../chain/index.js";
import { describeError, isTvmxError, TvmxError } from "../errors/index.js";
import { migrateOut, type CompletedMigration } from "../migration/index.js";
import { expectSuccess } from "../tdx/index.js";
import { deferred, pollUntil } from "../util/index.js";
import { allocationOnChain } from "./allocation-check.js";
import type { HostContext, MigrationOutcomeReport, SessionKey } from "./context.js";
import { abortOnChain, withdrawAll } from "./settlement.js";
import { parseEndpoint } from "./endpoint.js";
import { finalizeWhenDue, openAuction } from "./source-auction.js";
import { chainStateDigest, engineMigrationId, ticketBlob } from "./peer-messages.js";
import { signHandOver } from "./hand-over.js";

/**
 * The source's pipeline for `tvmx migrate <td>`, one named step after the other:
 *
 *   initiate (TDH.MIG.INITIATE: the signed request descriptor)
 *   → broadcast (to the root VMM of every registered host)
 *   → collect-acks (each quote verified against the policy and the TD's TCB capability)
 *   → open-auction (for the hosts that passed) → send-tickets
 *   → protected-sessions (one with each bidder, on its bid notice)
 *   → finalize (after the reveal deadline)
 *   … the Allocated event then starts the live migration (onAllocatedAsSource), whose outcome this awaits: the
 *   stream, the hand-over signed at the end of the blackout and sent with COMMIT, then the destination's
 *   confirmation on-chain.
 */

export interface MigrateRequest {
  tdId: string;
  reservePriceWei?: bigint;
  downtimeTargetMs?: number;
  /** Only these hosts are asked (the runner-up path); default: every active registered host. */
  only?: string[];
}

/** One bid of the auction as the source saw it: its notice, then (after finalize) what the chain says of it. */
export interface BidSummary {
  /** The bidder's address. */
  host: string;
  /** The bidder's endpoint in the host registry: the name other hosts know it by. */
  endpoint?: string;
  commitment: string;
  /** The commit transaction. */
  txHash?: string;
  /** After finalize: Committed (never revealed), Revealed, Refunded (revealed, bond back) or Forfeited. */
  status?: string;
  /** After finalize, once revealed: the bid price. */
  priceWei?: bigint;
}

export interface AuctionSummary {
  migrationId: string;
  tdId: string;
  tvmId: string;
  acknowledged: { host: string; capacity: number }[];
  refused: { host: string; reason: string; code?: string }[];
  bids: BidSummary[];
  auctionId?: bigint;
  auctionTx?: string;
  finalizeTx?: string;
  winner?: string;
  winningBidWei?: bigint;
  priceWei?: bigint;
  allocationId?: bigint;
  outcome?: MigrationOutcomeReport;
  status: "Committed" | "Aborted" | "NoBidders" | "NoBids";
}

/** Runs the whole source pipeline for one TD and resolves when its migration has an outcome. */
export async function migrateTd(ctx: HostContext, req: MigrateRequest): Promise<AuctionSummary> {
  const running = ctx.tds.get(req.tdId);
  const migrationId = `0x${randomBytes(32).toString("hex")}`;
  const log = ctx.logger.child({ migrationId, role: "source", tdId: running.tdId });
  const summary: AuctionSummary = { migrationId, tdId: running.tdId, tvmId: running.tvmId, acknowledged: [], refused: [], bids: [], status: "NoBidders" };
  // The contracts must be there before the TD is touched: on a node restarted empty, host discovery would
  // find nobody and the migration would read as NoBidders (CHAIN_NO_CONTRACT names the address instead).
  const { hostRegistry, migrationAuction } = ctx.market.addresses;
  await requireContractCode(ctx.market.chain, { HostRegistry: hostRegistry, MigrationAuction: migrationAuction });
  // step: initiate
  const init = ctx.hp.platform.module.migInitiate(running.td);
  expectSuccess("TDH.MIG.INITIATE", init.status, { tdId: running.tdId });
  // A successful TDH.MIG.INITIATE returns both (its result type has them optional for the failure case).
  const { encoded, descriptor } = init as Required<typeof init>;
  log.info("migration initiated", { step: "initiate", memoryBytes: descriptor.memoryBytes });
  // step: broadcast
  const hosts = req.only ?? (await ctx.directory.activeHosts(ctx.market.chain.provider, scanFrom(ctx))).map((h) => h.address);
  const targets = hosts.map((h) => getAddress(h)).filter((h) => h !== ctx.address);
  const ackDeadline = Date.now() + ctx.config.auction.ackTimeoutMs;
  const request = buildMigrationRequest(encoded, { migrationId, ackDeadline });
  const conns = new Map<string, ChannelConnection>();
  await Promise.all(
    targets.map(async (host) => {
      try {
        const conn = await ctx.peers.connect(host, { timeoutMs: ctx.config.auction.ackTimeoutMs });
        await conn.send(request);
        conns.set(host, conn);
      } catch (err) {
        summary.refused.push({ host, reason: describeError(err), ...(isTvmxError(err) ? { code: err.code } : {}) });
      }
    }),
  );
  log.info("request broadcast", { step: "broadcast", hosts: targets.length, reached: conns.size });
  // step: collect-acks
  const exportRange = sessionVersionRange(ctx.hp.platform.info, "initiator");
  await Promise.all(
    [...conns].map(async ([host, conn]) => {
      try {
        const reply = await conn.receive(["ACK", "MIGRATION_ABORT"], { migrationId, timeoutMs: Math.max(1, ackDeadline - Date.now()) });
        if (reply.type === "MIGRATION_ABORT") {
          summary.refused.push({ host, reason: reply.reason, code: `result ${reply.resultCode}` });
          return;
        }
        await verifyAck(reply, conn.peer, ctx.trust, { migrationId, tcbRequirement: descriptor.tcb, migrationVersions: exportRange });
        summary.acknowledged.push({ host, capacity: reply.capacity });
      } catch (err) {
        summary.refused.push({ host, reason: describeError(err), ...(isTvmxError(err) ? { code: err.code } : {}) });
      }
    }),
  );
  for (const r of summary.refused) log.info("host refused", { step: "collect-acks", host: r.host, reason: r.reason });
  if (summary.acknowledged.length === 0) {
    log.warn("no host acknowledged: nothing to auction", { step: "collect-acks" });
    return summary;
  }
  // step: open-auction
  const admitted = summary.acknowledged.map((a) => a.host);
  const opened = await openAuction(
    { market: ctx.market, wallet: ctx.wallet, journal: ctx.journal, clock: ctx.clock, logger: log, metrics: ctx.metrics, signal: ctx.signal },
    {
      tdId: running.tdId,
      tvmId: running.tvmId,
      requestId: migrationId,
      configHash: keccak256(encoded.subarray(0, encoded.length - 64)),
      tcb: { minTeeTcbSvn: `0x${Buffer.from(descriptor.tcb.minTeeTcbSvn).toString("hex")}`, minTdxModuleVersion: (descriptor.tcb.minModuleVersion.major << 8) | descriptor.tcb.minModuleVersion.minor },
      reserveWei: req.reservePriceWei ?? ctx.config.auction.defaultReservePriceWei,
      bondWei: ctx.config.auction.bondWei,
      commitWindowSec: ctx.config.auction.commitWindowSec,
      revealWindowSec: ctx.config.auction.revealWindowSec,
      admitted,
    },
  );
  summary.auctionId = opened.auctionId;
  summary.auctionTx = opened.txHash;
  const outcome = deferred<MigrationOutcomeReport>();
  ctx.outcomes.set(opened.auctionId, outcome);
  pendingDowntime.set(opened.auctionId, req.downtimeTargetMs ?? ctx.config.migration.downtimeTargetMs);
  // step: send-tickets, then protected-sessions as the bid notices come
  const commitMs = Math.max(1000, (opened.commitDeadline - (await ctx.clock.nowSec())) * 1000 + 2000);
  await Promise.all(
    opened.tickets.map(async (ticket) => {
      const host = getAddress(ticket.host);
      const conn = conns.get(host)!;
      try {
        await conn.send({ type: "ADMISSION_TICKET", migrationId, auctionId: opened.auctionId.toString(), ticket: ticketBlob(ticket, ctx.address) });
        const notice = await conn.receive("BID_NOTICE", { migrationId, timeoutMs: commitMs });
        summary.bids.push({ host, commitment: notice.commitment, ...(notice.txHash ? { txHash: notice.txHash } : {}) });
        const session = await runProtectedSession(conn, {
          migrationId,
          role: "initiator",
          migrationVersions: exportRange,
          install: (key, migrationVersion) => {
            ctx.sessions.set(`${migrationId}/${host}`, { key: Buffer.from(key), migrationVersion, peer: host, keyId: "" });
          },
        });
        log.info("protected session established", { step: "protected-sessions", host, keyId: session.keyId });
      } catch (err) {
        log.info("no bid from host", { step: "protected-sessions", host, reason: describeError(err) });
      }
    }),
  );
  // step: finalize
  const fin = await finalizeWhenDue({ market: ctx.market, wallet: ctx.wallet, journal: ctx.journal, clock: ctx.clock, logger: log, metrics: ctx.metrics, signal: ctx.signal }, opened.auctionId);
  await describeBids(ctx, opened.auctionId, summary.bids, log);
  if (fin.kind === "failed" || (fin.kind === "already" && fin.state !== "Finalized")) {
    summary.status = "NoBids";
    ctx.outcomes.delete(opened.auctionId);
    await withdrawAll(ctx, opened.auctionId, log);
    return summary;
  }
  if (fin.kind === "finalized") {
    summary.finalizeTx = fin.report.hash;
    summary.winner = fin.winner;
    summary.winningBidWei = fin.winningBid;
    summary.priceWei = fin.price;
    summary.allocationId = fin.allocationId;
  }
  // The Allocated event (not this function) starts the live migration; wait for its outcome.
  summary.outcome = await outcome.promise;
  summary.status = summary.outcome.status;
  return summary;
}

/**
 * Completes each bid of the summary with what the chain says once the auction is over: its status and, revealed,
 * its price, and the bidder's registered endpoint. For the operator only: a failure here is logged, never fatal.
 */
async function describeBids(ctx: HostContext, auctionId: bigint, bids: BidSummary[], log: HostContext["logger"]): Promise<void> {
  await Promise.all(
    bids.map(async (b) => {
      try {
        const [onChain, info] = await Promise.all([ctx.market.auction.bid(auctionId, b.host), ctx.directory.info(b.host)]);
        b.endpoint = info.endpoint;
        b.status = onChain.status;
        if (onChain.status === "Revealed" || onChain.status === "Refunded") b.priceWei = onChain.price;
      } catch (err) {
        log.warn("could not read a bid back from the chain for the summary", { step: "finalize", host: b.host, err });
      }
    }),
  );
}

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

/** Downtime targets asked by `migrate --downtime-ms`, by auction id, until its migration starts. */
const pendingDowntime = new Map<bigint, number>();

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
        downtimeTargetMs: pendingDowntime.get(auctionId) ?? ctx.config.migration.downtimeTargetMs,
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
      pendingDowntime.delete(auctionId);
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

/**
 * After a failed migration the TD runs on the source again; `migration.onFailure` says what next:
 * "runner-up" offers it to the next-cheapest bidder of the same auction (a new auction with that host only),
 * "new-auction" asks every host again except the one that failed, "none" leaves it here.
 */
function followUp(ctx: HostContext, tdId: string, auctionId: bigint, failed: string, report: MigrationOutcomeReport, log: HostContext["logger"]): void {
  const policy = ctx.config.migration.onFailure;
  if (policy === "none" || ctx.signal.aborted) return;
  report.followUp = policy;
  void (async () => {
    let only: string[] | undefined;
    if (policy === "runner-up") {
      const next = await runnerUp(ctx, auctionId, failed);
      if (!next) {
        log.warn("no runner-up to offer the TD to", { step: "follow-up" });
        return;
      }
      only = [next];
    } else {
      only = (await ctx.directory.activeHosts(ctx.market.chain.provider, scanFrom(ctx))).map((h) => getAddress(h.address)).filter((h) => h !== failed);
    }
    log.info("offering the TD again", { step: "follow-up", policy, hosts: only });
    const summary = await migrateTd(ctx, { tdId, only });
    log.info("follow-up migration finished", { step: "follow-up", policy, status: summary.status, winner: summary.winner });
  })().catch((err: unknown) => log.error("follow-up migration failed", { step: "follow-up", err }));
}

/** Where log scans start (the deployment block, when the deployment file records it) and how deep a log must be. */
function scanFrom(ctx: HostContext): { fromBlock: number; confirmations: number } {
  return { fromBlock: ctx.market.addresses.deploymentBlock ?? 0, confirmations: ctx.market.chain.confirmations };
}

/** The lowest revealed bidder of `auctionId` other than `failed` (ties: the order of the reveals). */
export async function runnerUp(ctx: HostContext, auctionId: bigint, failed: string): Promise<string | undefined> {
  const auction = ctx.market.auction.contract;
  const { fromBlock, confirmations } = scanFrom(ctx);
  const provider = ctx.market.chain.provider;
  const { logs } = await scanLogs(
    provider,
    { address: await auction.getAddress(), topics: [auction.interface.getEvent("BidRevealed")!.topicHash, `0x${auctionId.toString(16).padStart(64, "0")}`] },
    { fromBlock, toBlock: (await provider.getBlockNumber()) - (confirmations - 1) },
  );
  const bids = logs
    .map((l) => auction.interface.parseLog(l))
    .filter((p): p is NonNullable<typeof p> => p !== null)
    .map((p) => ({ bidder: getAddress(p.args.bidder as string), price: p.args.price as bigint }))
    .filter((b) => b.bidder !== getAddress(failed))
    .sort((a, b) => (a.price < b.price ? -1 : a.price > b.price ? 1 : 0));
  return bids[0]?.bidder;
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
