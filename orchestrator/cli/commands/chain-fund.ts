/**
 * `tvmx chain fund <address|keystore file>...`: sends each target the same amount of ether, from the node's first
 * unlocked account (a `tvmx chain start` node) or from `--keystore`. A keystore file names its address, so
 * an operator funds host keys by their files, on each chain in turn. `tvmx chain balance` reads the same targets'
 * balances (what the hosts spent on gas and stakes, and received in payments and withdrawals).
 */
import { stat } from "node:fs/promises";
import { formatEther, getAddress, isAddress, JsonRpcProvider, Network, parseEther, type Signer } from "ethers";
import { connectChain } from "../../chain/index.js";
import { keystoreAddress } from "../../keystore/index.js";
import { CliArgumentError } from "../errors.js";
import type { CliIo } from "../io.js";
import { printJson, table } from "./output.js";
import { walletOf, type SignerOptions } from "./signer-options.js";

export interface ChainFundOptions extends SignerOptions {
  rpc: string;
  eth: string;
  json?: boolean;
}

export async function run(targets: string[], options: ChainFundOptions, io: CliIo): Promise<number> {
  const value = amountOf(options.eth);
  const recipients = await Promise.all(targets.map(resolveTarget));
  const wallet = await walletOf(options);
  const chain = await connectChain({ rpcUrl: options.rpc, confirmations: 1, pollIntervalMs: 500, rpcRetries: 2 });
  const provider = new JsonRpcProvider(options.rpc, Network.from(chain.chainId), { staticNetwork: true, cacheTimeout: -1 });
  try {
    const funder: Signer = wallet ? wallet.connect(provider) : await provider.getSigner(0);
    const rows: { target: string; address: string; tx: string; balanceWei: bigint }[] = [];
    for (const { target, address } of recipients) {
      const tx = await funder.sendTransaction({ to: address, value });
      await tx.wait();
      rows.push({ target, address, tx: tx.hash, balanceWei: await provider.getBalance(address) });
    }
    if (options.json) printJson(io, { chainId: chain.chainId.toString(), funder: await funder.getAddress(), valueWei: value, funded: rows });
    else {
      io.out(`sent ${formatEther(value)} ETH each from ${await funder.getAddress()} on chain ${chain.chainId}`);
      io.out(table([["address", "balance (ETH)", "target"], ...rows.map((r) => [r.address, formatEther(r.balanceWei), r.target])]));
    }
    return 0;
  } finally {
    provider.destroy();
    chain.close();
  }
}

export async function balance(targets: string[], options: { rpc: string; json?: boolean }, io: CliIo): Promise<number> {
  const owners = await Promise.all(targets.map(resolveTarget));
  const chain = await connectChain({ rpcUrl: options.rpc, confirmations: 1, pollIntervalMs: 500, rpcRetries: 2 });
  try {
    const rows = await Promise.all(owners.map(async ({ target, address }) => ({ target, address, balanceWei: await chain.provider.getBalance(address) })));
    if (options.json) printJson(io, { chainId: chain.chainId.toString(), balances: rows });
    else {
      io.out(`chain ${chain.chainId}`);
      io.out(table([["address", "balance (ETH)", "target"], ...rows.map((r) => [r.address, formatEther(r.balanceWei), r.target])]));
    }
    return 0;
  } finally {
    chain.close();
  }
}

function amountOf(eth: string): bigint {
  let value: bigint;
  try {
    value = parseEther(eth);
  } catch {
    throw new CliArgumentError(`--eth: expected an amount of ether such as 10 or 0.5, got ${eth}`);
  }
  if (value <= 0n) throw new CliArgumentError(`--eth: expected a positive amount, got ${eth}`);
  return value;
}

/** An address, or the path of a keystore file (whose address is read without its password). */
async function resolveTarget(target: string): Promise<{ target: string; address: string }> {
  if (isAddress(target)) return { target, address: getAddress(target) };
  const isFile = await stat(target).then((s) => s.isFile(), () => false);
  if (!isFile) throw new CliArgumentError(`${target}: neither an address nor a keystore file`, { details: { target } });
  return { target, address: await keystoreAddress(target) };
}
