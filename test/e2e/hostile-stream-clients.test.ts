import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { FRAME_TYPE } from "../../orchestrator/migration/frame.js";
import { frameJson } from "../../orchestrator/migration/framed-connection.js";
import { decodeReject } from "../../orchestrator/migration/control-messages.js";
import { ConnectionClosedError } from "../../orchestrator/migration/errors.js";
import { parseEndpoint } from "../../orchestrator/host/endpoint.js";
import { engineMigrationId } from "../../orchestrator/host/peer-messages.js";
import { answerChallenge, connectTo, streamHello } from "../migration/fixtures/setup.js";
import { clusterForSuite, logRecords, waitForLog, type TdView } from "./helpers.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** The bound stated for the destination's resident memory while the 4 GiB HELLOs arrive (one of them used to cost 4 GiB). */
const RSS_BOUND_MIB = 128;

function residentMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

/** One HELLO from a process that holds no key: the destination's answer (a REJECT's reason, or the frame type). */
async function keylessHello(port: number, migrationId: string, extra: { recover?: boolean; memoryBytes?: number } = {}): Promise<string> {
  const conn = await connectTo(port);
  try {
    await answerChallenge(conn, streamHello(migrationId, { recover: extra.recover ?? false, memoryBytes: extra.memoryBytes ?? 64 * MiB }), randomBytes(32));
    const answer = await conn.receive();
    return answer.type === FRAME_TYPE.REJECT ? decodeReject(frameJson(answer)).reason : `frame ${answer.type}`;
  } catch (err) {
    // Over the listener's pending limits (32 per address) a connection is closed at accept, before CHALLENGE.
    if (err instanceof ConnectionClosedError) return "closed at accept";
    throw err;
  } finally {
    conn.destroy();
  }
}

/**
 * Clients without a key against a real destination host process: 4 GiB HELLOs cost it nothing, and recover HELLOs
 * for the id of a running migration (an id every registered host learns from the request) neither abort it nor
 * learn its outcome.
 */
describe("e2e: the migration stream port under clients without a key", function () {
  this.timeout(600_000);
  const cluster = clusterForSuite({
    hosts: [
      { name: "source", capacity: { tvmSlots: 4, memoryMiB: 1024 } },
      { name: "roomy", capacity: { tvmSlots: 8, memoryMiB: 4096 } },
    ],
  });

  const migrationPortOf = (name: string): number => parseEndpoint(String(cluster().host(name).process!.started.endpoint)).migrationPort;

  it("keeps the destination's resident memory within its bound while 50 HELLOs of 4 GiB arrive", async () => {
    const roomy = cluster().host("roomy").process!;
    const port = migrationPortOf("roomy");
    const before = residentMiB(roomy.pid);
    const answers = await Promise.all(Array.from({ length: 50 }, () => keylessHello(port, randomBytes(16).toString("hex"), { memoryBytes: 4 * GiB })));
    const after = residentMiB(roomy.pid);
    console.log(`      destination RSS ${before.toFixed(0)} MiB before, ${after.toFixed(0)} MiB after 50 HELLOs of 4 GiB (bound +${RSS_BOUND_MIB} MiB)`);
    const refusedAtAccept = answers.filter((a) => a === "closed at accept").length;
    console.log(`      ${answers.length - refusedAtAccept} answered unknown-migration, ${refusedAtAccept} closed at accept by the pending limit`);
    expect(answers.every((a) => a === "unknown-migration" || a === "closed at accept"), answers.join(",")).to.equal(true);
    expect(after - before).to.be.below(RSS_BOUND_MIB);
    expect(await (await cluster().client("roomy")).get<unknown[]>("/v1/tds")).to.have.length(0);
  });

  it("commits a running migration while keyless recover HELLOs for its id arrive", async () => {
    const roomyHost = cluster().host("roomy");
    const port = migrationPortOf("roomy");
    const source = await cluster().client("source", 300_000);
    const td = await source.post<TdView>("/v1/tds", { memoryMiB: 256, vcpus: 1, workload: { bytesPerSecond: 4_000_000, hotSetMiB: 8, seed: 11 } });
    const migrating = source.post<{ status: string; winner?: string; migrationId: string }>(`/v1/tds/${td.tdId}/migrate`, {});
    const started = await waitForLog(roomyHost.logFile, (r) => r.msg === "import started");
    const streamId = engineMigrationId(String(started.migrationId));
    const answers: string[] = [];
    // Recover HELLOs, as a host that saw the migration request would send, while the import runs.
    for (let i = 0; i < 10; i++) answers.push(await keylessHello(port, streamId, { recover: true }));
    const summary = await migrating;
    expect(summary.status).to.equal("Committed");
    expect(summary.winner).to.equal(roomyHost.address);
    expect(answers).to.deep.equal(new Array(10).fill("unauthenticated"));
    // After commit the outcome is not told to a keyless asker either.
    expect(await keylessHello(port, streamId, { recover: true })).to.equal("unauthenticated");
    const records = await logRecords(roomyHost.logFile);
    expect(records.filter((r) => r.msg === "answered a recovery request")).to.have.length(0);
  });
});
