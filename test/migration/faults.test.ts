import { expect } from "chai";
import { describeEachBackend } from "../tdx/codec-backends.js";
import { createHash } from "node:crypto";
import {
  ConnectionClosedError,
  MigrationConnectionLostError,
  MigrationError,
  MigrationOutcomeUnknownError,
  MigrationRejectedError,
  migrateOut,
  resolveOutgoing,
} from "../../orchestrator/migration/index.js";
import type { IncomingAdmission, IncomingListener, MigrateOutOptions } from "../../orchestrator/migration/index.js";
import { FRAME_TYPE } from "../../orchestrator/migration/frame.js";
import type { Frame } from "../../orchestrator/migration/frame.js";
import {
  ATTRIBUTES,
  GuestWriteSequence,
  MB_TYPE,
  MBMD_OFFSET,
  MBMD_SIZE,
  MIG_EPOCH_START_TOKEN,
  peekMbmdHeader,
  statusName,
  tdMemoryDigest,
  TDX_STATUS,
  XFAM,
} from "../../orchestrator/tdx/index.js";
import type { GuestWorkload, TdxStatus, TrustDomain } from "../../orchestrator/tdx/index.js";
import { FrameProxy, passThrough } from "./fixtures/frame-proxy.js";
import type { FrameContext, FrameRule } from "./fixtures/frame-proxy.js";
import { destinationListener, makeHosts, MiB, rejectionOf, runningTd, startPools, startWorkload, stopPools } from "./fixtures/setup.js";
import type { Hosts, Pools } from "./fixtures/setup.js";

const TD_BYTES = 4 * MiB;
let pools: Pools | undefined;

function mbType(frame: Frame): number | undefined {
  return frame.type === FRAME_TYPE.BUNDLE ? peekMbmdHeader(frame.payload)?.mbType : undefined;
}

function isMem(ctx: FrameContext): boolean {
  return ctx.direction === "forward" && mbType(ctx.frame) === MB_TYPE.MEM;
}

/** The digest the TD's memory must have: its initial image with every guest write replayed on it. */
function expectedMemory(initial: Buffer, workload: GuestWorkload): string {
  const image = Buffer.from(initial);
  GuestWriteSequence.replayInto(image, workload.options, workload.writes);
  return createHash("sha384").update(image).digest("hex");
}

/** A copy of the frame with one bit of its payload flipped. */
function flipped(frame: Frame, offset: number): Frame {
  const payload = Buffer.from(frame.payload);
  payload[offset]! ^= 0x01;
  return { type: frame.type, payload };
}

interface Outcome {
  hosts: Hosts;
  destinationPort: number;
  closeListener: () => Promise<void>;
  error: Error;
  td: TrustDomain;
  memoryBefore: string;
  importError: Error;
  ranBeforeCommit: boolean;
  /** Every state of every import session the destination started. */
  destinationStates: string[];
}

/**
 * Migrates a fresh 4 MiB TD through a man-in-the-middle proxy applying `rule`, expects the migration to fail, and
 * returns the source's error and the destination's.
 */
async function failedMigration(
  rule: FrameRule,
  setup: {
    hosts?: Hosts;
    td?: (hosts: Hosts) => TrustDomain;
    key?: (hosts: Hosts) => Buffer | undefined;
    admission?: (hosts: Hosts) => IncomingAdmission | undefined;
    options?: Partial<MigrateOutOptions>;
    sourceOnly?: boolean;
    proxyRef?: (proxy: FrameProxy) => void;
    /** Leave the destination listening (the caller closes it with `closeListener`). */
    keepListener?: boolean;
  } = {},
): Promise<Outcome> {
  const hosts = setup.hosts ?? makeHosts();
  const keyOverride = setup.key;
  const admission = setup.admission;
  const { listener, ranBeforeCommit, states } = await destinationListener(hosts, {
    pool: pools!.destination,
    ...(keyOverride ? { key: () => keyOverride(hosts) } : {}),
    ...(admission ? { key: () => admission(hosts) } : {}),
  });
  const proxy = await FrameProxy.start({ host: listener.host, port: listener.port }, rule);
  try {
    setup.proxyRef?.(proxy);
    const td = setup.td ? setup.td(hosts) : runningTd(hosts.source, TD_BYTES);
    const memoryBefore = tdMemoryDigest(td).toString("hex");
    const incoming = settle(listener);
    const error = await rejectionOf(() =>
      migrateOut({ td, module: hosts.source.module, peer: { host: "127.0.0.1", port: proxy.port }, key: hosts.key, streams: 2, downtimeTargetMs: 50, pool: pools!.source, ...setup.options }),
    );
    // A migration refused by the source itself never reaches the destination.
    const importError = setup.sourceOnly ? new Error("no import") : await incoming;
    return {
      hosts,
      destinationPort: listener.port,
      closeListener: () => listener.close(),
      error,
      td,
      memoryBefore,
      importError,
      ranBeforeCommit: ranBeforeCommit(),
      destinationStates: [...states.values()].flat(),
    };
  } finally {
    await proxy.close();
    if (!setup.keepListener) await listener.close();
  }
}

/** The destination's outcome for the next migration, which must be a failure. */
async function settle(listener: IncomingListener): Promise<Error> {
  return rejectionOf(() => listener.accept());
}

/** The invariant of every abort: the TD runs on the source, its memory as it was, and can migrate no further harm done. */
function expectResumedIntact(outcome: Outcome): void {
  const { td } = outcome;
  expect(td.lifecycle.kind, "the TD runs on the source again").to.equal("running");
  expect(td.isRunning).to.equal(true);
  expect(tdMemoryDigest(td).toString("hex"), "memory intact").to.equal(outcome.memoryBefore);
  expect(td.guestWrite(0, Buffer.from([1, 2, 3, 4])), "the guest can write again").to.equal(TDX_STATUS.TDX_SUCCESS);
  expect(outcome.ranBeforeCommit, "the destination never ran the TD").to.equal(false);
}

function expectRejected(outcome: Outcome, side: "source" | "destination", status: TdxStatus): void {
  const err = outcome.error;
  expect(err, `${err.name}: ${err.message}`).to.be.instanceOf(MigrationRejectedError);
  const rejected = err as MigrationRejectedError;
  expect(statusName(rejected.status), JSON.stringify(rejected.details, (_, v) => (typeof v === "bigint" ? v.toString(16) : v))).to.equal(statusName(status));
  expect(rejected.side).to.equal(side);
  if (side === "destination") {
    expect(outcome.importError).to.be.instanceOf(MigrationRejectedError);
    expect((outcome.importError as MigrationRejectedError).status).to.equal(status);
  }
  expectResumedIntact(outcome);
}

describeEachBackend("migration engine: bad input and faults", function () {
  this.timeout(30_000);
  before(async () => {
    pools = await startPools();
  });
  after(async () => stopPools(pools));

  it("rejects a flipped ciphertext bit (TDX_INVALID_PAGE_MAC)", async () => {
    let done = false;
    const outcome = await failedMigration((ctx) => {
      if (!done && isMem(ctx)) {
        done = true;
        const numGpas = ctx.frame.payload.readUInt16LE(MBMD_OFFSET.fields);
        return { send: [flipped(ctx.frame, MBMD_SIZE + numGpas * 8 + 100)] };
      }
      return { send: [ctx.frame] };
    });
    expectRejected(outcome, "destination", TDX_STATUS.TDX_INVALID_PAGE_MAC);
  });

  it("rejects a flipped MBMD tag (TDX_INCORRECT_MBMD_MAC)", async () => {
    let done = false;
    const outcome = await failedMigration((ctx) => {
      if (!done && isMem(ctx)) {
        done = true;
        return { send: [flipped(ctx.frame, MBMD_OFFSET.mac + 3)] };
      }
      return { send: [ctx.frame] };
    });
    expectRejected(outcome, "destination", TDX_STATUS.TDX_INCORRECT_MBMD_MAC);
  });

  it("rejects a replayed bundle (TDX_INVALID_MBMD_MB_COUNTER_REPLAYED)", async () => {
    let done = false;
    const outcome = await failedMigration((ctx) => {
      if (!done && isMem(ctx)) {
        done = true;
        return { send: [ctx.frame, ctx.frame] };
      }
      return { send: [ctx.frame] };
    });
    expectRejected(outcome, "destination", TDX_STATUS.TDX_INVALID_MBMD_MB_COUNTER_REPLAYED);
  });

  it("rejects a reordered bundle (TDX_INVALID_MBMD_MB_COUNTER_OUT_OF_ORDER)", async () => {
    let held: Frame | undefined;
    let done = false;
    const outcome = await failedMigration((ctx) => {
      if (!done && isMem(ctx) && ctx.connection === 0) {
        if (!held) {
          held = ctx.frame;
          return { send: [] };
        }
        done = true;
        return { send: [ctx.frame, held] };
      }
      return { send: [ctx.frame] };
    });
    expectRejected(outcome, "destination", TDX_STATUS.TDX_INVALID_MBMD_MB_COUNTER_OUT_OF_ORDER);
  });

  it("rejects a bundle from an old epoch (TDX_INVALID_MBMD_MIG_EPOCH_OLD)", async () => {
    // Stream 1's last epoch-0 bundle is held back past the end of that epoch and delivered in the next one.
    let held: Frame | undefined;
    let released = false;
    const outcome = await failedMigration((ctx) => {
      if (ctx.direction !== "forward" || ctx.connection !== 1 || released) return { send: [ctx.frame] };
      if (isMem(ctx)) {
        const out = held ? [held] : [];
        held = ctx.frame;
        return { send: out };
      }
      if (ctx.frame.type === FRAME_TYPE.EPOCH_MARK && held) {
        released = true;
        return { send: [ctx.frame, held] };
      }
      return { send: [ctx.frame] };
    });
    expectRejected(outcome, "destination", TDX_STATUS.TDX_INVALID_MBMD_MIG_EPOCH_OLD);
  });

  it("rejects a missing bundle when the start token's total does not match (TDX_IMPORT_MISMATCH_TOTAL_MB)", async () => {
    // Drop stream 1's last memory bundle: nothing follows it on stream 1, so only the start token's count can tell.
    let held: Frame | undefined;
    const outcome = await failedMigration((ctx) => {
      if (ctx.direction !== "forward" || ctx.connection !== 1) return { send: [ctx.frame] };
      if (isMem(ctx)) {
        const out = held ? [held] : [];
        held = ctx.frame;
        return { send: out };
      }
      held = undefined; // the bundle before an EPOCH_MARK is dropped
      return { send: [ctx.frame] };
    });
    expectRejected(outcome, "destination", TDX_STATUS.TDX_IMPORT_MISMATCH_TOTAL_MB);
  });

  // A wrong or missing key no longer reaches TDX on the destination: the HELLO must prove the key before any import
  // TD exists (test/tdx covers TDX_INVALID_MIGRATION_DECRYPTION_KEY and _NOT_SET at the leaves).
  it("refuses the HELLO of a source holding another session key, before any import TD exists (MIGRATION_HELLO_UNAUTHENTICATED)", async () => {
    const outcome = await failedMigration(passThrough, { key: () => Buffer.alloc(32, 0x5a), sourceOnly: true });
    expect((outcome.error as MigrationError).code).to.equal("MIGRATION_HELLO_UNAUTHENTICATED");
    expect(outcome.destinationStates, "no import session was started").to.deep.equal([]);
    expectResumedIntact(outcome);
  });

  it("refuses a migration the destination has no key for, before any import TD exists (MIGRATION_NOT_ADMITTED)", async () => {
    const outcome = await failedMigration(passThrough, { key: () => undefined, sourceOnly: true });
    expect((outcome.error as MigrationError).code).to.equal("MIGRATION_NOT_ADMITTED");
    expect(outcome.destinationStates).to.deep.equal([]);
    expectResumedIntact(outcome);
  });

  it("refuses a HELLO whose memory size is not the admitted one (MIGRATION_HELLO_MEMORY_MISMATCH)", async () => {
    const outcome = await failedMigration(passThrough, { admission: (h) => ({ key: h.key, memoryBytes: 4 * 1024 ** 3 }), sourceOnly: true });
    expect((outcome.error as MigrationError).code).to.equal("MIGRATION_HELLO_MEMORY_MISMATCH");
    expect(outcome.destinationStates).to.deep.equal([]);
    expectResumedIntact(outcome);
  });

  it("refuses to export a TD without ATTRIBUTES.MIGRATABLE (TDX_TD_NOT_MIGRATABLE)", async () => {
    const outcome = await failedMigration(passThrough, {
      td: (h) => runningTd(h.source, TD_BYTES, { attributes: ATTRIBUTES.SEPT_VE_DISABLE }),
      sourceOnly: true,
    });
    expectRejected(outcome, "source", TDX_STATUS.TDX_TD_NOT_MIGRATABLE);
  });

  it("rejects a destination whose platform lacks the TD's XFAM features (TDX_IMPORT_XFAM_UNSUPPORTED)", async () => {
    const hosts = makeHosts({}, { supportedXfam: XFAM.X87 | XFAM.SSE });
    const outcome = await failedMigration(passThrough, { hosts, td: (h) => runningTd(h.source, TD_BYTES, { xfam: XFAM.X87 | XFAM.SSE | XFAM.AVX }) });
    expectRejected(outcome, "destination", TDX_STATUS.TDX_IMPORT_XFAM_UNSUPPORTED);
  });

  it("rejects a TDX migration version the destination cannot import (TDX_MIG_VERSION_UNSUPPORTED)", async () => {
    const hosts = makeHosts({}, { migrationVersions: { importMin: 2, importMax: 3, exportMin: 2, exportMax: 3 } });
    const outcome = await failedMigration(passThrough, { hosts });
    expectRejected(outcome, "destination", TDX_STATUS.TDX_MIG_VERSION_UNSUPPORTED);
  });

  describe("a connection cut", () => {
    it("in pre-copy: the source aborts on its own and the TD keeps running", async () => {
      // The cut comes at the end of the first round (the guest keeps dirtying pages, so a second round follows).
      let proxy: FrameProxy | undefined;
      let workload: GuestWorkload | undefined;
      let td: TrustDomain | undefined;
      let initial: Buffer | undefined;
      const outcome = await failedMigration(passThrough, {
        proxyRef: (p) => (proxy = p),
        td: (h) => {
          td = runningTd(h.source, TD_BYTES);
          initial = Buffer.from(td.memory);
          workload = startWorkload(td, 16 * MiB, 1 * MiB);
          return td;
        },
        options: {
          downtimeTargetMs: 0.001,
          onProgress: (p) => {
            if (p.phase === "precopy" && p.round === 1) {
              workload?.stop();
              proxy!.cutAll();
            }
          },
        },
      });
      workload!.stop();
      outcome.memoryBefore = expectedMemory(initial!, workload!);
      expect(outcome.error).to.be.instanceOf(MigrationConnectionLostError);
      expect((outcome.error as MigrationConnectionLostError).phase).to.equal("precopy");
      expectResumedIntact(outcome);
    });

    it("in the blackout: the paused TD resumes on the source", async () => {
      // The guest dirties pages during pre-copy, so the blackout has memory to export; the cut comes the moment
      // the source pauses the TD, and the source notices it while the last pages are being exported.
      let proxy: FrameProxy | undefined;
      let workload: GuestWorkload | undefined;
      let pausedTd: TrustDomain | undefined;
      let initial: Buffer | undefined;
      const outcome = await failedMigration(passThrough, {
        proxyRef: (p) => (proxy = p),
        td: (h) => {
          pausedTd = runningTd(h.source, TD_BYTES);
          initial = Buffer.from(pausedTd.memory);
          workload = startWorkload(pausedTd, 16 * MiB, 1 * MiB);
          return pausedTd;
        },
        options: {
          downtimeTargetMs: 60_000,
          onProgress: (p) => {
            if (p.phase === "blackout") {
              workload?.stop();
              proxy!.cutAll();
            }
          },
        },
      });
      workload!.stop();
      outcome.memoryBefore = expectedMemory(initial!, workload!);
      expect(outcome.error).to.be.instanceOf(MigrationConnectionLostError);
      expect((outcome.error as MigrationConnectionLostError).phase).to.equal("blackout");
      expectResumedIntact(outcome);
    });

    it("after the start token, before commit: the source resumes only with the destination's abort token", async () => {
      let startTokenSeen = false;
      const outcome = await failedMigration((ctx) => {
        if (ctx.direction === "forward" && mbType(ctx.frame) === MB_TYPE.EPOCH_TOKEN && peekMbmdHeader(ctx.frame.payload)!.migEpoch === MIG_EPOCH_START_TOKEN) {
          startTokenSeen = true;
        }
        if (ctx.direction === "forward" && ctx.frame.type === FRAME_TYPE.COMMIT) return { send: [], cut: true };
        return { send: [ctx.frame] };
      });
      expect(startTokenSeen).to.equal(true);
      expect(outcome.error).to.be.instanceOf(MigrationConnectionLostError);
      expect((outcome.error as MigrationConnectionLostError).phase).to.equal("awaiting-commit");
      expectResumedIntact(outcome);
    });

    it("after the start token, with the destination unreachable: the source stays paused until the destination's decision is known", async () => {
      let proxy: FrameProxy | undefined;
      const outcome = await failedMigration(
        (ctx) => {
          if (ctx.direction === "forward" && ctx.frame.type === FRAME_TYPE.COMMIT) {
            // Cut, and take the destination off the network: recovery cannot reach it.
            setImmediate(() => void proxy!.close());
            return { send: [], cut: true };
          }
          return { send: [ctx.frame] };
        },
        { proxyRef: (p) => (proxy = p), keepListener: true, options: { recoveryAttempts: 2, connectTimeoutMs: 500 } },
      );
      expect(outcome.error).to.be.instanceOf(MigrationOutcomeUnknownError);
      expect(outcome.td.isRunning, "the source did not resume without the abort token").to.equal(false);
      expect(outcome.td.lifecycle.kind).to.equal("exported");
      expect(outcome.ranBeforeCommit).to.equal(false);
      // The destination aborted its import when the connection was cut: the TD runs nowhere until an operator
      // (or a later recovery) brings the destination's abort token.
      expect(outcome.importError).to.be.instanceOf(ConnectionClosedError);
      const migrationId = (outcome.error as MigrationOutcomeUnknownError).details.migrationId as string;
      // Once the destination is reachable again, its decision (it aborted) lets the source resume.
      const again = await destinationListener(outcome.hosts, { pool: pools!.destination });
      try {
        // A different listener does not know the migration: still no decision, the TD stays paused.
        const err = await rejectionOf(() =>
          resolveOutgoing({ td: outcome.td, module: outcome.hosts.source.module, peer: { host: "127.0.0.1", port: again.listener.port }, migrationId, key: outcome.hosts.key }),
        );
        expect(err).to.be.instanceOf(MigrationOutcomeUnknownError);
        expect(outcome.td.isRunning).to.equal(false);
      } finally {
        await again.listener.close();
      }
      try {
        const resolved = await resolveOutgoing({ td: outcome.td, module: outcome.hosts.source.module, peer: { host: "127.0.0.1", port: outcome.destinationPort }, migrationId, key: outcome.hosts.key });
        expect(resolved).to.equal("resumed");
        expect(outcome.td.isRunning).to.equal(true);
        expect(tdMemoryDigest(outcome.td).toString("hex"), "memory intact").to.equal(outcome.memoryBefore);
      } finally {
        await outcome.closeListener();
      }
    });
  });
});
