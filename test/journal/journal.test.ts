import { expect } from "chai";
import { spawn } from "node:child_process";
import { appendFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TvmxError } from "../../orchestrator/errors/index.js";
import { decodeLine, encodeLine, Journal, LOCK_FILE, LOG_FILE, SNAPSHOT_FILE } from "../../orchestrator/journal/index.js";
import { MemoryLogger } from "../../orchestrator/log/index.js";

type Tick = { type: "tick"; i: number; wei?: bigint };

async function codeOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err, "expected a rejection").to.be.instanceOf(TvmxError);
  return (err as TvmxError).code;
}

describe("journal/codec", () => {
  it("round-trips values with bigints and detects damage", () => {
    const line = encodeLine({ a: 1, wei: 2n ** 200n, nested: [{ b: -5n }] });
    expect(line.endsWith("\n")).to.equal(true);
    expect(decodeLine(line.trimEnd())).to.deep.equal({ ok: true, value: { a: 1, wei: 2n ** 200n, nested: [{ b: -5n }] } });
    const damaged = line.trimEnd().replace('"a":1', '"a":2');
    expect(decodeLine(damaged)).to.deep.equal({ ok: false, reason: "checksum mismatch" });
    expect(decodeLine("garbage")).to.deep.equal({ ok: false, reason: "no checksum prefix" });
  });

  it("does not mistake an object with other fields for a bigint", () => {
    const value = { x: { $bigint: "1", other: true } };
    expect(decodeLine(encodeLine(value).trimEnd())).to.deep.equal({ ok: true, value });
  });
});

describe("journal/Journal", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "tvmx-journal-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("replays what was appended, in order, with bigints intact", async () => {
    const { journal, entries } = await Journal.open<Tick>(dir);
    expect(entries).to.deep.equal([]);
    const r1 = await journal.append({ type: "tick", i: 1, wei: 10n ** 30n });
    const r2 = await journal.append({ type: "tick", i: 2 });
    expect([r1.seq, r2.seq]).to.deep.equal([1, 2]);
    await journal.close();
    const reopened = await Journal.open<Tick>(dir);
    expect(reopened.entries).to.deep.equal([{ type: "tick", i: 1, wei: 10n ** 30n }, { type: "tick", i: 2 }]);
    expect(reopened.report).to.deep.equal({ fromSnapshot: 0, fromLog: 2 });
    expect(reopened.journal.seq).to.equal(2);
    expect((await reopened.journal.append({ type: "tick", i: 3 })).seq).to.equal(3);
    await reopened.journal.close();
  });

  it("keeps concurrent appends in call order", async () => {
    const { journal } = await Journal.open<Tick>(dir);
    const records = await Promise.all(Array.from({ length: 20 }, (_, i) => journal.append({ type: "tick", i })));
    expect(records.map((r) => r.seq)).to.deep.equal(Array.from({ length: 20 }, (_, i) => i + 1));
    await journal.close();
    const { entries, journal: j2 } = await Journal.open<Tick>(dir);
    expect(entries.map((e) => e.i)).to.deep.equal(Array.from({ length: 20 }, (_, i) => i));
    await j2.close();
  });

  it("tolerates and reports a torn last line, then appends after it cleanly", async () => {
    const { journal } = await Journal.open<Tick>(dir);
    await journal.append({ type: "tick", i: 1 });
    await journal.close();
    const full = encodeLine({ seq: 2, time: "t", entry: { type: "tick", i: 2 } });
    await appendFile(join(dir, LOG_FILE), full.slice(0, 17)); // a crash in the middle of the write
    const log = new MemoryLogger();
    const reopened = await Journal.open<Tick>(dir, { logger: log });
    expect(reopened.entries).to.deep.equal([{ type: "tick", i: 1 }]);
    expect(reopened.report.tornTail).to.include({ bytes: 17 });
    expect(log.find("journal: cut off a torn last line (a crash interrupted its append)")).to.have.length(1);
    await reopened.journal.append({ type: "tick", i: 3 });
    await reopened.journal.close();
    const again = await Journal.open<Tick>(dir);
    expect(again.entries.map((e) => e.i)).to.deep.equal([1, 3]);
    expect(again.report.tornTail).to.equal(undefined);
    await again.journal.close();
  });

  it("refuses a damaged line in the middle instead of dropping acknowledged records", async () => {
    const { journal } = await Journal.open<Tick>(dir);
    for (let i = 1; i <= 3; i++) await journal.append({ type: "tick", i });
    await journal.close();
    const path = join(dir, LOG_FILE);
    const lines = (await readFile(path, "utf8")).split("\n");
    lines[1] = lines[1]!.replace('"i":2', '"i":7');
    await writeFile(path, lines.join("\n"));
    const err = (await Journal.open(dir).catch((e: unknown) => e)) as TvmxError;
    expect(err).to.be.instanceOf(TvmxError);
    expect(err.code).to.equal("JOURNAL_CORRUPT");
    expect(err.details).to.include({ line: 2, reason: "checksum mismatch" });
    // The failed open released the lock: a repaired journal opens again.
    await writeFile(path, lines.slice(0, 1).join("\n") + "\n");
    const repaired = await Journal.open<Tick>(dir);
    expect(repaired.entries).to.have.length(1);
    await repaired.journal.close();
  });

  it("refuses a log with missing records", async () => {
    await writeFile(
      join(dir, LOG_FILE),
      encodeLine({ seq: 1, time: "t", entry: { type: "tick", i: 1 } }) + encodeLine({ seq: 3, time: "t", entry: { type: "tick", i: 3 } }),
    );
    expect(await codeOf(Journal.open(dir))).to.equal("JOURNAL_CORRUPT");
  });

  it("refuses an entry its owner does not recognise", async () => {
    await writeFile(join(dir, LOG_FILE), encodeLine({ seq: 1, time: "t", entry: { type: "alien" } }) + encodeLine({ seq: 2, time: "t", entry: { type: "tick" } }));
    const isTick = (v: unknown): v is Tick => (v as Tick).type === "tick";
    expect(await codeOf(Journal.open(dir, { isEntry: isTick }))).to.equal("JOURNAL_CORRUPT");
  });

  it("lets only one process at a time open a data directory", async () => {
    const { journal } = await Journal.open(dir);
    expect(await codeOf(Journal.open(dir))).to.equal("JOURNAL_LOCKED");
    await journal.close();
    const second = await Journal.open(dir);
    await second.journal.close();
  });

  it("takes over the lock of a process that died", async () => {
    const child = spawn(process.execPath, ["-e", ""]);
    const deadPid = child.pid!;
    await new Promise((resolve) => child.on("exit", resolve));
    await writeFile(join(dir, LOCK_FILE), `${deadPid}\n`);
    const { journal, report } = await Journal.open(dir);
    expect(report.tookOverLockFromPid).to.equal(deadPid);
    await journal.close();
  });

  it("refuses to append after close", async () => {
    const { journal } = await Journal.open<Tick>(dir);
    await journal.close();
    await journal.close(); // idempotent
    expect(await codeOf(journal.append({ type: "tick", i: 1 }))).to.equal("JOURNAL_CLOSED");
  });

  it("compacts to a snapshot and replays snapshot then newer records", async () => {
    const { journal } = await Journal.open<Tick>(dir);
    for (let i = 1; i <= 5; i++) await journal.append({ type: "tick", i });
    await journal.compact([{ type: "tick", i: 15 }]);
    expect(await journal.logBytes()).to.equal(0);
    await journal.append({ type: "tick", i: 6 });
    await journal.close();
    const { entries, report, journal: j2 } = await Journal.open<Tick>(dir);
    expect(entries.map((e) => e.i)).to.deep.equal([15, 6]);
    expect(report).to.deep.equal({ fromSnapshot: 1, fromLog: 1 });
    expect(j2.seq).to.equal(6);
    await j2.close();
  });

  it("does not apply a record twice when a crash left the log behind a newer snapshot", async () => {
    const { journal } = await Journal.open<Tick>(dir);
    for (let i = 1; i <= 3; i++) await journal.append({ type: "tick", i });
    await journal.close();
    // As if the process died after renaming the snapshot but before emptying the log.
    await writeFile(join(dir, SNAPSHOT_FILE), encodeLine({ version: 1, upToSeq: 2, entries: [{ type: "tick", i: 12 }] }));
    const { entries, journal: j2 } = await Journal.open<Tick>(dir);
    expect(entries.map((e) => e.i)).to.deep.equal([12, 3]);
    await j2.close();
  });

  it("refuses a damaged snapshot", async () => {
    await writeFile(join(dir, SNAPSHOT_FILE), "00000000 {}\n");
    expect(await codeOf(Journal.open(dir))).to.equal("JOURNAL_CORRUPT");
  });

  it("loses no acknowledged record when the writing process is killed", async function () {
    this.timeout(30_000);
    const child = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "fixtures", "append-forever.ts")], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, TVMX_APPEND_FOREVER_DIR: dir },
    });
    let acknowledged = 0;
    let buffered = "";
    await new Promise<void>((resolve, reject) => {
      child.on("error", reject);
      child.on("exit", (code, signal) => (signal === "SIGKILL" ? resolve() : reject(new Error(`child exited with ${code}`))));
      child.stdout.on("data", (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split("\n");
        buffered = lines.pop()!;
        for (const l of lines) acknowledged = Number(l);
        if (acknowledged >= 200 && !child.killed) child.kill("SIGKILL");
      });
    });
    const { entries, journal } = await Journal.open<Tick & { wei: bigint }>(dir);
    expect(entries.length).to.be.at.least(acknowledged);
    entries.forEach((e, i) => {
      expect(e.i).to.equal(i);
      expect(e.wei).to.equal(10n ** 20n + BigInt(i));
    });
    await journal.close();
  });
});
