import { expect } from "chai";
import { Interface } from "ethers";
import { failedComponentOf, TvmxError } from "../../orchestrator/errors/index.js";
import { decodeRevert, isNonceConflict, isTransientRpcError } from "../../orchestrator/chain/rpc-errors.js";
import { backoffMs, withRpcRetry } from "../../orchestrator/chain/retry.js";
import { sleep } from "../../orchestrator/util/index.js";

const errno = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:1`), { code });

describe("chain/rpc errors", () => {
  it("treats connection failures and timeouts as transient, wrapped or not", () => {
    expect(isTransientRpcError(errno("ECONNREFUSED"))).to.equal(true);
    expect(isTransientRpcError(errno("ECONNRESET"))).to.equal(true);
    expect(isTransientRpcError(new Error("request failed", { cause: errno("ETIMEDOUT") }))).to.equal(true);
    expect(isTransientRpcError(Object.assign(new Error("x"), { code: "TIMEOUT" }))).to.equal(true);
    expect(isTransientRpcError(new Error("socket hang up"))).to.equal(true);
  });

  it("treats reverts, bad arguments and 4xx answers as final", () => {
    expect(isTransientRpcError(Object.assign(new Error("execution reverted"), { code: "CALL_EXCEPTION" }))).to.equal(false);
    expect(isTransientRpcError(Object.assign(new Error("bad"), { code: "INVALID_ARGUMENT" }))).to.equal(false);
    expect(isTransientRpcError(Object.assign(new Error("bad"), { code: "SERVER_ERROR", info: { responseStatus: "403 Forbidden" } }))).to.equal(false);
    expect(isTransientRpcError("a string")).to.equal(false);
  });

  it("recognises a used nonce", () => {
    expect(isNonceConflict(new Error("Nonce too low. Expected nonce to be 3 but got 2."))).to.equal(true);
    expect(isNonceConflict(Object.assign(new Error("x"), { code: "NONCE_EXPIRED" }))).to.equal(true);
    expect(isNonceConflict(new Error("already known"))).to.equal(true);
    expect(isNonceConflict(new Error("insufficient funds"))).to.equal(false);
  });

  it("decodes a custom error with its arguments, and Error(string)", () => {
    const iface = new Interface(["error PriceAboveReserve(uint64 auctionId, uint96 price, uint96 reserve)", "function f()"]);
    const data = iface.encodeErrorResult("PriceAboveReserve", [1n, 5n, 4n]);
    const err = Object.assign(new Error("execution reverted"), { code: "CALL_EXCEPTION", data });
    const decoded = decodeRevert(err, [iface])!;
    expect(decoded.name).to.equal("PriceAboveReserve");
    expect(decoded.args).to.deep.equal({ auctionId: 1n, price: 5n, reserve: 4n });
    expect(decoded.summary).to.equal("PriceAboveReserve(auctionId=1, price=5, reserve=4)");
    const reasonData = new Interface(["error Error(string)"]).encodeErrorResult("Error", ["nope"]);
    expect(decodeRevert({ code: "CALL_EXCEPTION", data: reasonData }, [iface])?.name).to.equal("Error");
    expect(decodeRevert({ code: "CALL_EXCEPTION", data: "0xdeadbeef" }, [iface])?.name).to.equal("unknown");
    expect(decodeRevert(errno("ECONNREFUSED"), [iface])).to.equal(undefined);
  });
});

describe("chain/retry", () => {
  const fast = { retries: 3, baseDelayMs: 1, maxDelayMs: 4 };

  it("backs off exponentially up to a cap", () => {
    expect([1, 2, 3, 4, 5].map((a) => backoffMs({ retries: 9, baseDelayMs: 100, maxDelayMs: 500 }, a))).to.deep.equal([100, 200, 400, 500, 500]);
  });

  it("retries transient failures until one succeeds", async () => {
    let calls = 0;
    const retried: number[] = [];
    const value = await withRpcRetry(
      "eth_blockNumber",
      async () => {
        if (++calls < 3) throw errno("ECONNREFUSED");
        return 42;
      },
      { policy: fast, onRetry: (attempt) => retried.push(attempt) },
    );
    expect(value).to.equal(42);
    expect(retried).to.deep.equal([1, 2]);
  });

  it("gives up with CHAIN_RPC_UNAVAILABLE naming the call and the URL", async () => {
    let calls = 0;
    const err = await withRpcRetry("eth_chainId", async () => {
      calls++;
      throw errno("ECONNREFUSED");
    }, { policy: fast, url: "http://127.0.0.1:1" }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(TvmxError);
    expect((err as TvmxError).code).to.equal("CHAIN_RPC_UNAVAILABLE");
    expect((err as TvmxError).message).to.contain("http://127.0.0.1:1").and.contain("eth_chainId").and.contain("4 attempt(s)");
    expect(calls).to.equal(4);
  });

  it("does not retry a final error", async () => {
    let calls = 0;
    const revert = Object.assign(new Error("execution reverted"), { code: "CALL_EXCEPTION" });
    const err = await withRpcRetry("call", async () => {
      calls++;
      throw revert;
    }, { policy: fast }).catch((e: unknown) => e);
    expect(err).to.equal(revert);
    expect(calls).to.equal(1);
  });

  it("with a deadline, retries past the attempt budget until the deadline and then succeeds", async () => {
    let calls = 0;
    const start = Date.now();
    const value = await withRpcRetry(
      "getFeeData",
      async () => {
        // fails for 150 ms: far more than `fast`'s 4 attempts
        if (Date.now() - start < 150) {
          calls++;
          throw errno("ECONNREFUSED");
        }
        return "fees";
      },
      { policy: fast, until: { atMs: start + 2_000, what: "the reveal window of auction 1" } },
    );
    expect(value).to.equal("fees");
    expect(calls).to.be.greaterThan(fast.retries + 1);
  });

  it("with a deadline, makes no attempt once it has passed: CHAIN_DEADLINE_PASSED naming the chain RPC and the window", async () => {
    const attempts: number[] = [];
    const atMs = Date.now() + 120;
    const err = (await withRpcRetry(
      "MigrationAuction.revealBid getFeeData",
      async () => {
        attempts.push(Date.now());
        throw errno("ECONNREFUSED");
      },
      { policy: { retries: 0, baseDelayMs: 50, maxDelayMs: 50 }, url: "http://127.0.0.1:1", until: { atMs, what: "the reveal window of auction 7" } },
    ).catch((e: unknown) => e)) as TvmxError;
    expect(err).to.be.instanceOf(TvmxError);
    expect(err.code).to.equal("CHAIN_DEADLINE_PASSED");
    expect(err.message).to.equal(
      `chain RPC unavailable at http://127.0.0.1:1: MigrationAuction.revealBid getFeeData still failing when the reveal window of auction 7 closed (${attempts.length} attempt(s)); no further attempts`,
    );
    expect(err.details).to.deep.include({ component: "chain RPC", attempts: attempts.length, deadlineMs: atMs });
    expect(attempts.length).to.be.greaterThan(1); // retries: 0 does not bound a deadline-driven retry
    expect(attempts.every((t) => t < atMs)).to.equal(true);
    expect(Date.now()).to.be.at.least(atMs);
    expect(failedComponentOf(new TvmxError("CHAIN_TX_FAILED", "revealBid failed", { cause: err }))).to.equal("chain RPC");
  });

  it("names the component that failed from the innermost coded error", () => {
    expect(failedComponentOf(new TvmxError("CHANNEL_CLOSED", "closed"))).to.equal("channel");
    expect(failedComponentOf(new TvmxError("CHAIN_TX_REVERTED", "reverted"))).to.equal("chain");
    expect(failedComponentOf(new TvmxError("HOST_PEER_FAILED", "x", { cause: new TvmxError("JOURNAL_IO", "disk") }))).to.equal("journal");
    expect(failedComponentOf(new Error("boom"))).to.equal("host (unexpected)");
  });

  it("stops waiting when cancelled", async () => {
    const controller = new AbortController();
    const pending = sleep(60_000, controller.signal);
    controller.abort(new Error("shutdown"));
    const err = await pending.catch((e: unknown) => e);
    expect((err as Error).message).to.equal("shutdown");
  });
});
