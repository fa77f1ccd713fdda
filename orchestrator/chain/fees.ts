import { formatUnits } from "ethers";
import { TvmxError } from "../errors/index.js";

/** The most a transaction may pay per gas, in wei (from the host config's `chain.fees`). */
export interface FeeCaps {
  maxFeePerGas?: bigint;
  maxPriorityFeePerGas?: bigint;
}

/** What the node suggests (ethers' FeeData): EIP-1559 fields, or only a gas price on a legacy chain. */
export interface SuggestedFees {
  gasPrice: bigint | null;
  maxFeePerGas: bigint | null;
  maxPriorityFeePerGas: bigint | null;
}

/** The fee fields a transaction is signed with. */
export type TxFees = { type: 2; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint } | { type: 0; gasPrice: bigint };

const gwei = (wei: bigint) => `${formatUnits(wei, "gwei")} gwei`;

/** Whether the caps would lower the node's EIP-1559 suggestion (then the base fee must be known: `capFees`). */
export function capBites(suggested: SuggestedFees, caps: FeeCaps | undefined): boolean {
  return caps?.maxFeePerGas !== undefined && suggested.maxFeePerGas !== null && suggested.maxFeePerGas > caps.maxFeePerGas;
}

/**
 * The node's suggestion, capped: the priority fee at `maxPriorityFeePerGas`, the fee cap at `maxFeePerGas` (and the
 * priority fee never above the fee cap). A cap below what the chain charges now — the latest base fee on an EIP-1559
 * chain, the node's gas price on a legacy one — is refused with CHAIN_FEE_ABOVE_CAP: such a transaction would only
 * wait in the pool, so it is not sent. `baseFeePerGas` is needed only when `capBites`.
 */
export function capFees(label: string, suggested: SuggestedFees, caps: FeeCaps | undefined, baseFeePerGas?: bigint | null): TxFees {
  const maxCap = caps?.maxFeePerGas;
  if (suggested.maxFeePerGas === null) {
    const gasPrice = suggested.gasPrice ?? 0n;
    if (maxCap !== undefined && gasPrice > maxCap) throw aboveCap(label, "gas price", gasPrice, maxCap);
    return { type: 0, gasPrice };
  }
  let maxFeePerGas = suggested.maxFeePerGas;
  let maxPriorityFeePerGas = suggested.maxPriorityFeePerGas ?? 0n;
  if (caps?.maxPriorityFeePerGas !== undefined && maxPriorityFeePerGas > caps.maxPriorityFeePerGas) maxPriorityFeePerGas = caps.maxPriorityFeePerGas;
  if (maxCap !== undefined && maxFeePerGas > maxCap) {
    if (baseFeePerGas !== undefined && baseFeePerGas !== null && baseFeePerGas > maxCap) throw aboveCap(label, "base fee", baseFeePerGas, maxCap);
    maxFeePerGas = maxCap;
  }
  if (maxPriorityFeePerGas > maxFeePerGas) maxPriorityFeePerGas = maxFeePerGas;
  return { type: 2, maxFeePerGas, maxPriorityFeePerGas };
}

function aboveCap(label: string, what: "base fee" | "gas price", chargedWei: bigint, capWei: bigint): TvmxError {
  return new TvmxError(
    "CHAIN_FEE_ABOVE_CAP",
    `${label}: the chain's ${what} is ${gwei(chargedWei)}, above the configured cap chain.fees.maxFeePerGasWei = ${gwei(capWei)}; not sent (raise the cap or wait for cheaper blocks)`,
    { details: { label, component: "chain", what, chargedWei, capWei } },
  );
}
