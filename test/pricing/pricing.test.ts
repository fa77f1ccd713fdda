import { expect } from "chai";
import type { PricingConfig } from "../../orchestrator/config/index.js";
import { TvmxError } from "../../orchestrator/errors/index.js";
import { decideBid, MAX_PRICE_WEI } from "../../orchestrator/pricing/index.js";

const ETH_MILLI = 10n ** 15n;
const scarcity: PricingConfig = { strategy: "scarcity", basePriceWei: 1n * ETH_MILLI, fullPriceWei: 5n * ETH_MILLI, exponent: 1, minFreeSlots: 0 };
const host = (usedSlots: number, usedMemoryMiB = 0) => ({ tvmSlots: 4, memoryMiB: 4096, usedSlots, usedMemoryMiB });
const td = { memoryMiB: 256 };

function price(d: ReturnType<typeof decideBid>): bigint {
  if (!d.bid) expect.fail(`no bid: ${d.message}`);
  return d.priceWei;
}

describe("pricing/decideBid", () => {
  it("bids more as the host fills up", () => {
    const prices = [0, 1, 2, 3].map((used) => price(decideBid(scarcity, host(used), td)));
    for (let i = 1; i < prices.length; i++) expect(prices[i]!).to.be.greaterThan(prices[i - 1]!);
    // Taking the last slot costs the full price; the first of four costs a quarter of the way up.
    expect(prices[3]).to.equal(5n * ETH_MILLI);
    expect(prices[0]).to.equal(ETH_MILLI + (4n * ETH_MILLI) / 4n);
  });

  it("does not bid when full", () => {
    expect(decideBid(scarcity, host(4), td)).to.deep.include({ bid: false, reason: "no-free-slot" });
  });

  it("does not bid without enough free memory", () => {
    expect(decideBid(scarcity, host(1, 4000), td)).to.deep.include({ bid: false, reason: "not-enough-memory" });
  });

  it("prices by memory when memory is scarcer than slots", () => {
    const bySlots = price(decideBid(scarcity, host(0, 0), td));
    const byMemory = price(decideBid(scarcity, host(0, 3840), td));
    expect(byMemory).to.equal(5n * ETH_MILLI);
    expect(byMemory).to.be.greaterThan(bySlots);
  });

  it("keeps the configured headroom", () => {
    const cautious: PricingConfig = { ...scarcity, minFreeSlots: 2 };
    expect(decideBid(cautious, host(1), td).bid).to.equal(true);
    expect(decideBid(cautious, host(2), td)).to.deep.include({ bid: false, reason: "below-headroom" });
  });

  it("does not bid above the reserve", () => {
    expect(decideBid(scarcity, host(3), td, 4n * ETH_MILLI)).to.deep.include({ bid: false, reason: "above-reserve" });
    expect(price(decideBid(scarcity, host(3), td, 5n * ETH_MILLI))).to.equal(5n * ETH_MILLI);
  });

  it("never bids above what the contract can hold", () => {
    const huge: PricingConfig = { strategy: "fixed", priceWei: MAX_PRICE_WEI + 1n, minFreeSlots: 0 };
    expect(decideBid(huge, host(0), td)).to.deep.include({ bid: false, reason: "above-reserve" });
  });

  it("declares its free slots as the bid's capacity", () => {
    const d = decideBid(scarcity, host(1), td);
    expect(d).to.deep.include({ bid: true, capacity: 3, utilisationPpm: 500_000 });
  });

  it("bends the curve with the exponent: a convex curve keeps prices low until the host is nearly full", () => {
    const convex: PricingConfig = { ...scarcity, exponent: 2 };
    expect(price(decideBid(convex, host(1), td))).to.be.lessThan(price(decideBid(scarcity, host(1), td)));
    expect(price(decideBid(convex, host(3), td))).to.equal(5n * ETH_MILLI);
  });

  it("bids the fixed price whatever the load", () => {
    const fixed: PricingConfig = { strategy: "fixed", priceWei: 7n, minFreeSlots: 0 };
    expect([0, 3].map((u) => price(decideBid(fixed, host(u), td)))).to.deep.equal([7n, 7n]);
  });

  it("rejects an impossible capacity view", () => {
    for (const bad of [host(5), host(0, 5000), { ...host(0), tvmSlots: -1 }, { ...host(0), usedSlots: 1.5 }]) {
      expect(() => decideBid(scarcity, bad, td)).to.throw(TvmxError).with.property("code", "PRICING_INVALID");
    }
    expect(() => decideBid(scarcity, host(0), { memoryMiB: Number.NaN })).to.throw(TvmxError);
  });
});
