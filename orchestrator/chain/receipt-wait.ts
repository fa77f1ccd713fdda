/**
 * Waiting for a broadcast transaction to be `confirmations` deep in the canonical chain, through RPC outages and
 * reorgs: the block holding the receipt is checked against the canonical block at its height on every poll.
 */
import type { TransactionReceipt } from "ethers";
import { TvmxError } from "../errors/index.js";
import type { Logger } from "../log/index.js";
import { sleep } from "../util/index.js";
import type { ChainConnection } from "./connection.js";
import { abortError, type RetryDeadline } from "./retry.js";

/**
 * A reorg seen while waiting for confirmations: the block holding the transaction (`blockNumber`, `blockHash`) left
 * the canonical chain. `depth` is how many blocks of the old chain, from that block to the head then seen, were
 * replaced at least (1 = the tip). `resent`: the node had forgotten the transaction and the same signed bytes were
 * broadcast again; otherwise it was mined again from the node's pool.
 */
export interface TxReorg {
  blockNumber: number;
  blockHash: string;
  depth: number;
  resent: boolean;
}

/** What the wait needs of its sender. */
export interface ReceiptWaitContext {
  chain: ChainConnection;
  logger: Logger;
  /** Give up without a receipt after this long, or at `until` when that is later. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

/**
 * Waits until the transaction's receipt is `confirmations` deep in the canonical chain, through outages and reorgs
 * (see TxSender's comment). Past `timeoutMs` (or `until`, when later) without a receipt: CHAIN_TIMEOUT; after a
 * reorg, past `until` as well: CHAIN_TX_REORGED. After a reorg, a transaction the node no longer has is handed to
 * `resendIfForgotten`, which broadcasts the same signed bytes again (or throws when it never can be mined).
 */
export async function waitForConfirmedReceipt(
  ctx: ReceiptWaitContext,
  tx: { label: string; hash: string; nonce: number; until: RetryDeadline | undefined },
  resendIfForgotten: (reorg: TxReorg) => Promise<void>,
): Promise<{ receipt: TransactionReceipt; reorgs: TxReorg[] }> {
  const { label, hash, nonce, until } = tx;
  const provider = ctx.chain.provider;
  const timeoutMs = ctx.timeoutMs;
  // A protocol deadline later than the timeout (a long reveal window) is the bound: giving up earlier would lose a
  // transaction that still counts, through an outage the window outlasts.
  let deadline = Math.max(Date.now() + timeoutMs, until?.atMs ?? 0);
  const signal = ctx.signal;
  const reorgs: TxReorg[] = [];
  /** The receipt's block as last seen canonical, with the head then. */
  let seen: { blockNumber: number; blockHash: string; head: number } | undefined;
  let outage = false;
  const reorged = (current: { blockNumber: number; blockHash: string } | undefined) => {
    const lost = seen!;
    const reorg: TxReorg = { blockNumber: lost.blockNumber, blockHash: lost.blockHash, depth: lost.head - lost.blockNumber + 1, resent: false };
    reorgs.push(reorg);
    seen = undefined;
    ctx.logger.warn("chain: reorg removed the block of a transaction awaiting confirmations; waiting for it to be mined again", {
      label,
      hash,
      nonce,
      depth: reorg.depth,
      blockNumber: reorg.blockNumber,
      blockHash: reorg.blockHash,
      ...(current ? { nowInBlock: current.blockNumber, nowInBlockHash: current.blockHash } : {}),
    });
    // Time to get it mined again, within the protocol's deadline when there is one.
    deadline = Math.max(deadline, Date.now() + timeoutMs);
  };
  for (;;) {
    if (signal?.aborted) throw abortError(signal);
    let receipt: TransactionReceipt | null = null;
    let polled = false;
    try {
      receipt = await provider.getTransactionReceipt(hash);
      if (receipt) {
        const head = await provider.getBlockNumber();
        // The receipt a node returns may be from a block it has just abandoned: the block at its height decides.
        const canonical = (await provider.getBlock(receipt.blockNumber))?.hash;
        if (canonical !== receipt.blockHash) {
          if (seen) reorged(undefined);
          receipt = null;
        } else {
          if (seen && seen.blockHash !== receipt.blockHash) reorged(receipt);
          const back = reorgs.length > 0 && seen === undefined;
          seen = { blockNumber: receipt.blockNumber, blockHash: receipt.blockHash, head };
          if (back) ctx.logger.info("chain: transaction mined again after a reorg", { label, hash, blockNumber: receipt.blockNumber, resent: reorgs.at(-1)!.resent });
          ctx.logger.debug("tx included, awaiting confirmations", { label, hash, blockNumber: receipt.blockNumber, head, confirmations: ctx.chain.confirmations });
          if (head - receipt.blockNumber + 1 >= ctx.chain.confirmations) {
            if (outage) ctx.logger.info("chain: RPC back, receipt found", { label, hash });
            return { receipt, reorgs };
          }
        }
      } else if (seen) {
        reorged(undefined);
      }
      polled = true;
      if (outage) ctx.logger.info("chain: RPC answering again while waiting for a receipt", { label, hash });
      outage = false;
    } catch (err) {
      // While waiting for a receipt an outage is not fatal: the transaction is out there. Keep polling.
      if (!outage) ctx.logger.warn("chain: RPC failed while waiting for a receipt, still waiting", { label, hash, err });
      outage = true;
    }
    // After a reorg, a transaction the node no longer knows is broadcast again: the same signed bytes, never another.
    if (polled && !receipt && reorgs.length > 0 && seen === undefined) await resendIfForgotten(reorgs.at(-1)!);
    if (reorgs.length > 0 && seen === undefined && until && Date.now() >= until.atMs) {
      throw new TvmxError("CHAIN_TX_REORGED", `${label}: a reorg removed ${hash} from block ${reorgs.at(-1)!.blockNumber} and it was not mined again before ${until.what} closed`, {
        details: { label, hash, nonce, reorgs, deadline: new Date(until.atMs).toISOString() },
      });
    }
    if (Date.now() > deadline) {
      if (reorgs.length > 0 && seen === undefined) {
        throw new TvmxError("CHAIN_TX_REORGED", `${label}: a reorg removed ${hash} from block ${reorgs.at(-1)!.blockNumber} and it was not mined again within ${timeoutMs} ms`, {
          details: { label, hash, nonce, reorgs },
        });
      }
      throw new TvmxError("CHAIN_TIMEOUT", `${label}: no receipt for ${hash} after ${timeoutMs} ms`, {
        details: { label, hash, outage },
      });
    }
    await sleep(ctx.chain.pollIntervalMs, signal, abortError);
  }
}
