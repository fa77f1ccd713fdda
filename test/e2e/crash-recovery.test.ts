import { expect } from "chai";
import type { ControlClient } from "../../orchestrator/control/index.js";
import { clusterForSuite, logRecords, waitForLog, type TdView } from "./helpers.js";

/**
 * A bidding host crashes (SIGKILL) right after its commit transaction and is started again before the reveal
 * window: the new process reads the bid's salt from its journal and still reveals it, so its bond is not
 * forfeited and its price counts in the auction.
 */
describe("e2e: hosts killed and restarted between commit and reveal", function () {
  this.timeout(600_000);
  const cluster = clusterForSuite({
    mirrorChain: false,
    suite: { confirmationTimeout: 25n },
    // long enough windows for a restart on a loaded machine
    auction: { commitWindowSec: 20, revealWindowSec: 30, ackTimeoutMs: 10_000 },
    hosts: [
      { name: "source", capacity: { tvmSlots: 4, memoryMiB: 1024 } },
      { name: "phoenix", capacity: { tvmSlots: 8, memoryMiB: 4096 } },
      { name: "steady", capacity: { tvmSlots: 2, memoryMiB: 512 } },
    ],
  });
  let source: ControlClient;
  before(async () => {
    source = await cluster().client("source", 300_000);
  });

  it("reveals from its journal after the restart, and the TD still ends up committed on-chain", async () => {
    const td = await source.post<TdView>("/v1/tds", { memoryMiB: 32, vcpus: 1, workload: { bytesPerSecond: 1_000_000, hotSetMiB: 4, seed: 5 } });
    const migrating = source.post<{ status: string; auctionId: string; winner?: string; bids: { host: string }[] }>(`/v1/tds/${td.tdId}/migrate`, {});
    const phoenix = cluster().host("phoenix");
    const committed = await waitForLog(phoenix.logFile, (r) => r.msg === "bid committed");
    const first = phoenix.process!;
    await first.kill();
    expect((await first.exited).signal).to.equal("SIGKILL");
    // nothing revealed by the first process
    expect((await logRecords(phoenix.logFile)).some((r) => r.msg === "bid revealed")).to.equal(false);

    const second = await cluster().startHost("phoenix");
    expect(second.pid).to.not.equal(first.pid);
    const revealed = await waitForLog(phoenix.logFile, (r) => r.msg === "bid revealed", 120_000);
    expect(String(revealed.auctionId)).to.equal(String(committed.auctionId));

    const summary = await migrating;
    const auctionId = summary.auctionId;
    const sourceAuction = await source.get<{ state: string; revealCount: number }>(`/v1/auctions/${auctionId}`);
    expect(sourceAuction.state).to.equal("Finalized");
    expect(sourceAuction.revealCount).to.equal(2);
    // the restarted host's bid counted: it was the cheaper one, so it won the auction
    expect(summary.winner).to.equal(phoenix.address);

    // whatever the live migration's fate (the restarted process lost the session key agreed before the crash),
    // the chain ends with the TD committed somewhere and running there, never on two hosts
    const deadline = Date.now() + 180_000;
    let placement: { host: string; history: { state: string }[] } | undefined;
    while (Date.now() < deadline) {
      const v = await source.get<{ placement: { host: string }; history: { state: string }[] }>(`/v1/allocations/${td.tvmId}`);
      if (v.history.at(-1)?.state === "Committed") {
        placement = { host: v.placement.host, history: v.history };
        break;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(placement, "the TD committed on some host").to.not.equal(undefined);
    const owner = [...cluster().hosts.values()].find((h) => h.address === placement!.host)!;
    const runningThere = (await (await cluster().client(owner.name)).get<TdView[]>("/v1/tds")).filter((t) => t.tvmId === td.tvmId);
    expect(runningThere).to.have.length(1);
    expect(runningThere[0]!.running).to.equal(true);
    const elsewhere = await Promise.all(
      [...cluster().hosts.values()].filter((h) => h.name !== owner.name).map(async (h) => (await (await cluster().client(h.name)).get<TdView[]>("/v1/tds")).filter((t) => t.tvmId === td.tvmId)),
    );
    expect(elsewhere.flat()).to.deep.equal([]);
  });

  it("a source killed after the bids were committed finalizes its auction after a restart; its lost TD is aborted on-chain", async () => {
    const td = await source.post<TdView>("/v1/tds", { memoryMiB: 16, vcpus: 1 });
    const sourceHost = cluster().host("source");
    const before = new Set<unknown>((await logRecords(cluster().host("steady").logFile)).filter((r) => r.msg === "bid committed").map((r) => r.auctionId));
    const migrating = source.post(`/v1/tds/${td.tdId}/migrate`, {}).then(
      () => undefined,
      (err: unknown) => err,
    );
    const committed = await waitForLog(cluster().host("steady").logFile, (r) => r.msg === "bid committed" && !before.has(r.auctionId));
    const auctionId = String(committed.auctionId);
    await sourceHost.process!.kill();
    // the command that asked for the migration loses its host
    expect((await migrating) as { code?: string }).to.include({ code: "CONTROL_UNREACHABLE" });

    await cluster().startHost("source");
    const restarted = await cluster().client("source", 60_000);
    // the TD's memory died with the process: reported lost
    await waitForLog(sourceHost.logFile, (r) => r.msg === "TD lost: it ran in the previous process, whose memory is gone" && r.tvmId === td.tvmId);
    // recovery finalizes the auction the previous process opened (both bids were revealed by their hosts)
    const deadline = Date.now() + 120_000;
    let state = "";
    while (Date.now() < deadline && state !== "Finalized") {
      state = (await restarted.get<{ state: string }>(`/v1/auctions/${auctionId}`)).state;
      if (state !== "Finalized") await new Promise((r) => setTimeout(r, 1000));
    }
    expect(state).to.equal("Finalized");
    // the allocation cannot be honoured (there is no TD to send): the chain ends up saying Aborted
    let history: { state: string }[] = [];
    while (Date.now() < deadline + 120_000) {
      history = (await restarted.get<{ history: { state: string }[] }>(`/v1/allocations/${td.tvmId}`)).history;
      if (history.at(-1)?.state === "Aborted") break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(history.map((h) => h.state)).to.deep.equal(["Aborted"]);
  });
});
