import { expect } from "chai";
import { join } from "node:path";
import { AllocationRegistryClient, connectChain, SUITE_ERROR_INTERFACES, TxSender, type ChainConnection } from "../../orchestrator/chain/index.js";
import type { ControlClient } from "../../orchestrator/control/index.js";
import { DEFAULT_PASSWORD } from "../../orchestrator/demo/cluster.js";
import { isTvmxError } from "../../orchestrator/errors/index.js";
import { unlockKeystore } from "../../orchestrator/keystore/index.js";
import { clusterForSuite, logRecords, waitForLog, type TdView } from "./helpers.js";

/** What the control API answers for a TVM (amounts and ids as decimal strings). */
interface AllocationsView {
  placement: { host: string; allocationId: string };
  history: { id: string; state: string; source: string; destination: string; abortSettleAt: number }[];
}
type Placed = TdView & { origin: { kind: string; allocationId?: string; source?: string } };
interface StatusView {
  pid: number;
  migrations: { allocationId: string; role: string; status: string; tvmId: string; peer: string }[];
}

const ALLOCATION_STATE = { Allocated: 1n, Committed: 2n } as const;

/**
 * The source dies (SIGKILL) the moment its destination has accepted the hand-over that came with COMMIT, so nobody
 * but the destination is left to finish: it commits the import, confirms on-chain with the hand-over alone, and is
 * paid. The source, restarted from the same data directory and keystore, learns the outcome from the chain: it
 * neither resumes nor re-offers the TD and asks for no abort. Then the source plays the attacker: after the
 * confirmation deadline it asks to abort the committed allocation alone, which the registry refuses.
 */
describe("e2e: a source killed right after its hand-over was accepted", function () {
  this.timeout(300_000);
  const cluster = clusterForSuite({
    mirrorChain: false,
    // the source may ask to abort alone this long after the allocation
    suite: { confirmationTimeout: 15n },
    auction: { commitWindowSec: 6, revealWindowSec: 5, ackTimeoutMs: 10_000 },
    hosts: [
      { name: "source", capacity: { tvmSlots: 4, memoryMiB: 1024 } },
      // the roomier host bids lower (scarcity pricing) and wins; the cramped one is the runner-up that must not get it
      { name: "roomy", capacity: { tvmSlots: 8, memoryMiB: 4096 } },
      { name: "cramped", capacity: { tvmSlots: 2, memoryMiB: 512 } },
    ],
  });
  let chain: ChainConnection;
  let source: ControlClient;
  before(async () => {
    source = await cluster().client("source", 240_000);
    chain = await connectChain({ rpcUrl: cluster().chain.node.url, confirmations: 1, pollIntervalMs: 200, rpcRetries: 3 });
  });
  after(() => chain?.close());

  const tdsOf = async (name: string) => (await cluster().client(name)).get<Placed[]>("/v1/tds");
  /** Polls `read` (every 250 ms) until it gives a value, for at most `timeoutMs`. */
  const until = async <T>(read: () => Promise<T | undefined>, what: string, timeoutMs = 120_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await read();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  it("the destination commits and confirms alone; the restarted source resolves Committed from the chain; its lone abort is refused", async () => {
    const t0 = Date.now();
    const ms = () => Date.now() - t0;
    const timings: Record<string, number> = {};
    const sourceHost = cluster().host("source");
    const roomy = cluster().host("roomy");
    const registry = new AllocationRegistryClient(chain, cluster().chain.addresses.allocationRegistry);

    const td = await source.post<TdView>("/v1/tds", { memoryMiB: 64, vcpus: 2, workload: { bytesPerSecond: 5_000_000, hotSetMiB: 8, seed: 21 } });
    // its guest writes on the source while the migration runs
    await until(async () => ((await tdsOf("source")).find((t) => t.tdId === td.tdId)?.workloadBytesWritten ?? 0) > 0 || undefined, "the guest to write", 30_000);
    const migrating = source.post(`/v1/tds/${td.tdId}/migrate`, {}).then(
      () => undefined,
      (err: unknown) => err,
    );

    // ---- the kill: the destination's engine logs "hand-over accepted" once the verifier checked and journaled the
    // source's hand-over, just before TDH.IMPORT.COMMIT
    const accepted = await waitForLog(roomy.logFile, (r) => r.msg === "hand-over accepted");
    const first = sourceHost.process!;
    const killing = first.kill(); // SIGKILL sent at once; resolves when the process is gone
    const killedAt = Date.now();
    timings.killedAfterAcceptMs = killedAt - Date.parse(String(accepted.time));
    await killing;
    timings.killed = ms();
    expect((await first.exited).signal).to.equal("SIGKILL");
    expect((await migrating) as { code?: string }, "the migrate command loses its host").to.include({ code: "CONTROL_UNREACHABLE" });

    const allocated = (await logRecords(sourceHost.logFile)).find((r) => r.msg === "allocated: starting the live migration");
    expect(allocated, "the source started the live migration").to.not.equal(undefined);
    const allocationId = BigInt(String(allocated!.allocationId));
    expect(allocated!.peer).to.equal(roomy.address);
    // The source died before it saw the outcome: it had no part in the confirmation.
    const sourceLogAtKill = await logRecords(sourceHost.logFile);
    expect(sourceLogAtKill.filter((r) => r.msg === "migration settled on-chain")).to.deep.equal([]);

    // ---- the destination alone: commit, migration.imported, confirm with the hand-over
    const committed = await waitForLog(roomy.logFile, (r) => r.msg === "committed: the TD runs here");
    const confirmed = await waitForLog(roomy.logFile, (r) => r.msg === "migration confirmed on-chain" && String(r.allocationId) === String(allocationId), 60_000);
    timings.confirmed = ms();
    // as the destination's clock (the same machine's) has it, relative to the kill
    timings.destinationCommittedAfterKillMs = Date.parse(String(committed.time)) - killedAt;
    timings.destinationConfirmedAfterKillMs = Date.parse(String(confirmed.time)) - killedAt;
    const roomyLog = await logRecords(roomy.logFile);
    expect(roomyLog.filter((r) => r.msg === "incoming migration failed" || r.msg === "migration aborted on-chain")).to.deep.equal([]);

    const a = await registry.allocation(allocationId);
    expect(a.state).to.equal("Committed");
    expect(a.source).to.equal(sourceHost.address);
    expect(a.destination).to.equal(roomy.address);
    expect(a.tvmId).to.equal(td.tvmId);
    expect(a.abortSettleAt, "no abort was requested").to.equal(0);
    const placement = await registry.currentPlacement(td.tvmId);
    expect(placement.host).to.equal(roomy.address);
    expect(placement.allocationId).to.equal(allocationId);

    // the destination's journal says so too
    const roomyStatus = await (await cluster().client("roomy")).get<StatusView>("/v1/status");
    expect(roomyStatus.migrations.filter((m) => m.allocationId === String(allocationId))).to.deep.equal([
      { allocationId: String(allocationId), role: "destination", status: "Committed", tvmId: td.tvmId, peer: sourceHost.address },
    ]);

    // ---- the escrow: at the confirmation's block the destination holds the price and the source the change
    const receipt = await chain.provider.getTransactionReceipt(String(confirmed.txHash));
    expect(receipt?.status).to.equal(1);
    const credits = receipt!.logs
      .map((l) => registry.contract.interface.parseLog(l))
      .filter((p) => p?.name === "BalanceCredited")
      .map((p) => ({ account: String(p!.args.account), allocationId: p!.args.allocationId as bigint, amount: p!.args.amount as bigint }));
    const change = a.deposit - a.price;
    expect(a.price > 0n && change > 0n, "a price below the reserve leaves change").to.equal(true);
    expect(credits).to.deep.equal([
      { account: roomy.address, allocationId, amount: a.price },
      { account: sourceHost.address, allocationId, amount: change },
    ]);
    const atCommit = { blockTag: receipt!.blockNumber };
    expect(await registry.contract.balanceOf(roomy.address, atCommit)).to.equal(a.price);
    expect(await registry.contract.balanceOf(sourceHost.address, atCommit)).to.equal(change);
    // the destination then withdraws its pay; the source's change waits for it
    await waitForLog(roomy.logFile, (r) => r.msg === "escrow withdrawn" && String(r.allocationId) === String(allocationId), 60_000);
    expect(await registry.balanceOf(roomy.address)).to.equal(0n);
    expect(await registry.balanceOf(sourceHost.address)).to.equal(change);

    // ---- the TD runs on the destination (imported by this allocation) and nowhere else. (The simulated guest
    // workload is a program of the host that created the TD, not part of the TD's state: the migration does not
    // carry it, so the imported TD runs without a writer and only the source's guest is seen writing.)
    const landed = (await tdsOf("roomy")).find((t) => t.tvmId === td.tvmId);
    expect(landed, "TD on the destination").to.not.equal(undefined);
    expect(landed!.running).to.equal(true);
    expect(landed!.origin).to.deep.equal({ kind: "imported", allocationId: String(allocationId), source: sourceHost.address });
    expect((await tdsOf("cramped")).filter((t) => t.tvmId === td.tvmId)).to.deep.equal([]);

    // ---- the source restarted from the same data directory and keystore
    const linesBefore = (await logRecords(sourceHost.logFile)).length;
    const second = await cluster().startHost("source");
    expect(second.pid).to.not.equal(first.pid);
    timings.restarted = ms();
    const restarted = await cluster().client("source", 60_000);
    // its recovery reads the allocation from the chain and journals what the chain says
    await waitForLog(sourceHost.logFile, (r) => r.msg === "allocation already settled on-chain" && String(r.allocationId) === String(allocationId) && r.state === "Committed", 60_000);
    timings.sourceResolved = ms();
    const status = await restarted.get<StatusView>("/v1/status");
    expect(status.pid).to.equal(second.pid);
    expect(status.migrations.filter((m) => m.allocationId === String(allocationId))).to.deep.equal([
      { allocationId: String(allocationId), role: "source", status: "Committed", tvmId: td.tvmId, peer: roomy.address },
    ]);
    const view = await restarted.get<AllocationsView>(`/v1/allocations/${td.tvmId}`);
    expect(view.placement.host).to.equal(roomy.address);
    expect(view.history.map((h) => [h.id, h.state, h.destination])).to.deep.equal([[String(allocationId), "Committed", roomy.address]]);
    // it does not resume the TD, nor offer it again, nor ask to abort
    expect((await restarted.get<TdView[]>("/v1/tds")).filter((t) => t.tvmId === td.tvmId)).to.deep.equal([]);
    const afterRestart = (await logRecords(sourceHost.logFile)).slice(linesBefore);
    const forbidden = ["TD resumed on the source", "offering the TD again", "migration initiated", "auction opened", "abort requested on-chain: the destination may still confirm until the dispute window ends", "migration aborted on-chain", "migration aborted on-chain (dispute window over)"];
    expect(afterRestart.filter((r) => forbidden.includes(String(r.msg))).map((r) => r.msg)).to.deep.equal([]);
    // nor does it call the TD lost: it was handed over. (Whether the first process still journaled its removal
    // after COMMITTED, or the restart finds it in the journal with the hand-over, depends on the kill's timing.)
    expect(afterRestart.filter((r) => r.msg === "TD lost: it ran in the previous process, whose memory is gone").map((r) => r.tvmId)).to.deep.equal([]);
    const removedBefore = (await logRecords(sourceHost.logFile)).slice(0, linesBefore).some((r) => r.msg === "TD removed" && r.tdId === td.tdId);
    const handedOver = afterRestart.filter((r) => r.msg === "TD handed over before the previous process ended: the allocation's outcome on-chain says where it runs" && r.tvmId === td.tvmId);
    expect(removedBefore || handedOver.length === 1, "the TD either left with the first process or is reported handed over").to.equal(true);
    timings.tdRemovedByFirstProcess = removedBefore ? 1 : 0;
    const opened = (await restarted.get<{ opened: { tvmId: string }[] }>("/v1/auctions")).opened.filter((o) => o.tvmId === td.tvmId);
    expect(opened).to.have.length(1);
    expect((await registry.allocation(allocationId)).abortSettleAt).to.equal(0);
    expect(await registry.contract.liveAllocation(td.tvmId), "no new allocation of the TVM").to.equal(0n);

    // ---- the attacker: the source's own key asks to abort alone once the confirmation deadline has passed
    const wallet = await unlockKeystore(join(sourceHost.configFile, "..", "key.json"), DEFAULT_PASSWORD);
    expect(wallet.address).to.equal(sourceHost.address);
    const asSource = new AllocationRegistryClient(chain, registry.address, new TxSender(chain, wallet, { errorInterfaces: SUITE_ERROR_INTERFACES }));
    await until(async () => {
      const block = await chain.provider.getBlock("latest");
      return block && block.timestamp > a.confirmDeadline ? block.timestamp : undefined;
    }, "the chain's time to pass the confirmation deadline", 60_000);
    const refused = async (attempt: () => Promise<unknown>) => {
      try {
        await attempt();
      } catch (err) {
        return err;
      }
      return undefined;
    };
    for (const [what, attempt] of [
      ["abortMigration", () => asSource.abort(allocationId, 999)],
      ["settleAbort", () => asSource.settleAbort(allocationId)],
    ] as const) {
      const err = await refused(attempt);
      expect(err, `${what} of a committed allocation was accepted`).to.not.equal(undefined);
      expect(isTvmxError(err), `${what}: ${String(err)}`).to.equal(true);
      if (!isTvmxError(err)) continue;
      expect(err.code).to.equal("CHAIN_TX_REVERTED");
      expect(err.details.error).to.equal("AllocationRegistryUnexpectedState");
      const args = err.details.args as Record<string, unknown>;
      expect(Object.values(args).map((x) => BigInt(x as bigint))).to.deep.equal([allocationId, ALLOCATION_STATE.Committed, ALLOCATION_STATE.Allocated]);
    }
    const still = await registry.allocation(allocationId);
    expect(still.state).to.equal("Committed");
    expect(still.abortSettleAt, "a refused request opens no dispute window").to.equal(0);
    expect((await registry.currentPlacement(td.tvmId)).host).to.equal(roomy.address);
    const aborts = await registry.contract.queryFilter(registry.contract.filters.MigrationAbortRequested(allocationId));
    expect(aborts).to.deep.equal([]);

    // ---- the change is the restarted source's to withdraw (with its key)
    const withdrawal = await asSource.withdraw();
    const withdrawn = withdrawal.receipt.logs.map((l) => registry.contract.interface.parseLog(l)).find((p) => p?.name === "Withdrawn");
    expect(withdrawn?.args.account).to.equal(sourceHost.address);
    expect(withdrawn?.args.amount).to.equal(change);
    expect(await registry.balanceOf(sourceHost.address)).to.equal(0n);

    // the restarted source still serves, and the TD still runs on the destination
    expect((await tdsOf("roomy")).find((t) => t.tvmId === td.tvmId)?.running).to.equal(true);
    timings.done = ms();
    console.log(`      timings (ms from the start of the test, or as named): ${JSON.stringify(timings)}`);
  });
});
