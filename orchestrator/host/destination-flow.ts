import { getAddress, keccak256 } from "ethers";
import { buildAck, runProtectedSession, sessionVersionRange, verifyMigrationRequest, type ChannelConnection, type MessageOf } from "../channel/index.js";
import type { DecodedEvent } from "../chain/index.js";
import { describeError, failedComponentOf, innermostCodeOf, isTvmxError, resultCodeOf, TvmxError } from "../errors/index.js";
import { decideBid } from "../pricing/index.js";
import { moduleVersionAtLeast, teeTcbSvnAtLeast, type MigRequestDescriptor } from "../tdx/index.js";
import { allocationOnChain } from "./allocation-check.js";
import { auctionTermsProblem } from "./auction-terms.js";
import { placeSealedBid, revealBid } from "./bidding.js";
import { deferred, pollUntil, withTimeout } from "../util/index.js";
import type { HostContext } from "./context.js";
import type { IncomingAdmission } from "../migration/index.js";
import { owe, type MirrorDeps } from "./mirror-settlement.js";
import { decodeTicket, engineMigrationId } from "./peer-messages.js";
import { confirmWithHandOver, handOverVerifier } from "./hand-over.js";
import { acceptAllocation, refundLosingBond } from "./bond-settlement.js";
import { abortOnChain, withdrawAll } from "./settlement.js";

const MIB = 1024 * 1024;

/**
 * The destination's pipeline, one named step after the other:
 *
 *   on MIGRATION_REQUEST: verify-request → check-compatibility → check-capacity → acknowledge
 *   on ADMISSION_TICKET:  read-auction → price → bid (prepare, commit) → notify → protected-session → reveal
 *                         → refund-bond (after finalize, unless this host won)
 *   on Allocated (to us): reserve → accept (on-chain) → import (the stream; before TDH.IMPORT.COMMIT the
 *                         acceptance must be mined and the source's hand-over, sent with COMMIT, is checked and
 *                         journaled: no commit without both; the TD runs here after)
 *                         → confirm (on-chain, with the hand-over alone, retried) → withdraw → mirror (of the
 *                         outcome, Committed or Aborted)
 *
 * A refusal is sent back as MIGRATION_ABORT with a result code and the reason, so the source can report it.
 */

export async function onMigrationRequest(ctx: HostContext, conn: ChannelConnection, msg: MessageOf<"MIGRATION_REQUEST">): Promise<void> {
  const source = getAddress(conn.peer.address);
  const log = ctx.logger.child({ migrationId: msg.migrationId, role: "destination", peer: source });
  const refuse = async (err: TvmxError) => {
    log.info("request refused", { step: "acknowledge", code: err.code, reason: err.message });
    ctx.metrics.bidsTotal.inc({ outcome: "declined" });
    await conn.send({ type: "MIGRATION_ABORT", migrationId: msg.migrationId, resultCode: resultCodeOf(err.code), reason: err.message.slice(0, 1000) });
  };
  // step: verify-request
  let d: MigRequestDescriptor;
  try {
    d = verifyMigrationRequest(msg, conn.peer);
  } catch (err) {
    return refuse(isTvmxError(err) ? err : new TvmxError("HOST_INCOMPATIBLE", describeError(err)));
  }
  // step: check-compatibility
  const incompatible = compatibilityProblem(ctx, d);
  if (incompatible) return refuse(new TvmxError("HOST_INCOMPATIBLE", incompatible, { details: { migrationId: msg.migrationId } }));
  // step: check-capacity
  const memoryMiB = Math.ceil(d.memoryBytes / MIB);
  const decision = decideBid(ctx.config.pricing, ctx.tds.capacity(), { memoryMiB });
  if (!decision.bid) return refuse(new TvmxError("HOST_NO_CAPACITY", decision.message, { details: { reason: decision.reason } }));
  // step: acknowledge
  // The terms the auction must carry: the signed descriptor's hash and its TCB capability (as the source puts them
  // on-chain, see source-flow).
  const configHash = keccak256(msg.descriptor.bytes);
  const tcb = { minTeeTcbSvn: `0x${Buffer.from(d.tcb.minTeeTcbSvn).toString("hex")}`, minTdxModuleVersion: (d.tcb.minModuleVersion.major << 8) | d.tcb.minModuleVersion.minor };
  ctx.acknowledged.set(msg.migrationId.toLowerCase(), { migrationId: msg.migrationId, source, descriptor: d, tvmId: "", memoryMiB, configHash, tcb });
  const range = sessionVersionRange(ctx.hp.platform.info, "responder");
  await conn.send(buildAck(ctx.hp.attester, { migrationId: msg.migrationId, channelKeyFingerprint: ctx.identity.keyFingerprint, migrationVersions: range, capacity: decision.capacity }));
  log.info("request acknowledged", { step: "acknowledge", memoryMiB, freeSlots: decision.capacity });
}

/** What stands in the way of hosting the TD here (attributes, XFAM, CPUID, versions, TCB), or undefined. */
export function compatibilityProblem(ctx: Pick<HostContext, "hp">, d: MigRequestDescriptor): string | undefined {
  const info = ctx.hp.platform.info;
  if ((d.attributes & ~info.supportedAttributes) !== 0n) return `TD attributes 0x${d.attributes.toString(16)} not supported here`;
  if ((d.xfam & ~info.supportedXfam) !== 0n) return `TD XFAM 0x${d.xfam.toString(16)} not supported here`;
  if ((d.cpuidFeatures & ~info.cpuidFeatures) !== 0n) return "TD CPUID features not offered here";
  const v = info.migrationVersions;
  if (Math.max(v.importMin, d.migrationVersions.min) > Math.min(v.importMax, d.migrationVersions.max)) {
    return `migration versions [${d.migrationVersions.min}, ${d.migrationVersions.max}] vs import [${v.importMin}, ${v.importMax}]`;
  }
  if (!teeTcbSvnAtLeast(info.teeTcbSvn, d.tcb.minTeeTcbSvn)) {
    return `platform TEE_TCB_SVN ${info.teeTcbSvn.toString("hex")} below the TD's capability ${Buffer.from(d.tcb.minTeeTcbSvn).toString("hex")}`;
  }
  if (!moduleVersionAtLeast(info.moduleVersion, d.tcb.minModuleVersion)) {
    return `TDX module ${info.moduleVersion.major}.${info.moduleVersion.minor} below ${d.tcb.minModuleVersion.major}.${d.tcb.minModuleVersion.minor}`;
  }
  return undefined;
}

export async function onAdmissionTicket(ctx: HostContext, conn: ChannelConnection, msg: MessageOf<"ADMISSION_TICKET">): Promise<void> {
  const ticket = decodeTicket(msg);
  const source = getAddress(conn.peer.address);
  const log = ctx.logger.child({ migrationId: msg.migrationId, role: "destination", peer: source, auctionId: ticket.auctionId });
  const request = ctx.acknowledged.get(msg.migrationId.toLowerCase());
  if (!request || request.source !== source) {
    throw new TvmxError("AUCTION_NOT_FOUND", `admission ticket for migration ${msg.migrationId}, which this host did not acknowledge for ${source}`, {
      details: { migrationId: msg.migrationId, source },
    });
  }
  if (getAddress(ticket.host) !== ctx.address) throw new TvmxError("AUCTION_NOT_FOUND", "admission ticket for another host", { details: { host: ticket.host } });
  // step: read-auction
  const auctionId = ticket.auctionId;
  const info = await ctx.market.auction.info(auctionId);
  if (getAddress(info.source) !== source || info.requestId.toLowerCase() !== msg.migrationId.toLowerCase()) {
    throw new TvmxError("AUCTION_NOT_FOUND", `auction ${auctionId} is not the one ${source} opened for ${msg.migrationId}`, { details: { auctionId, source: info.source, requestId: info.requestId } });
  }
  // step: check-terms — every on-chain term against what was acknowledged and this host's limits, before the bond
  const registered = (await ctx.market.hostRegistry.hostInfo(ctx.address)).platform;
  const termsProblem = auctionTermsProblem(info, { source, requestId: msg.migrationId, configHash: request.configHash, tcb: request.tcb }, ctx.config.bidding, registered, await ctx.clock.nowSec());
  if (termsProblem) {
    ctx.metrics.bidsTotal.inc({ outcome: "refused-terms" });
    log.warn("not bidding: auction terms refused", { step: "check-terms", reason: termsProblem });
    return;
  }
  request.tvmId = info.tvmId;
  // step: price
  const decision = decideBid(ctx.config.pricing, ctx.tds.capacity(), { memoryMiB: request.memoryMiB }, info.reserve);
  if (!decision.bid) {
    ctx.metrics.bidsTotal.inc({ outcome: "declined" });
    log.info("not bidding", { step: "price", reason: decision.reason, message: decision.message });
    return;
  }
  // step: hold — a bid is a promise of room: the slot and memory are held from the commit until the bid is lost (or,
  // won, until the Allocated step turns the hold into the migration's reservation), so that concurrent auctions never
  // win this host more TDs than it can run. Taken right after the price check, with no await in between.
  const hold = bidHold(auctionId);
  ctx.tds.reserve(hold, request.memoryMiB);
  let won = false;
  try {
    won = await bidAndSettle(ctx, conn, msg, { auctionId, source, info, ticket, decision, log });
  } finally {
    if (!won) ctx.tds.release(hold);
  }
}

/** The capacity a bid in auction `auctionId` holds (see the hold step). */
function bidHold(auctionId: bigint): string {
  return `bid/${auctionId}`;
}

interface PlacedBid {
  auctionId: bigint;
  source: string;
  info: Awaited<ReturnType<HostContext["market"]["auction"]["info"]>>;
  ticket: ReturnType<typeof decodeTicket>;
  decision: Extract<ReturnType<typeof decideBid>, { bid: true }>;
  log: HostContext["logger"];
}

/** Steps bid → notify → protected-session → reveal → refund-bond; true when this host won the auction. */
async function bidAndSettle(ctx: HostContext, conn: ChannelConnection, msg: MessageOf<"ADMISSION_TICKET">, p: PlacedBid): Promise<boolean> {
  const { auctionId, source, info, ticket, decision, log } = p;
  // step: bid (prepare, commit)
  const { commitment, report } = await placeSealedBid(biddingOf(ctx), {
    auctionId,
    tvmId: info.tvmId,
    source,
    ticket,
    priceWei: decision.priceWei,
    capacity: decision.capacity,
    bondWei: info.bond,
    commitDeadline: info.commitDeadline,
    revealDeadline: info.revealDeadline,
  });
  // The bid is on-chain now: whatever happens to the source or the channel from here on, the bid is revealed
  // (an unrevealed bid forfeits its bond, and the auction may still be finalized by anyone). The migration
  // itself agrees a fresh session key when the Allocated event arrives, so a session lost here costs nothing.
  try {
    // step: notify
    await conn.send({ type: "BID_NOTICE", migrationId: msg.migrationId, auctionId: auctionId.toString(), bidder: ctx.address, commitment, txHash: report.hash });
    // step: protected-session (the source initiates it on our notice)
    const session = await runProtectedSession(conn, {
      migrationId: msg.migrationId,
      role: "responder",
      migrationVersions: sessionVersionRange(ctx.hp.platform.info, "responder"),
      install: (key, migrationVersion) => {
        ctx.sessions.set(`${msg.migrationId}/${source}`, { key: Buffer.from(key), migrationVersion, peer: source, keyId: "" });
      },
    });
    log.info("protected session established", { step: "protected-session", keyId: session.keyId, migrationVersion: session.migrationVersion });
  } catch (err) {
    log.warn("no protected session with the source after bidding; revealing anyway", { step: "protected-session", err });
  }
  // step: reveal — retried through a chain outage until the reveal window closes (see revealBid)
  let revealed: Awaited<ReturnType<typeof revealBid>>;
  try {
    revealed = await revealBid(biddingOf(ctx), auctionId);
  } catch (err) {
    // Named after what failed (the chain RPC, typically), not after the channel message that started the bid.
    log.error("reveal failed; the bond is forfeited unless the bid was revealed after all (recovery checks at restart)", {
      step: "reveal",
      failedComponent: failedComponentOf(err),
      code: innermostCodeOf(err),
      err,
    });
    ctx.metrics.bidsTotal.inc({ outcome: "reveal-failed" });
    return false;
  }
  log.info("reveal step done", { step: "reveal", result: revealed });
  // step: refund-bond — once the auction is finalized; the winner's bond stays as its performance bond (see
  // bond-settlement.ts) and is withdrawn when its allocation settles.
  if (revealed !== "revealed") return false;
  try {
    return (await refundLosingBond(ctx, auctionId, info.revealDeadline, log)) === "won";
  } catch (err) {
    log.error("bond withdrawal failed (it stays claimable)", { step: "refund-bond", err });
    return false;
  }
}

export function biddingOf(ctx: HostContext) {
  return { market: ctx.market, journal: ctx.journal, clock: ctx.clock, logger: ctx.logger.child({ role: "destination" }), metrics: ctx.metrics, signal: ctx.signal };
}

/** The Allocated event names this host as the destination: import, confirm, mirror. */
export async function onAllocatedAsDestination(ctx: HostContext, event: DecodedEvent): Promise<void> {
  const allocationId = event.args.allocationId as bigint;
  const auctionId = event.args.auctionId as bigint;
  const source = getAddress(event.args.source as string);
  const tvmId = event.args.tvmId as string;
  if (ctx.journal.state.migrations.has(allocationId)) return; // seen before a restart: recovery deals with it
  // The contract's word, not the log's: a reorg may have taken the allocation away since the log was read.
  if (!(await allocationOnChain(ctx, event, ctx.logger.child({ role: "destination", allocationId, auctionId, peer: source })))) return;
  const bid = ctx.journal.state.bids.get(auctionId);
  // The auction names its migration request: the same TVM may have been offered before (a runner-up round).
  const migrationId = (await ctx.market.auction.info(auctionId)).requestId.toLowerCase();
  const request = ctx.acknowledged.get(migrationId);
  const log = ctx.logger.child({ migrationId, role: "destination", allocationId, auctionId, peer: source });
  if (bid) await ctx.journal.record({ type: "bid.settled", auctionId, status: "won" });
  ctx.metrics.bidsTotal.inc({ outcome: "won" });
  // step: reserve — refused only when the capacity went elsewhere after all (a TD created meanwhile, a host restarted
  // since it bid, which holds nothing): it then aborts the allocation at once (the source's runner-up or new auction
  // places the TD elsewhere) rather than run more TDs than its capacity.
  const memoryMiB = request?.memoryMiB ?? 0;
  // The bid's hold becomes the migration's reservation, with no await in between (see the hold step).
  ctx.tds.release(bidHold(auctionId));
  if (!ctx.tds.tryReserve(migrationId, memoryMiB)) {
    const full = new TvmxError("HOST_NO_CAPACITY", `allocation ${allocationId} won with no free slot left (${JSON.stringify(ctx.tds.capacity())}): declining it`, {
      details: { allocationId, ...ctx.tds.capacity(), requestedMiB: memoryMiB },
    });
    log.warn("won an allocation with no room left (concurrent auctions); aborting it", { step: "reserve", err: full });
    ctx.metrics.bidsTotal.inc({ outcome: "declined" });
    await abortOnChain(ctx, allocationId, full, log);
    return;
  }
  await ctx.journal.record({ type: "migration.started", allocationId, migrationId, auctionId, tvmId, role: "destination", peer: source, tdId: "" });
  ctx.metrics.migrationsInFlight.inc({ role: "destination" });
  log.info("allocated to this host: awaiting the stream", { step: "reserve", priceWei: event.args.price as bigint });
  // step: accept — on-chain, while the stream starts; the import commits only once it is mined (see bond-settlement.ts)
  ctx.acceptances.set(allocationId, acceptAllocation(ctx, allocationId, log));
  const engineId = engineMigrationId(migrationId);
  const expect = ctx.imports.get(engineId) ?? deferred();
  ctx.imports.set(engineId, expect);
  let committed = false;
  try {
    // step: protected-session — the source re-keys for the migration when it sees the allocation (see
    // source-flow.ts); answer on the connection it dials.
    ctx.sessions.delete(`${migrationId}/${source}`);
    await respondToFreshSession(ctx, source, migrationId, log);
    // step: import
    const done = await withTimeout(
      expect.promise,
      ctx.config.migration.peerTimeoutMs * 4,
      () => new TvmxError("HOST_MIGRATION_TIMEOUT", "the source did not complete the migration in time", { details: { migrationId } }),
    );
    // The import is committed (the engine resolves only after TDH.IMPORT.COMMIT): durable before anything else, so
    // that a restarted host confirms only what it committed (see the journal's `migration.imported`).
    committed = true;
    await ctx.journal.record({ type: "migration.imported", allocationId });
    const running = await ctx.tds.adoptImported(done.td, tvmId, { memoryMiB: Math.ceil(done.td.memoryBytes / MIB), vcpus: done.td.numVcpus }, { allocationId, source });
    log.info("TD imported and running", { step: "import", tdId: running.tdId, bytesReceived: done.bytesReceived, digest: done.digest });
    // step: confirm — with the hand-over the engine's verifier journaled before the commit; the source is not needed.
    const outcome = await confirmWithHandOver(ctx, allocationId, log);
    if (outcome !== "Committed") throw new TvmxError("HOST_PEER_FAILED", `the allocation is ${outcome ?? "unsettled"} on-chain although the TD runs here`, { details: { allocationId, outcome } });
    // step: withdraw
    await withdrawAll(ctx, auctionId, log);
  } catch (err) {
    log.error("incoming migration failed", { err });
    // An import committed here is never aborted by this host: it runs the TD, and the chain's outcome is what the
    // confirmation found.
    if (!committed && !ctx.journal.state.migrations.get(allocationId)?.handOver) {
      await abortOnChain(ctx, allocationId, err, log);
      // The bond comes back after an abort when this host accepted the allocation.
      await withdrawAll(ctx, auctionId, log);
    }
  } finally {
    ctx.acceptances.delete(allocationId);
    ctx.tds.release(migrationId);
    ctx.imports.delete(engineId);
    ctx.metrics.migrationsInFlight.dec({ role: "destination" });
  }
  // step: mirror — after the outcome is settled and journaled, and never able to change it; an abort too, so that
  // this host's chain records every allocation it took part in.
  const settled = ctx.journal.state.migrations.get(allocationId)?.status;
  if (ctx.mirror && (settled === "Committed" || settled === "Aborted")) {
    await owe(mirrorDeps(ctx), {
      outcome: settled,
      allocationId,
      migrationId,
      sourceChainId: ctx.market.chain.chainId,
      sourceTxHash: event.log.transactionHash,
      tvmId,
      source,
      destination: ctx.address,
      price: event.args.price as bigint,
      configHash: event.args.configHash as string,
    });
  }
}

/** What the mirror settlement needs of the host (see mirror-settlement.ts); only with a mirror chain. */
export function mirrorDeps(ctx: HostContext): MirrorDeps {
  return { mirror: ctx.mirror!, journal: ctx.journal, logger: ctx.logger.child({ role: "destination" }), signal: ctx.signal };
}

/** Whether this host won an allocation whose stream (by engine migration id) it is waiting for. */
export function awaitsStream(ctx: HostContext, engineId: string): boolean {
  return ctx.imports.has(engineId);
}

/**
 * Whether an incoming stream (by engine migration id) is for a migration this host agreed to: an allocation it won
 * and is importing (journaled, awaited in `imports`) whose fresh session key with that allocation's source is
 * installed. The admission's memory size is the acknowledged request's TD size, never the stream's word; a host
 * restarted since it acknowledged (the request is gone from memory) admits the size the authenticated source states.
 */
export function streamAdmission(ctx: HostContext, engineId: string): IncomingAdmission | undefined {
  if (!ctx.imports.has(engineId)) return undefined;
  for (const record of ctx.journal.state.migrations.values()) {
    if (record.role !== "destination" || record.status !== "running" || !record.migrationId) continue;
    if (engineMigrationId(record.migrationId) !== engineId) continue;
    const session = ctx.sessions.get(`${record.migrationId}/${getAddress(record.peer)}`);
    if (!session) return undefined;
    // No commit without the source's hand-over for this allocation (signed by its source as the chain names it).
    const acceptHandOver = handOverVerifier(ctx, record.allocationId, record.tvmId, getAddress(record.peer));
    const request = ctx.acknowledged.get(record.migrationId);
    if (!request) return { key: session.key, acceptHandOver };
    const reservedMiB = ctx.tds.reservedMiB(record.migrationId);
    if (reservedMiB === undefined || reservedMiB * MIB < request.descriptor.memoryBytes) return undefined;
    return { key: session.key, memoryBytes: request.descriptor.memoryBytes, acceptHandOver };
  }
  return undefined;
}

async function respondToFreshSession(ctx: HostContext, source: string, migrationId: string, log: HostContext["logger"]): Promise<void> {
  const noSession = () => new TvmxError("HOST_PEER_TIMEOUT", `the source ${source} did not open a session`, { details: { source, migrationId } });
  const conn = await pollUntil(() => ctx.peers.connection(source), { intervalMs: 50, timeoutMs: ctx.config.migration.peerTimeoutMs, onTimeout: noSession, signal: ctx.signal });
  if (!conn) throw noSession();
  const session = await runProtectedSession(conn, {
    migrationId,
    role: "responder",
    migrationVersions: sessionVersionRange(ctx.hp.platform.info, "responder"),
    timeoutMs: ctx.config.migration.peerTimeoutMs,
    install: (key, migrationVersion) => {
      ctx.sessions.set(`${migrationId}/${source}`, { key: Buffer.from(key), migrationVersion, peer: source, keyId: "" });
    },
  });
  log.info("protected session established", { step: "protected-session", keyId: session.keyId, fresh: true });
}
