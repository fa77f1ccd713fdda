import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AllocationRegistryClient, MirrorRecord } from "../../orchestrator/chain/index.js";
import { owe, pendingMirrors, recordUntilLanded, type PendingMirror } from "../../orchestrator/host/mirror-settlement.js";
import { HostJournal } from "../../orchestrator/journal/index.js";
import { nullLogger } from "../../orchestrator/log/index.js";

const PENDING: PendingMirror = {
  allocationId: 4n,
  migrationId: `0x${"ab".repeat(32)}`,
  sourceChainId: 31337n,
  sourceTxHash: `0x${"cd".repeat(32)}`,
  tvmId: `0x${"11".repeat(32)}`,
  source: "0x00000000000000000000000000000000000000a1",
  destination: "0x00000000000000000000000000000000000000b2",
  price: 5n,
  configHash: `0x${"22".repeat(32)}`,
  outcome: "Committed",
};

/** A mirror chain that fails the first `failures` calls (reads and sends alike), then records. */
function flakyMirrorChain(failures: number) {
  const recorded: MirrorRecord[] = [];
  let calls = 0;
  const fail = () => {
    if (calls++ < failures) throw new Error("connect ECONNREFUSED (mirror chain down)");
  };
  const client = {
    chainId: 31338n,
    mirrored: async (chainId: bigint, id: bigint, destination: string) => {
      fail();
      const r = recorded.find((m) => m.sourceChainId === chainId && m.sourceAllocationId === id && m.destination === destination);
      return r ? { ...r, recordedBy: r.destination, recordedAt: 1 } : undefined;
    },
    recordMirror: async (record: MirrorRecord) => {
      fail();
      recorded.push(record);
      return { hash: `0x${"ef".repeat(32)}`, blockNumber: 9 };
    },
  };
  return { client: client as unknown as AllocationRegistryClient, recorded, calls: () => calls };
}

describe("host/mirror settlement", () => {
  let dir: string;
  let journal: HostJournal;
  const controller = new AbortController();
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "tvmx-mirror-"));
    journal = await HostJournal.open(dir);
  });
  afterEach(async () => {
    await journal.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("journals the mirror as owed, retries through an outage and journals it recorded", async () => {
    const chain = flakyMirrorChain(3);
    const tx = await owe({ mirror: chain.client, journal, logger: nullLogger, signal: controller.signal, backoff: { baseMs: 1, maxMs: 5 } }, PENDING);
    expect(tx).to.equal(`0x${"ef".repeat(32)}`);
    expect(chain.recorded).to.have.length(1);
    expect(chain.recorded[0]).to.deep.include({ sourceAllocationId: 4n, destination: PENDING.destination, price: 5n });
    expect(journal.state.mirrors.get(4n)).to.deep.include({ status: "recorded", txHash: tx });
    expect(pendingMirrors(journal)).to.deep.equal([]);
  });

  it("leaves the mirror pending when the host stops, and a restarted host records it once", async () => {
    const down = flakyMirrorChain(Number.POSITIVE_INFINITY);
    const stopping = new AbortController();
    const attempt = owe({ mirror: down.client, journal, logger: nullLogger, signal: stopping.signal, backoff: { baseMs: 5, maxMs: 5 } }, PENDING);
    await new Promise((r) => setTimeout(r, 30));
    stopping.abort();
    expect(await attempt).to.equal(undefined);
    await journal.close();
    journal = await HostJournal.open(dir);
    expect(pendingMirrors(journal)).to.deep.equal([4n]);
    const up = flakyMirrorChain(0);
    await recordUntilLanded({ mirror: up.client, journal, logger: nullLogger, signal: controller.signal }, 4n);
    // already there (a lost receipt of an earlier attempt): journaled recorded without sending again
    await journal.record({ type: "mirror.pending", ...PENDING, allocationId: 5n });
    up.recorded.push({ ...PENDING, outcome: "Committed", sourceAllocationId: 5n });
    await recordUntilLanded({ mirror: up.client, journal, logger: nullLogger, signal: controller.signal }, 5n);
    expect(up.recorded.map((r) => r.sourceAllocationId)).to.deep.equal([4n, 5n]);
    expect(journal.state.mirrors.get(5n)?.status).to.equal("recorded");
    expect(pendingMirrors(journal)).to.deep.equal([]);
  });

  it("records its own mirror when another host squatted the same allocation naming itself (keys include the destination)", async () => {
    const up = flakyMirrorChain(0);
    up.recorded.push({ ...PENDING, outcome: "Committed", sourceAllocationId: PENDING.allocationId, destination: "0x00000000000000000000000000000000000000c3" });
    const tx = await owe({ mirror: up.client, journal, logger: nullLogger, signal: controller.signal }, PENDING);
    expect(tx).to.equal(`0x${"ef".repeat(32)}`);
    expect(up.recorded.map((r) => r.destination)).to.deep.equal(["0x00000000000000000000000000000000000000c3", PENDING.destination]);
  });

  it("records an aborted allocation's mirror with its outcome, and one journaled before outcomes were kept as Committed", async () => {
    const up = flakyMirrorChain(0);
    await owe({ mirror: up.client, journal, logger: nullLogger, signal: controller.signal }, { ...PENDING, outcome: "Aborted" });
    const { outcome: _o, ...old } = PENDING;
    await owe({ mirror: up.client, journal, logger: nullLogger, signal: controller.signal }, { ...old, allocationId: 6n });
    expect(up.recorded.map((r) => [r.sourceAllocationId, r.outcome])).to.deep.equal([[4n, "Aborted"], [6n, "Committed"]]);
  });

  it("does not send (nor retry) a mirror whose mirror chain is the auction chain itself: the registry refuses it", async () => {
    const same = flakyMirrorChain(0);
    const tx = await owe({ mirror: same.client, journal, logger: nullLogger, signal: controller.signal }, { ...PENDING, sourceChainId: 31338n });
    expect(tx).to.equal(undefined);
    expect(same.calls()).to.equal(0);
    expect(journal.state.mirrors.get(4n)?.status).to.equal("pending");
  });
});
