import { expect } from "chai";
import { Wallet } from "ethers";
import { tvmIdFor, tvmOriginOf } from "../../orchestrator/chain/index.js";
import { TvmxError } from "../../orchestrator/errors/index.js";

describe("chain/TVM id", () => {
  const origin = Wallet.createRandom().address;

  it("puts the origin's address in the high 20 bytes and the nonce in the low 12", () => {
    const nonce = Uint8Array.from({ length: 12 }, (_, i) => i + 1);
    const tvmId = tvmIdFor(origin, nonce);
    expect(tvmId).to.equal(`${origin.toLowerCase()}0102030405060708090a0b0c`);
    expect(tvmOriginOf(tvmId)).to.equal(origin);
  });

  it("draws a fresh random nonce for each id", () => {
    const a = tvmIdFor(origin);
    const b = tvmIdFor(origin);
    expect(a).to.not.equal(b);
    expect(a.slice(0, 42)).to.equal(b.slice(0, 42));
    expect(a).to.match(/^0x[0-9a-f]{64}$/);
  });

  it("refuses a nonce of another size, a bad origin and a malformed id", () => {
    expect(() => tvmIdFor(origin, new Uint8Array(11))).to.throw(TvmxError, "nonce is 12 bytes, not 11").with.property("code", "CHAIN_TVM_ID_INVALID");
    expect(() => tvmIdFor("0x1234")).to.throw();
    expect(() => tvmOriginOf("0x1234")).to.throw(TvmxError, "32 bytes").with.property("code", "CHAIN_TVM_ID_INVALID");
  });
});
