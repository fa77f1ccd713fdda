import { Transaction, type BaseContract, type Interface, type TransactionReceipt, type Wallet } from "ethers";
import { TvmxError } from "../errors/index.js";
import { nullLogger, type Logger } from "../log/index.js";
import type { ChainConnection } from "./connection.js";
import { noContractError } from "./contract-code.js";
import { capBites, capFees } from "./fees.js";
import { decodeRevert, isCallException, isNonceConflict } from "./rpc-errors.js";
import { sleep } from "../util/index.js";
import { abortError, withRpcRetry, type RetryDeadline } from "./retry.js";

/** Per-transaction settings of `TxSender.send`. */
export interface TxOverrides {
  value?: bigint;
  /** Skips gas estimation. */
  gasLimit?: bigint;
  /**
   * Retry the RPC calls that get the transaction out (getCode, estimateGas, getFeeData, nonce, broadcast) until this
   * deadline rather than `rpcRetries` times: CHAIN_DEADLINE_PASSED once it has passed. Waiting for the receipt of a
   * transaction already broadcast is bounded by `receiptTimeoutMs` as always.
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
 * Sends transactions from one key, one at a time, with explicit nonces.
 *
 * Each transaction is signed once, so its hash is fixed before it leaves: broadcasting is then idempotent and
 * safe to retry through an RPC outage ("already known" means an earlier attempt got through), and the
 * receipt is awaited by hash. A revert is detected before sending (gas estimation) and decoded into the
 * contract's custom error: CHAIN_TX_REVERTED with details { error, args }. Transient RPC failures are retried
 * with backoff; when the node stays unreachable: CHAIN_RPC_UNAVAILABLE.
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
    const run = this.#queue.then(() => this.#send(label, contract, method, args, overrides));
    this.#queue = run.catch(() => undefined);
    return run;
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

  async #send(label: string, contract: BaseContract, method: string, args: readonly unknown[], overrides: TxOverrides): Promise<TxReport> {
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
        const receipt = await this.#waitReceipt(label, hash);
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
        };
        this.reports.push(report);
        this.#logger.info("tx mined", {
          label,
          hash,
          blockNumber: report.blockNumber,
          gasUsed: report.gasUsed,
          feeWei: report.feeWei,
          chainId: report.chainId,
        });
        this.#options.onMined?.(report);
        return report;
      }
    } catch (err) {
      const typed =
        err instanceof TvmxError ? err : new TvmxError("CHAIN_TX_FAILED", `${label} failed: ${err instanceof Error ? err.message : String(err)}`, { details: { label }, cause: err });
      this.#options.onFailed?.(label, typed);
      throw typed;
    }
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

  async #waitReceipt(label: string, hash: string): Promise<TransactionReceipt> {
    const provider = this.#chain.provider;
    const deadline = Date.now() + (this.#options.receiptTimeoutMs ?? 120_000);
    const signal = this.#options.signal;
    let outage = false;
    for (;;) {
      if (signal?.aborted) throw abortError(signal);
      try {
        const receipt = await provider.getTransactionReceipt(hash);
        if (receipt) {
          const head = await provider.getBlockNumber();
          if (head - receipt.blockNumber + 1 >= this.#chain.confirmations) {
            if (outage) this.#logger.info("chain: RPC back, receipt found", { label, hash });
            return receipt;
          }
        }
      } catch (err) {
        // While waiting for a receipt an outage is not fatal: the transaction is out there. Keep polling.
        if (!outage) this.#logger.warn("chain: RPC failed while waiting for a receipt, still waiting", { label, hash, err });
        outage = true;
      }
      if (Date.now() > deadline) {
        throw new TvmxError("CHAIN_TIMEOUT", `${label}: no receipt for ${hash} after ${this.#options.receiptTimeoutMs ?? 120_000} ms`, {
          details: { label, hash, outage },
        });
      }
      await sleep(this.#chain.pollIntervalMs, signal, abortError);
    }
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
