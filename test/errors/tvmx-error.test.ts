import { expect } from "chai";
import {
  describeError,
  ERROR_CODES,
  errorCodeOf,
  isTvmxError,
  resultCodeOf,
  SUBSYSTEM_BASE,
  TvmxError,
} from "../../orchestrator/errors/index.js";

describe("errors/TvmxError", () => {
  it("carries its code, message, details and cause", () => {
    const cause = new Error("ECONNREFUSED");
    const err = new TvmxError("CHAIN_RPC_UNAVAILABLE", "chain unreachable at http://127.0.0.1:1", {
      details: { url: "http://127.0.0.1:1" },
      cause,
    });
    expect(err).to.be.instanceOf(Error);
    expect(err.name).to.equal("TvmxError");
    expect(err.code).to.equal("CHAIN_RPC_UNAVAILABLE");
    expect(err.details).to.deep.equal({ url: "http://127.0.0.1:1" });
    expect(err.cause).to.equal(cause);
    expect(err.resultCode).to.equal(301);
    expect(err.subsystem).to.equal("CHAIN");
  });

  it("serialises to JSON with the result code and the cause chain as text", () => {
    const err = new TvmxError("CONFIG_INVALID", "bad field", { details: { field: "capacity.slots" }, cause: new Error("inner") });
    expect(JSON.parse(JSON.stringify(err))).to.deep.equal({
      name: "TvmxError",
      code: "CONFIG_INVALID",
      resultCode: 104,
      message: "bad field",
      details: { field: "capacity.slots" },
      cause: "inner",
    });
  });

  it("recognises its own errors by code, and other errors not at all", () => {
    const err = new TvmxError("JOURNAL_CORRUPT", "x");
    expect(isTvmxError(err)).to.equal(true);
    expect(isTvmxError(err, "JOURNAL_CORRUPT")).to.equal(true);
    expect(isTvmxError(err, "JOURNAL_IO")).to.equal(false);
    expect(isTvmxError(new Error("plain"))).to.equal(false);
    expect(isTvmxError("a string")).to.equal(false);
  });

  it("describes a cause chain on one line", () => {
    const err = new TvmxError("HOST_PEER_FAILED", "peer failed", { cause: new Error("socket", { cause: "reset" }) });
    expect(describeError(err)).to.equal("peer failed: socket: reset");
    expect(describeError(42)).to.equal("42");
  });
});

describe("errors/result codes", () => {
  it("gives every known code a unique number inside its subsystem's block", () => {
    const seen = new Set<number>();
    for (const [code, n] of Object.entries(ERROR_CODES)) {
      expect(seen.has(n), `${code} reuses ${n}`).to.equal(false);
      seen.add(n);
      const prefix = code.split("_")[0] as keyof typeof SUBSYSTEM_BASE;
      const base = SUBSYSTEM_BASE[prefix];
      expect(base, `${code} has an unknown subsystem`).to.be.a("number");
      expect(n).to.be.greaterThan(base).and.lessThan(base + 99);
    }
  });

  it("keeps the published numbers stable", () => {
    expect(resultCodeOf("CONFIG_INVALID")).to.equal(104);
    expect(resultCodeOf("KEYSTORE_WRONG_PASSWORD")).to.equal(202);
    expect(resultCodeOf("CHAIN_RPC_UNAVAILABLE")).to.equal(301);
    expect(resultCodeOf("MIGRATION_ABORTED")).to.equal(701);
  });

  it("maps an unlisted code of a known subsystem to that subsystem's 'other' number, and back", () => {
    expect(resultCodeOf("MIGRATION_SOMETHING_NEW")).to.equal(799);
    expect(errorCodeOf(799)).to.equal("MIGRATION_OTHER");
    expect(resultCodeOf("NOPE_BAD")).to.equal(1);
    expect(errorCodeOf(1)).to.equal("UNKNOWN");
    expect(errorCodeOf(0)).to.equal("SUCCESS");
    expect(errorCodeOf(99_999)).to.equal("UNKNOWN");
  });

  it("round-trips every known code through its number", () => {
    for (const code of Object.keys(ERROR_CODES)) expect(errorCodeOf(resultCodeOf(code))).to.equal(code);
  });
});
