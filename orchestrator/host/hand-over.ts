import { getAddress } from "ethers";
import { TvmxError } from "../errors/index.js";
import type { HandOverCheck, HandOverVerifier } from "../migration/index.js";
import type { HostContext } from "./context.js";
import { chainStateDigest } from "./peer-messages.js";
import { requireAccepted } from "./bond-settlement.js";

/**
 * The hand-over: the source's EIP-712 MigrationReceipt(allocationId, tvmId, stateDigest), signed at the end of its
 * blackout (the TD paused, its final digest known) and sent with the engine's COMMIT, before the destination commits
 * the import. The destination commits only after it checked and journaled it (see `handOverVerifier`), so a
 * destination that runs the TD always holds what it needs to confirm on-chain alone (`confirmWithHandOver`), whatever
 * became of the source and the channel.
 *
 * It reuses the registry's MigrationReceipt type: its fields are exactly the statement (allocation, TVM, the digest the
 * source paused at), `confirmMigration` already checks it against the allocation's source (ECDSA or ERC-1271), and a
 * second type would only add a second typehash for the same meaning.
 */

/** The source's side: sign the hand-over for the digest it paused at (the engine calls it after READY). */
export function signHandOver(ctx: Pick<HostContext, "market" | "wallet" | "journal">, allocationId: bigint, tvmId: string): (sourceDigest: string) => Promise<string> {
  return async (sourceDigest) => {
    const stateDigest = chainStateDigest(sourceDigest);
    const signature = await ctx.market.allocations.signReceipt(ctx.wallet, allocationId, tvmId, stateDigest);
    // Journaled before it leaves: a restarted source knows it handed the TD over.
    await ctx.journal.record({ type: "migration.handover", allocationId, stateDigest, signature });
    return signature;
  };
}

/**
 * The destination's side, for the import of `allocationId` from `source` (as the Allocated event on-chain names them):
 * the engine asks it before TDH.IMPORT.COMMIT. It refuses (HOST_HANDOVER_INVALID, the import is then aborted and the TD
 * stays on the source) a missing hand-over, one not signed by the allocation's source, or one for another state than
 * the one imported here, and refuses (HOST_ALLOCATION_NOT_ACCEPTED) while this host's acceptance of the allocation is
 * not on-chain; it accepts after journaling the hand-over, so that a restarted destination confirms from its
 * journal.
 */
export function handOverVerifier(ctx: Pick<HostContext, "market" | "journal" | "acceptances">, allocationId: bigint, tvmId: string, source: string): HandOverVerifier {
  return async (check: HandOverCheck) => {
    const refuse = (reason: string, details: Record<string, unknown> = {}, cause?: unknown) =>
      new TvmxError("HOST_HANDOVER_INVALID", `hand-over for allocation ${allocationId} refused: ${reason}`, {
        details: { allocationId, source, migrationId: check.migrationId, ...details },
        ...(cause !== undefined ? { cause } : {}),
      });
    if (!check.handOver) throw refuse("the source sent none");
    if (check.sourceDigest !== check.digest) throw refuse("the source paused at another state than the one imported here", { sourceDigest: check.sourceDigest, digest: check.digest });
    const stateDigest = chainStateDigest(check.digest);
    let signer: string | undefined;
    let malformed: unknown;
    try {
      signer = ctx.market.allocations.receiptSigner(allocationId, tvmId, stateDigest, check.handOver);
    } catch (err) {
      malformed = err;
    }
    // Recovered over the digest imported here: a signature of any other statement recovers to another address. A
    // contract-wallet source is asked (ERC-1271), as confirmMigration will ask it, only when that is not its key's.
    if (signer === undefined || getAddress(signer) !== getAddress(source)) {
      const accepted = await ctx.market.allocations.contractAcceptsReceipt(source, allocationId, tvmId, stateDigest, check.handOver);
      if (!accepted) {
        if (signer === undefined) throw refuse("not a signature", {}, malformed);
        throw refuse(`signed by ${signer}, not by the allocation's source`, { signer });
      }
    }
    // The winner's acceptance is mined before it commits: an unaccepted allocation may be aborted by the source at
    // once, which would leave the TD running here while the chain says it never moved.
    await requireAccepted(ctx, allocationId);
    await ctx.journal.record({ type: "migration.handover", allocationId, stateDigest, signature: check.handOver });
  };
}

/**
 * Confirms `allocationId` on-chain with the journaled hand-over, retrying (with backoff) until the chain says it is
 * settled: a destination that committed is paid even when the source is gone, and a source's lone abort only opens a
 * dispute window this confirmation wins. Journals the outcome the chain reports.
 */
export async function confirmWithHandOver(ctx: HostContext, allocationId: bigint, log = ctx.logger): Promise<"Committed" | "Aborted" | undefined> {
  const record = ctx.journal.state.migrations.get(allocationId);
  const handOver = record?.handOver;
  if (!record || !handOver) throw new TvmxError("HOST_HANDOVER_INVALID", `no journaled hand-over for allocation ${allocationId}`, { details: { allocationId } });
  let delayMs = Math.max(100, ctx.market.chain.pollIntervalMs);
  for (let attempt = 1; !ctx.signal.aborted; attempt++) {
    try {
      const a = await ctx.market.allocations.allocation(allocationId);
      if (a.state === "Committed" || a.state === "Aborted") {
        if (record.status !== a.state) {
          await ctx.journal.record(
            a.state === "Committed"
              ? { type: "migration.finished", allocationId, outcome: "Committed", stateDigest: a.stateDigest }
              : { type: "migration.finished", allocationId, outcome: "Aborted", reason: a.abortReason },
          );
          ctx.metrics.migrationsTotal.inc({ role: "destination", outcome: a.state });
        }
        if (a.state === "Aborted") log.error("the allocation was aborted on-chain although this host committed the import", { allocationId, abortReason: a.abortReason });
        return a.state;
      }
      if (a.abortSettleAt !== 0) log.warn("the source asked to abort: confirming with its hand-over within the dispute window", { allocationId, settleAt: a.abortSettleAt });
      const tx = await ctx.market.allocations.confirm(allocationId, handOver.stateDigest, handOver.signature);
      log.info("migration confirmed on-chain", { step: "confirm", allocationId, attempt, txHash: tx.hash, gasUsed: tx.gasUsed });
    } catch (err) {
      log.warn("confirmation failed; retrying", { step: "confirm", allocationId, attempt, err });
      await new Promise((r) => setTimeout(r, delayMs));
      delayMs = Math.min(delayMs * 2, 5_000);
    }
  }
  return undefined;
}
