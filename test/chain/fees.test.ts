import { expect } from "chai";
import { capBites, capFees } from "../../orchestrator/chain/fees.js";
import { TvmxError } from "../../orchestrator/errors/index.js";

const GWEI = 10n ** 9n;
const eip1559 = { gasPrice: 11n * GWEI, maxFeePerGas: 21n * GWEI, maxPriorityFeePerGas: GWEI };

describe("chain/fee caps", () => {
  it("uses the node's suggestion as it is when no cap is set or none bites", () => {
    expect(capFees("t", eip1559, undefined)).to.deep.equal({ type: 2, maxFeePerGas: 21n * GWEI, maxPriorityFeePerGas: GWEI });
    expect(capFees("t", eip1559, { maxFeePerGas: 50n * GWEI, maxPriorityFeePerGas: 2n * GWEI })).to.deep.equal({ type: 2, maxFeePerGas: 21n * GWEI, maxPriorityFeePerGas: GWEI });
    expect(capBites(eip1559, { maxFeePerGas: 50n * GWEI })).to.equal(false);
  });

  it("cuts the fee cap and the tip to the caps, the tip never above the fee cap", () => {
    expect(capBites(eip1559, { maxFeePerGas: 15n * GWEI })).to.equal(true);
    expect(capFees("t", eip1559, { maxFeePerGas: 15n * GWEI, maxPriorityFeePerGas: GWEI / 2n }, 10n * GWEI)).to.deep.equal({ type: 2, maxFeePerGas: 15n * GWEI, maxPriorityFeePerGas: GWEI / 2n });
    expect(capFees("t", { ...eip1559, maxPriorityFeePerGas: 30n * GWEI }, { maxFeePerGas: 15n * GWEI }, 10n * GWEI)).to.deep.equal({ type: 2, maxFeePerGas: 15n * GWEI, maxPriorityFeePerGas: 15n * GWEI });
  });

  it("refuses a cap below the base fee, and on a legacy chain a cap below the gas price", () => {
    const err = (() => {
      try {
        return capFees("MigrationAuction.revealBid", eip1559, { maxFeePerGas: 5n * GWEI }, 10n * GWEI);
      } catch (e) {
        return e;
      }
    })() as TvmxError;
    expect(err).to.be.instanceOf(TvmxError);
    expect(err.code).to.equal("CHAIN_FEE_ABOVE_CAP");
    expect(err.message).to.equal("MigrationAuction.revealBid: the chain's base fee is 10.0 gwei, above the configured cap chain.fees.maxFeePerGasWei = 5.0 gwei; not sent (raise the cap or wait for cheaper blocks)");
    const legacy = { gasPrice: 8n * GWEI, maxFeePerGas: null, maxPriorityFeePerGas: null };
    expect(capFees("t", legacy, { maxFeePerGas: 9n * GWEI })).to.deep.equal({ type: 0, gasPrice: 8n * GWEI });
    expect(() => capFees("t", legacy, { maxFeePerGas: 7n * GWEI })).to.throw(TvmxError, /gas price is 8\.0 gwei, above the configured cap/);
  });
});
