import { expect } from "chai";
import { createJsonLogger, formatLogLine, MemoryLogger, nullLogger, toJsonSafe } from "../../orchestrator/log/index.js";

const fixedNow = () => new Date("2026-01-02T03:04:05.000Z");

function captureJson(level?: "debug" | "info" | "warn" | "error") {
  const lines: string[] = [];
  const logger = createJsonLogger({ write: (l) => lines.push(l), now: fixedNow, ...(level ? { level } : {}) });
  return { lines, logger };
}

describe("log/logger", () => {
  it("writes one JSON line per record with time, level and message first", () => {
    const { lines, logger } = captureJson();
    logger.info("host started", { port: 7000 });
    expect(lines).to.have.length(1);
    expect(lines[0]!.endsWith("\n")).to.equal(true);
    expect(lines[0]!.trim().split("\n")).to.have.length(1);
    expect(JSON.parse(lines[0]!)).to.deep.equal({
      time: "2026-01-02T03:04:05.000Z",
      level: "info",
      msg: "host started",
      port: 7000,
    });
    expect(Object.keys(JSON.parse(lines[0]!)).slice(0, 3)).to.deep.equal(["time", "level", "msg"]);
  });

  it("drops records below the configured level", () => {
    const { lines, logger } = captureJson("warn");
    logger.debug("d");
    logger.info("i");
    logger.warn("w");
    logger.error("e");
    expect(lines.map((l) => JSON.parse(l).msg)).to.deep.equal(["w", "e"]);
  });

  it("stamps a child's fields on every record and lets the child's fields win", () => {
    const { lines, logger } = captureJson();
    const child = logger.child({ component: "auction", migrationId: "0x01" }).child({ migrationId: "0x02", step: "bid" });
    child.info("bid committed", { priceWei: 5n });
    expect(JSON.parse(lines[0]!)).to.include({ component: "auction", migrationId: "0x02", step: "bid", priceWei: "5" });
  });

  it("keeps the level of its parent in a child", () => {
    const { lines, logger } = captureJson("error");
    logger.child({ a: 1 }).warn("hidden");
    logger.child({ a: 1 }).error("shown");
    expect(lines).to.have.length(1);
  });

  it("does not let a field overwrite time, level or msg", () => {
    const { lines, logger } = captureJson();
    logger.info("real", { msg: "fake", level: "debug", time: "never" });
    const rec = JSON.parse(lines[0]!);
    expect(rec.msg).to.equal("real");
    expect(rec.level).to.equal("info");
    expect(rec["field.msg"]).to.equal("fake");
    expect(rec["field.time"]).to.equal("never");
  });

  it("renders bigint, bytes, errors with their cause, maps, sets and cycles without throwing", () => {
    const cyclic: Record<string, unknown> = { name: "loop" };
    cyclic.self = cyclic;
    const err = Object.assign(new Error("outer", { cause: new Error("inner") }), { code: "CHAIN_RPC_UNAVAILABLE", details: { block: 7n } });
    const line = formatLogLine({
      time: "t",
      level: "error",
      msg: "m",
      wei: 10n ** 30n,
      bytes: new Uint8Array([0xde, 0xad]),
      err,
      map: new Map([["k", 1n]]),
      set: new Set([1, 2]),
      cyclic,
      nan: Number.NaN,
    });
    const rec = JSON.parse(line);
    expect(rec.wei).to.equal("1000000000000000000000000000000");
    expect(rec.bytes).to.equal("0xdead");
    expect(rec.err).to.deep.equal({
      name: "Error",
      message: "outer",
      code: "CHAIN_RPC_UNAVAILABLE",
      details: { block: "7" },
      cause: { name: "Error", message: "inner" },
    });
    expect(rec.map).to.deep.equal({ k: "1" });
    expect(rec.set).to.deep.equal([1, 2]);
    expect(rec.cyclic).to.deep.equal({ name: "loop", self: "[Circular]" });
    expect(rec.nan).to.equal("NaN");
  });

  it("renders the same object twice side by side (a repeat is not a cycle)", () => {
    const shared = { x: 1 };
    expect(toJsonSafe({ a: shared, b: shared })).to.deep.equal({ a: { x: 1 }, b: { x: 1 } });
  });

  it("keeps the records of a memory logger and its children in one list", () => {
    const log = new MemoryLogger();
    log.debug("one");
    log.child({ migrationId: "m1" }).info("two", { n: 2n });
    expect(log.messages()).to.deep.equal(["one", "two"]);
    expect(log.find("two")[0]).to.include({ migrationId: "m1", n: 2n, level: "info" });
  });

  it("drops everything in the null logger, also through its children", () => {
    expect(() => nullLogger.child({ a: 1 }).error("x", { y: 1n })).to.not.throw();
    expect(nullLogger.child({})).to.equal(nullLogger);
  });
});
