import { Transaction, type BaseContract, type Interface, type TransactionReceipt, type Wallet } from "ethers";
import { TvmxError } from "../errors/index.js";
import { nullLogger, type Logger } from "../log/index.js";
import type { ChainConnection } from "./connection.js";
import { noContractError } from "./contract-code.js";
import { capBites, capFees } from "./fees.js";
import { decodeRevert, isCallException, isNonceConflict } from "./rpc-errors.js";
import { waitForConfirmedReceipt, type TxReorg } from "./receipt-wait.js";
import { withRpcRetry, type RetryDeadline } from "./retry.js";

/** Per-transaction settings of `TxSender.send`. */
export interface TxOverrides {
  value?: bigint;
  /** Skips gas estimation. */
  gasLimit?: bigint;
  /**
   * Retry the RPC calls that get the transaction out (getCode, estimateGas, getFeeData, nonce, broadcast) until this
   * deadline rather than `rpcRetries` times: CHAIN_DEADLINE_PASSED once it has passed. Waiting for the receipt of a
   * transaction already broadcast is bounded by the later of `receiptTimeoutMs` and this deadline, and, after a reorg
   * removed its block, by this deadline too: the transaction is re-sent or awaited until then, and CHAIN_TX_REORGED
   * after.
   */
  until?: RetryDeadline;
}

/** What the operator (and the demo's gas table) sees of every transaction. */
export interface TxReport {
  /** Contract and method, e.g. "MigrationAuction.commitBid". */
  label: string;
  chainId: bigint;
  hash: string;
  from: string;
  to: string;
  nonce: number;
  blockNumber: number;
  gasUsed: bigint;
  effectiveGasPrice: bigint;
  feeWei: bigint;
  valueWei: bigint;
  receipt: TransactionReceipt;
  /** Every reorg that removed the block this transaction was in before it had its confirmations (usually none). */
  reorgs: TxReorg[];
}

export interface TxSenderOptions {
  logger?: Logger;
  /** Called with every mined transaction (metrics, the demo's gas table). */
  onMined?: (report: TxReport) => void;
  /** Called when a transaction reverts or fails. */
  onFailed?: (label: string, err: TvmxError) => void;
  /** Called each time an RPC call is retried after a transient error. */
  onRetry?: (what: string, attempt: number) => void;
  /** Give up waiting for a receipt after this long (default 120 s). */
  receiptTimeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Sends transactions from one key with explicit nonces: prepared and broadcast one at a time, in nonce order; their
 * receipts are awaited side by side (transactions sent together can share a block).
 *
 * Each transaction is signed once, so its hash is fixed before it leaves: broadcasting is then idempotent and
 * safe to retry through an RPC outage ("already known" means an earlier attempt got through), and the
 * receipt is awaited by hash. A revert is detected before sending (gas estimation) and decoded into the
 * contract's custom error: CHAIN_TX_REVERTED with details { error, args }. Transient RPC failures are retried
 * with backoff; when the node stays unreachable: CHAIN_RPC_UNAVAILABLE.
 *
 * Reorgs: while it waits for `confirmations`, the sender checks that the block holding the receipt is still the
 * canonical block at its height. When it is not (the receipt is gone, or it moved to another block), the reorg is
 * logged with its depth and the transaction is awaited again: if the node still has it, it is mined again from the
 * pool; if not, the very same signed transaction is broadcast again (same nonce, same hash: it can only be mined
 * once, so re-sending it is always safe). A different transaction at that nonce is never signed: if another one took
 * the nonce in the new chain, the send fails with CHAIN_TX_REORGED. The report lists the reorgs it went through.
 */
export class TxSender {
  readonly #chain: ChainConnection;
  readonly #wallet: Wallet;
  readonly #logger: Logger;
  readonly #options: TxSenderOptions;
  /** Extra interfaces to decode reverts with (e.g. errors a called contract bubbles up). */
  readonly #errorInterfaces: Interface[];
  #nonce: number | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  readonly reports: TxReport[] = [];

  constructor(chain: ChainConnection, wallet: Wallet, options: TxSenderOptions & { errorInterfaces?: Interface[] } = {}) {
    this.#chain = chain;
    this.#wallet = wallet.connect(chain.provider);
    this.#logger = options.logger ?? nullLogger;
    this.#options = options;
    this.#errorInterfaces = options.errorInterfaces ?? [];
  }

  get address(): string {
    return this.#wallet.address;
  }

  /**
   * Calls `method(...args)` on `contract` as a transaction (overrides such as { value } go last in `args`,
   * as with ethers), waits for the configured confirmations and returns its report.
   */
  send(label: string, contract: BaseContract, method: string, args: readonly unknown[] = [], overrides: TxOverrides = {}): Promise<TxReport> {
    // One at a time up to the broadcast (nonces stay in order); the receipts are awaited side by side, so that
    // transactions sent together (a source's concurrent auctions) share blocks instead of taking one block each.
    const submitted = this.#queue.then(() => this.#send(label, contract, method, args, overrides));
    this.#queue = submitted.catch(() => undefined);
    return submitted.then((s) => s.mined);
  }

  async #rpc<T>(what: string, fn: () => Promise<T>, until?: RetryDeadline): Promise<T> {
    return withRpcRetry(what, fn, {
      policy: this.#chain.retry,
      url: this.#chain.url,
      ...(this.#options.signal ? { signal: this.#options.signal } : {}),
      ...(until ? { until } : {}),
      onRetry: (attempt, err, delayMs) => {
        this.#options.onRetry?.(what, attempt);
        this.#logger.warn("chain: RPC failed, retrying", { what, attempt, delayMs, err });
      },
    });
  }

  /** Estimates, signs and broadcasts; resolves once the node has the transaction, with the wait for its receipt. */
  async #send(label: string, contract: BaseContract, method: string, args: readonly unknown[], overrides: TxOverrides): Promise<{ mined: Promise<TxReport> }> {
    const until = overrides.until;
    const interfaces = [contract.interface, ...this.#errorInterfaces];
    const to = await contract.getAddress();
    const data = contract.interface.encodeFunctionData(method, args);
    const value = overrides.value ?? 0n;
    const from = this.#wallet.address;
    const provider = this.#chain.provider;
    // A call to an address without code "succeeds" as a plain transfer, with no event and no effect: on a node
    // restarted empty that would read as a lost auction, so it is refused here naming the address.
    if ((await this.#rpc(`${label} getCode`, () => provider.getCode(to), until)) === "0x") throw noContractError(this.#chain, label.split(".")[0]!, to);
    try {
      let gasLimit = overrides.gasLimit;
      if (gasLimit === undefined) {
        try {
          const estimate = await this.#rpc(`${label} estimateGas`, () => provider.estimateGas({ from, to, data, value }), until);
          gasLimit = (estimate * 12n) / 10n + 10_000n; // headroom: state can change between estimate and inclusion
        } catch (err) {
          throw this.#revertError(label, err, interfaces);
        }
      }
      const suggested = await this.#rpc(`${label} getFeeData`, () => provider.getFeeData(), until);
      // The config's caps (chain.fees): the base fee is read only when a cap lowers the suggestion.
      const caps = this.#chain.fees;
      const baseFee = capBites(suggested, caps) ? (await this.#rpc(`${label} getBlock`, () => provider.getBlock("latest"), until))?.baseFeePerGas : undefined;
      const fees = capFees(label, suggested, caps, baseFee);
      for (let attempt = 0; ; attempt++) {
        this.#nonce ??= await this.#rpc(`${label} getTransactionCount`, () => provider.getTransactionCount(from, "pending"), until);
        const nonce = this.#nonce;
        const tx = Transaction.from({ ...fees, chainId: this.#chain.chainId, to, data, value, nonce, gasLimit });
        const raw = await this.#wallet.signTransaction(tx);
        const hash = Transaction.from(raw).hash!;
        let sent: "sent" | "nonce-used";
        try {
          sent = await this.#broadcast(label, raw, hash, until);
        } catch (err) {
          // A node that executes on submission (automine) reports a revert here; the nonce may be spent: refetch it.
          if (err instanceof TvmxError || !isCallException(err)) throw err;
          this.#nonce = undefined;
          throw this.#revertError(label, err, interfaces);
        }
        if (sent === "nonce-used") {
          // Our nonce is stale (another sender used the key, or a node restart lost the pool): refetch once.
          this.#nonce = undefined;
          if (attempt >= 2) throw new TvmxError("CHAIN_TX_FAILED", `${label}: nonce ${nonce} keeps conflicting`, { details: { label, nonce } });
          continue;
        }
        this.#nonce = nonce + 1;
        this.#logger.debug("tx sent", { label, hash, nonce });
        return { mined: this.#mined({ label, hash, raw, nonce, from, to, value, until }) };
      }
    } catch (err) {
      throw this.#failed(label, err);
    }
  }

  /** Waits for a broadcast transaction's receipt and confirmations, and reports it. */
  async #mined(tx: { label: string; hash: string; raw: string; nonce: number; from: string; to: string; value: bigint; until: RetryDeadline | undefined }): Promise<TxReport> {
    const { label, hash, raw, nonce, from, to, value, until } = tx;
    try {
      const wait = { chain: this.#chain, logger: this.#logger, timeoutMs: this.#options.receiptTimeoutMs ?? 120_000, signal: this.#options.signal };
      const { receipt, reorgs } = await waitForConfirmedReceipt(wait, { label, hash, nonce, until }, (reorg) => this.#resendIfForgotten(label, hash, raw, nonce, reorg, until));
      if (receipt.status !== 1) {
        throw new TvmxError("CHAIN_TX_REVERTED", `${label} reverted on-chain in block ${receipt.blockNumber}`, {
          details: { label, hash, blockNumber: receipt.blockNumber, gasUsed: receipt.gasUsed },
        });
      }
      const report: TxReport = {
        label,
        chainId: this.#chain.chainId,
        hash,
        from,
        to,
        nonce,
        blockNumber: receipt.blockNumber,
        gasUsed: receipt.gasUsed,
        effectiveGasPrice: receipt.gasPrice,
        feeWei: receipt.gasUsed * receipt.gasPrice,
        valueWei: value,
        receipt,
        reorgs,
      };
      this.reports.push(report);
      this.#logger.info("tx mined", {
        label,
        hash,
        blockNumber: report.blockNumber,
        gasUsed: report.gasUsed,
        feeWei: report.feeWei,
        chainId: report.chainId,
        ...(reorgs.length > 0 ? { reorgs: reorgs.length, resent: reorgs.some((r) => r.resent) } : {}),
      });
      this.#options.onMined?.(report);
      return report;
    } catch (err) {
      throw this.#failed(label, err);
    }
  }

  /** The typed error of a failed send (reported to `onFailed`). */
  #failed(label: string, err: unknown): TvmxError {
    const typed =
      err instanceof TvmxError ? err : new TvmxError("CHAIN_TX_FAILED", `${label} failed: ${err instanceof Error ? err.message : String(err)}`, { details: { label }, cause: err });
    this.#options.onFailed?.(label, typed);
    return typed;
  }

  /** Sends a signed transaction; "sent" once the node has it, "nonce-used" when the nonce was taken by another tx. */
  async #broadcast(label: string, raw: string, hash: string, until: RetryDeadline | undefined): Promise<"sent" | "nonce-used"> {
    const provider = this.#chain.provider;
    let attempted = false;
    try {
      await this.#rpc(`${label} broadcast`, async () => {
        try {
          await provider.broadcastTransaction(raw);
        } catch (err) {
          // A retry after a lost answer: the node may already have our transaction.
          if (attempted && isNonceConflict(err) && (await provider.getTransaction(hash)) !== null) return;
          throw err;
        } finally {
          attempted = true;
        }
      }, until);
      return "sent";
    } catch (err) {
      if (isNonceConflict(err)) {
        const known = await this.#rpc(`${label} getTransaction`, () => provider.getTransaction(hash), until);
        return known !== null ? "sent" : "nonce-used";
      }
      throw err;
    }
  }

  /**
   * After a reorg: when the node has forgotten the transaction (it was in the abandoned blocks only, and not put back
   * in the pool), broadcasts the same signed transaction again. A nonce another transaction took in the new chain
   * means this one can never be mined: CHAIN_TX_REORGED (a different transaction is never signed at its nonce).
   */
  async #resendIfForgotten(label: string, hash: string, raw: string, nonce: number, reorg: TxReorg, until: RetryDeadline | undefined): Promise<void> {
    const provider = this.#chain.provider;
    let known: unknown;
    try {
      known = await provider.getTransaction(hash);
    } catch (err) {
      this.#logger.debug("chain: cannot tell whether the node still has a reorged transaction", { label, hash, err });
      return;
    }
    if (known !== null) return;
    let sent: "sent" | "nonce-used";
    try {
      sent = await this.#broadcast(label, raw, hash, until);
    } catch (err) {
      if (err instanceof TvmxError) throw err;
      if (isCallException(err)) {
        this.#nonce = undefined;
        throw new TvmxError("CHAIN_TX_REORGED", `${label}: a reorg removed ${hash} and, sent again, it reverts in the new chain`, {
          details: { label, hash, nonce, reorg },
          cause: err,
        });
      }
      this.#logger.warn("chain: re-sending a reorged transaction failed; will try again", { label, hash, err });
      return;
    }
    if (sent === "nonce-used") {
      this.#nonce = undefined;
      throw new TvmxError("CHAIN_TX_REORGED", `${label}: a reorg removed ${hash}, and another transaction took its nonce ${nonce} in the new chain`, {
        details: { label, hash, nonce, reorg },
      });
    }
    if (!reorg.resent) this.#logger.warn("chain: the node forgot a reorged transaction; re-sent the same signed transaction", { label, hash, nonce, depth: reorg.depth });
    reorg.resent = true;
  }

  #revertError(label: string, err: unknown, interfaces: readonly Interface[]): TvmxError {
    if (err instanceof TvmxError) return err;
    const revert = decodeRevert(err, interfaces);
    if (revert) {
      return new TvmxError("CHAIN_TX_REVERTED", `${label} would revert: ${revert.summary}`, {
        details: { label, error: revert.name, args: revert.args },
        cause: err,
      });
    }
    return new TvmxError("CHAIN_TX_FAILED", `${label} failed: ${err instanceof Error ? err.message : String(err)}`, { details: { label }, cause: err });
  }
}
