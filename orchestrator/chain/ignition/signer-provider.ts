/**
 * An EIP-1193 provider for Hardhat Ignition made of an ethers signer: reads go to the signer's provider, the
 * accounts are the signer alone, and `eth_sendTransaction` is the signer's own `sendTransaction`. So Ignition
 * deploys from whatever signer the caller holds: an account the node has unlocked (a development node, Hardhat's
 * in-process network) or a key held here.
 */
import type { EIP1193Provider, RequestArguments } from "@nomicfoundation/ignition-core";
import type { Signer, TransactionRequest } from "ethers";
import { TvmxError } from "../../errors/index.js";

interface SendsRpc {
  send(method: string, params: unknown[]): Promise<unknown>;
}

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

export function signerProvider(signer: Signer): EIP1193Provider {
  const rpc = signer.provider as (Signer["provider"] & Partial<SendsRpc>) | null;
  if (!rpc || typeof rpc.send !== "function") {
    throw new TvmxError("DEPLOYMENT_INVALID", "the deployer's provider does not speak JSON-RPC (it has no send method)", { details: {} });
  }
  const send = rpc.send.bind(rpc) as SendsRpc["send"];
  return {
    async request(args: RequestArguments): Promise<unknown> {
      const params = Array.isArray(args.params) ? (args.params as unknown[]) : args.params === undefined ? [] : [args.params];
      if (args.method === "eth_accounts" || args.method === "eth_requestAccounts") return [await signer.getAddress()];
      if (args.method === "eth_sendTransaction") return (await signer.sendTransaction(await request(signer, params[0] as TransactionParams))).hash;
      return send(args.method, params);
    },
  };
}

async function request(signer: Signer, tx: TransactionParams): Promise<TransactionRequest> {
  const from = await signer.getAddress();
  if (tx.from !== undefined && tx.from.toLowerCase() !== from.toLowerCase()) {
    throw new TvmxError("DEPLOYMENT_FAILED", `a transaction from ${tx.from} was asked of the deployer ${from}`, { details: { from: tx.from } });
  }
  const big = (hex: string | undefined): bigint | undefined => (hex === undefined ? undefined : BigInt(hex));
  const out: TransactionRequest = { data: tx.data ?? "0x", value: big(tx.value) ?? 0n };
  if (tx.to !== undefined) out.to = tx.to;
  if (tx.nonce !== undefined) out.nonce = Number(BigInt(tx.nonce));
  if (tx.gas !== undefined) out.gasLimit = BigInt(tx.gas);
  if (tx.maxFeePerGas !== undefined) {
    out.maxFeePerGas = BigInt(tx.maxFeePerGas);
    out.maxPriorityFeePerGas = big(tx.maxPriorityFeePerGas) ?? 0n;
  } else if (tx.gasPrice !== undefined) {
    out.gasPrice = BigInt(tx.gasPrice);
  }
  return out;
}
