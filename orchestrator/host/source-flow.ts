import { randomBytes } from "node:crypto";
import { getAddress, keccak256 } from "ethers";
import { buildMigrationRequest, runProtectedSession, sessionVersionRange, verifyAck, type ChannelConnection } from "../channel/index.js";
import { requireContractCode } from "../chain/index.js";
import { describeError, isTvmxError } from "../errors/index.js";
import { expectSuccess } from "../tdx/index.js";
import { deferred } from "../util/index.js";
import type { HostContext, MigrationOutcomeReport } from "./context.js";
import { withdrawAll } from "./settlement.js";
import { finalizeWhenDue, openAuction } from "./source-auction.js";
import { ticketBlob } from "./peer-messages.js";

/**
 * The source's pipeline for `tvmx migrate <td>`, one named step after the other:
 *
 *   initiate (TDH.MIG.INITIATE: the signed request descriptor)
 *   → broadcast (to the root VMM of every registered host)
 *   → collect-acks (each quote verified against the policy and the TD's TCB capability)
 *   → open-auction (for the hosts that passed) → send-tickets
 *   → protected-sessions (one with each bidder, on its bid notice)
 *   → finalize (after the reveal deadline)
 *   … the Allocated event then starts the live migration (source-migration.ts), whose outcome this awaits: the
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
  ctx.downtimeTargets.set(opened.auctionId, req.downtimeTargetMs ?? ctx.config.migration.downtimeTargetMs);
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

/** Where log scans start (the deployment block, when the deployment file records it) and how deep a log must be. */
export function scanFrom(ctx: HostContext): { fromBlock: number; confirmations: number } {
  return { fromBlock: ctx.market.addresses.deploymentBlock ?? 0, confirmations: ctx.market.chain.confirmations };
}

