import type { PricingConfig } from "../config/index.js";
import { TvmxError } from "../errors/index.js";

/**
 * The destination's bidding strategy: a pure function of its current capacity for TVMs, the TD asking to
 * come, and the auction's reserve. A host with little room left bids higher; a host without room (or that
 * would fall below its configured headroom) does not bid at all.
 *
 * "scarcity": utilisation u is what the host would be at after taking the TD, the larger of slots and memory:
 *     u = max((usedSlots + 1) / tvmSlots, (usedMemoryMiB + td.memoryMiB) / memoryMiB)
 *     price = basePriceWei + (fullPriceWei - basePriceWei) * u^exponent
 * so an empty large host bids close to the base price and a host taking its last slot bids the full price.
 * "fixed": always `priceWei` while there is room.
 */

export interface CapacityView {
  tvmSlots: number;
  memoryMiB: number;
  usedSlots: number;
  usedMemoryMiB: number;
}

export interface TdDemand {
  memoryMiB: number;
}

export type NoBidReason = "no-free-slot" | "not-enough-memory" | "below-headroom" | "above-reserve";

export type BidDecision =
  | {
      bid: true;
      priceWei: bigint;
      /** Free TVM slots the host declares with its bid (before taking the TD; at least 1). */
      capacity: number;
      /** Utilisation after taking the TD, in parts per million. */
      utilisationPpm: number;
    }
  | { bid: false; reason: NoBidReason; message: string };

/** Largest price the auction contract accepts (uint96). */
export const MAX_PRICE_WEI = 2n ** 96n - 1n;
const PPM = 1_000_000;

export function decideBid(pricing: PricingConfig, capacity: CapacityView, demand: TdDemand, reserveWei?: bigint): BidDecision {
  checkCapacity(capacity, demand);
  const freeSlots = capacity.tvmSlots - capacity.usedSlots;
  const freeMemory = capacity.memoryMiB - capacity.usedMemoryMiB;
  if (freeSlots <= 0) return { bid: false, reason: "no-free-slot", message: `no free TVM slot (${capacity.usedSlots}/${capacity.tvmSlots} used)` };
  if (demand.memoryMiB > freeMemory) {
    return { bid: false, reason: "not-enough-memory", message: `TD needs ${demand.memoryMiB} MiB, ${freeMemory} MiB free` };
  }
  if (freeSlots - 1 < pricing.minFreeSlots) {
    return {
      bid: false,
      reason: "below-headroom",
      message: `taking the TD would leave ${freeSlots - 1} free slot(s), below the headroom of ${pricing.minFreeSlots}`,
    };
  }
  const utilisationPpm = Math.min(
    PPM,
    Math.ceil(Math.max((capacity.usedSlots + 1) / capacity.tvmSlots, capacity.memoryMiB === 0 ? 1 : (capacity.usedMemoryMiB + demand.memoryMiB) / capacity.memoryMiB) * PPM),
  );
  let priceWei: bigint;
  if (pricing.strategy === "fixed") {
    priceWei = pricing.priceWei;
  } else {
    // u^exponent in ppm; the float only shapes the curve, the amounts stay exact bigints.
    const curvePpm = BigInt(Math.round((utilisationPpm / PPM) ** pricing.exponent * PPM));
    priceWei = pricing.basePriceWei + ((pricing.fullPriceWei - pricing.basePriceWei) * curvePpm) / BigInt(PPM);
  }
  const cap = reserveWei === undefined || reserveWei > MAX_PRICE_WEI ? MAX_PRICE_WEI : reserveWei;
  if (priceWei > cap) {
    return { bid: false, reason: "above-reserve", message: `price ${priceWei} wei is above the reserve ${cap} wei` };
  }
  return { bid: true, priceWei, capacity: freeSlots, utilisationPpm };
}

function checkCapacity(c: CapacityView, d: TdDemand): void {
  const fields: [string, number][] = [
    ["tvmSlots", c.tvmSlots],
    ["memoryMiB", c.memoryMiB],
    ["usedSlots", c.usedSlots],
    ["usedMemoryMiB", c.usedMemoryMiB],
    ["demand.memoryMiB", d.memoryMiB],
  ];
  for (const [field, value] of fields) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new TvmxError("PRICING_INVALID", `${field} must be a non-negative integer, got ${value}`, { details: { field, value } });
    }
  }
  if (c.usedSlots > c.tvmSlots || c.usedMemoryMiB > c.memoryMiB) {
    throw new TvmxError("PRICING_INVALID", `usage exceeds capacity (${c.usedSlots}/${c.tvmSlots} slots, ${c.usedMemoryMiB}/${c.memoryMiB} MiB)`, {
      details: { ...c },
    });
  }
}
