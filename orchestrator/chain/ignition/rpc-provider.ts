/**
 * An EIP-1193 provider over a node's JSON-RPC endpoint for Hardhat Ignition. Without a wallet every request goes
 * to the node (whose unlocked accounts send the transactions: a development node). With a wallet (a keystore
 * key) the provider is that account: `eth_accounts` names it, and `eth_sendTransaction` is signed here and sent
 * as a raw transaction, so the key never leaves this process.
 */
import { JsonRpcProvider, Network, Transaction, type Wallet } from "ethers";
import type { EIP1193Provider, RequestArguments } from "@nomicfoundation/ignition-core";
import { TvmxError } from "../../errors/index.js";

interface TransactionParams {
  from?: string;
  to?: string;
  data?: string;
  value?: string;
  nonce?: string;
  gas?: string;
  gasPrice?: string;
  maxFeePerGas?: string;
  maxPriorityFeePerGas?: string;
}

export class RpcProvider implements EIP1193Provider {
  readonly #rpc: JsonRpcProvider;
  readonly #wallet: Wallet | undefined;
  readonly #chainId: bigint;

  constructor(rpcUrl: string, chainId: bigint, wallet?: Wallet) {
    this.#rpc = new JsonRpcProvider(rpcUrl, Network.from(chainId), { staticNetwork: true, batchMaxCount: 1 });
    this.#chainId = chainId;
    this.#wallet = wallet;
  }

  async request(args: RequestArguments): Promise<unknown> {
    const params = Array.isArray(args.params) ? (args.params as unknown[]) : args.params === undefined ? [] : [args.params];
    if (this.#wallet !== undefined) {
      if (args.method === "eth_accounts" || args.method === "eth_requestAccounts") return [this.#wallet.address];
      if (args.method === "eth_sendTransaction") return this.#sendSigned(params[0] as TransactionParams);
      if (args.method === "eth_sign" || args.method.startsWith("personal_") || args.method.startsWith("eth_signTypedData")) {
        throw new TvmxError("DEPLOYMENT_FAILED", `${args.method} is not offered to deployments`, { details: { method: args.method } });
      }
    }
    return this.#rpc.send(args.method, params);
  }

  destroy(): void {
    this.#rpc.destroy();
  }

  async #sendSigned(tx: TransactionParams): Promise<string> {
    const wallet = this.#wallet!;
    if (tx.from !== undefined && tx.from.toLowerCase() !== wallet.address.toLowerCase()) {
      throw new TvmxError("DEPLOYMENT_FAILED", `a transaction from ${tx.from} was asked of the deployer ${wallet.address}`, { details: { from: tx.from } });
    }
    const big = (hex: string | undefined): bigint | undefined => (hex === undefined ? undefined : BigInt(hex));
    const nonce = tx.nonce !== undefined ? Number(BigInt(tx.nonce)) : Number(BigInt((await this.#rpc.send("eth_getTransactionCount", [wallet.address, "pending"])) as string));
    const gasLimit = big(tx.gas) ?? BigInt((await this.#rpc.send("eth_estimateGas", [{ ...tx, from: wallet.address }])) as string);
    const fees = tx.maxFeePerGas !== undefined
      ? { type: 2, maxFeePerGas: big(tx.maxFeePerGas), maxPriorityFeePerGas: big(tx.maxPriorityFeePerGas) ?? 0n }
      : { type: 0, gasPrice: big(tx.gasPrice) ?? BigInt((await this.#rpc.send("eth_gasPrice", [])) as string) };
    const unsigned = Transaction.from({
      chainId: this.#chainId,
      nonce,
      gasLimit,
      ...fees,
      ...(tx.to !== undefined ? { to: tx.to } : {}),
      data: tx.data ?? "0x",
      value: big(tx.value) ?? 0n,
    });
    const raw = await wallet.signTransaction(unsigned);
    return (await this.#rpc.send("eth_sendRawTransaction", [raw])) as string;
  }
}
