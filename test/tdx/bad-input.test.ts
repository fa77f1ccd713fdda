import { randomBytes } from "node:crypto";
import { expect } from "chai";
import {
  ATTRIBUTES,
  GPA_LIST_ENTRY_SIZE,
  MBMD_SIZE,
  PAGE_SIZE,
  tdMemoryDigest,
  TDX_STATUS,
  XFAM,
  type TdxStatus,
} from "../../orchestrator/tdx/index.js";
import { expectStatus, flipBit, MigrationSession, type Sent, type SessionOptions } from "./harness.js";
import { describeEachBackend } from "./codec-backends.js";

/**
 * Each bad input is fed at the leaf level: the destination rejects it with its own status, the migration is
 * aborted, and the TD keeps running on the source with its memory intact.
 */

function begin(options: SessionOptions = {}): { m: MigrationSession; before: Buffer; pre: Sent[] } {
  const m = new MigrationSession({ memoryPages: 48, vcpus: 1, streams: 2, ...options });
  const before = tdMemoryDigest(m.td);
  m.setup();
  return { m, before, pre: [m.exportImmutable(), ...m.firstEpoch(8)] };
}

/** The source aborts (with the destination's abort token once the start token is out) and runs on, memory intact. */
function expectSourceSurvives(m: MigrationSession, before: Buffer): void {
  if (m.td.lifecycle.kind === "exported") {
    const token = m.dst.importAbort(m.dtd, m.d[0]!);
    expectStatus(token.status, TDX_STATUS.TDX_SUCCESS);
    expectStatus(m.src.exportAbort(m.td, m.s[0]!, { abortToken: token.bundle! }).status, TDX_STATUS.TDX_SUCCESS);
  } else {
    expectStatus(m.src.exportAbort(m.td, m.s[0]!).status, TDX_STATUS.TDX_SUCCESS);
  }
  expect(m.td.lifecycle.kind).to.equal("running");
  expectStatus(m.src.exportRestore(m.td).status, TDX_STATUS.TDX_SUCCESS);
  expect(tdMemoryDigest(m.td).equals(before)).to.equal(true);
  expectStatus(m.td.guestWrite(3 * PAGE_SIZE, Buffer.alloc(16, 0x5a)), TDX_STATUS.TDX_SUCCESS);
  // The destination never runs this TD.
  expectStatus(m.dst.importCommit(m.dtd).status, TDX_STATUS.TDX_OP_STATE_INCORRECT);
}

/** Imports `pre` up to the first memory bundle on `stream`, returns that bundle's index in `pre`. */
function importUntilMem(m: MigrationSession, pre: Sent[], stream = 0): number {
  for (let i = 0; i < pre.length; i++) {
    if (i > 0 && pre[i]!.stream === stream) return i;
    expectStatus(m.importOne(pre[i]!), TDX_STATUS.TDX_SUCCESS);
  }
  throw new Error("no memory bundle on that stream");
}

function rejects(m: MigrationSession, sent: Sent, status: TdxStatus, fatal = true): void {
  expectStatus(m.importOne(sent), status);
  expect(m.dtd.lifecycle.kind).to.equal(fatal ? "import-failed" : "importing");
}

describeEachBackend("bad input at the leaf level", () => {
  it("a flipped ciphertext bit: TDX_INVALID_PAGE_MAC", () => {
    const { m, before, pre } = begin();
    const i = importUntilMem(m, pre);
    const pagesAt = MBMD_SIZE + 8 * GPA_LIST_ENTRY_SIZE;
    rejects(m, { ...pre[i]!, bundle: flipBit(pre[i]!.bundle, pagesAt + 3 * PAGE_SIZE + 100, 3) }, TDX_STATUS.TDX_INVALID_PAGE_MAC);
    expectSourceSurvives(m, before);
  });

  it("a flipped page tag: TDX_INVALID_PAGE_MAC", () => {
    const { m, before, pre } = begin();
    const i = importUntilMem(m, pre);
    const b = pre[i]!.bundle;
    rejects(m, { ...pre[i]!, bundle: flipBit(b, b.length - 1, 7) }, TDX_STATUS.TDX_INVALID_PAGE_MAC);
    expectSourceSurvives(m, before);
  });

  it("a flipped MBMD tag: TDX_INCORRECT_MBMD_MAC", () => {
    const { m, before, pre } = begin();
    const i = importUntilMem(m, pre);
    rejects(m, { ...pre[i]!, bundle: flipBit(pre[i]!.bundle, 35) }, TDX_STATUS.TDX_INCORRECT_MBMD_MAC);
    expectSourceSurvives(m, before);
  });

  it("a flipped GPA-list bit (authenticated by the MBMD MAC): TDX_INCORRECT_MBMD_MAC", () => {
    const { m, before, pre } = begin();
    const i = importUntilMem(m, pre);
    rejects(m, { ...pre[i]!, bundle: flipBit(pre[i]!.bundle, MBMD_SIZE + 1, 4) }, TDX_STATUS.TDX_INCORRECT_MBMD_MAC);
    expectSourceSurvives(m, before);
  });

  it("a replayed bundle: TDX_INVALID_MBMD_MB_COUNTER_REPLAYED", () => {
    const { m, before, pre } = begin();
    const i = importUntilMem(m, pre);
    expectStatus(m.importOne(pre[i]!), TDX_STATUS.TDX_SUCCESS);
    rejects(m, pre[i]!, TDX_STATUS.TDX_INVALID_MBMD_MB_COUNTER_REPLAYED);
    expectSourceSurvives(m, before);
  });

  it("a reordered bundle: TDX_INVALID_MBMD_MB_COUNTER_OUT_OF_ORDER", () => {
    const { m, before, pre } = begin();
    const i = importUntilMem(m, pre);
    const later = pre.findIndex((x, j) => j > i && x.stream === pre[i]!.stream);
    rejects(m, pre[later]!, TDX_STATUS.TDX_INVALID_MBMD_MB_COUNTER_OUT_OF_ORDER);
    expectSourceSurvives(m, before);
  });

  it("a bundle from an old epoch: TDX_INVALID_MBMD_MIG_EPOCH_OLD", () => {
    const { m, before, pre } = begin();
    // All of stream 0 and the epoch token first; stream 1's bundles of epoch 0 then arrive too late.
    for (const x of pre.filter((s) => s.stream === 0)) expectStatus(m.importOne(x), TDX_STATUS.TDX_SUCCESS);
    expectStatus(m.importOne(m.track(0)), TDX_STATUS.TDX_SUCCESS);
    rejects(m, pre.find((s) => s.stream === 1)!, TDX_STATUS.TDX_INVALID_MBMD_MIG_EPOCH_OLD);
    expectSourceSurvives(m, before);
  });

  it("a lost epoch token: the next one is out of order (TDX_INVALID_MBMD_MB_COUNTER_OUT_OF_ORDER)", () => {
    const { m, before, pre } = begin({ streams: 1 });
    m.importAll(pre);
    m.track(0); // lost
    rejects(m, m.track(0), TDX_STATUS.TDX_INVALID_MBMD_MB_COUNTER_OUT_OF_ORDER);
    expectSourceSurvives(m, before);
  });

  it("a missing bundle (count mismatch at the start token): TDX_IMPORT_MISMATCH_TOTAL_MB", () => {
    const { m, before, pre } = begin();
    const lastOnStream1 = pre.map((x) => x.stream).lastIndexOf(1);
    m.importAll(pre.filter((_, i) => i !== lastOnStream1));
    const blackout = m.blackout();
    expect(blackout.every((x) => x.stream === 0)).to.equal(true);
    m.importAll(blackout.slice(0, -1));
    rejects(m, blackout.at(-1)!, TDX_STATUS.TDX_IMPORT_MISMATCH_TOTAL_MB);
    expectSourceSurvives(m, before);
  });

  it("a page imported twice in one epoch: TDX_MIGRATED_IN_CURRENT_EPOCH", () => {
    const { m, before, pre } = begin();
    // A second source TD sealed with the same key exports page 0 again on stream 1 (a forged duplicate).
    const twin = m.source.createTd({ memoryBytes: m.td.memoryBytes, numVcpus: 1 });
    m.src.setMigrationKey(twin, m.key, 1);
    const t0 = m.src.streamCreate(twin, 0).stream!;
    const t1 = m.src.streamCreate(twin, 1).stream!;
    m.src.exportStateImmutable(twin, t0);
    m.src.exportBlockwAll(twin);
    const dup = m.src.exportMem(twin, t1, [0]);
    expectStatus(dup.status, TDX_STATUS.TDX_SUCCESS);
    for (const x of pre.filter((s) => s.stream === 0)) expectStatus(m.importOne(x), TDX_STATUS.TDX_SUCCESS); // page 0 is on stream 0
    rejects(m, { stream: 1, bundle: dup.bundle! }, TDX_STATUS.TDX_MIGRATED_IN_CURRENT_EPOCH);
    expectSourceSurvives(m, before);
  });

  it("a forward bundle with a backward-direction IV counter: TDX_INVALID_MBMD_IV_COUNTER", () => {
    const { m, before, pre } = begin();
    const i = importUntilMem(m, pre);
    rejects(m, { ...pre[i]!, bundle: flipBit(pre[i]!.bundle, 23, 7) }, TDX_STATUS.TDX_INVALID_MBMD_IV_COUNTER);
    expectSourceSurvives(m, before);
  });

  it("an abort token without the backward-direction IV bit is refused by the source", () => {
    const { m, before, pre } = begin({ streams: 1 });
    m.importAll(pre);
    const blackout = m.blackout();
    m.importAll(blackout);
    const token = m.dst.importAbort(m.dtd, m.d[0]!);
    expect(token.bundle!.readBigUInt64LE(16) >> 63n).to.equal(1n);
    expectStatus(m.src.exportAbort(m.td, m.s[0]!, { abortToken: flipBit(token.bundle!, 23, 7) }).status, TDX_STATUS.TDX_INVALID_MBMD_IV_COUNTER);
    expectStatus(m.src.exportAbort(m.td, m.s[0]!, { abortToken: pre[1]!.bundle }).status, TDX_STATUS.TDX_INVALID_MBMD_LENGTH);
    expectStatus(m.src.exportAbort(m.td, m.s[0]!, { abortToken: blackout.at(-1)!.bundle }).status, TDX_STATUS.TDX_BUNDLE_TYPE_UNEXPECTED);
    expect(m.td.lifecycle.kind).to.equal("exported");
    expectStatus(m.src.exportAbort(m.td, m.s[0]!, { abortToken: token.bundle! }).status, TDX_STATUS.TDX_SUCCESS);
    expectStatus(m.src.exportRestore(m.td).status, TDX_STATUS.TDX_SUCCESS);
    expect(tdMemoryDigest(m.td).equals(before)).to.equal(true);
  });

  describe("a memory bundle with a malformed MBMD field is rejected by TDH.IMPORT.MEM", () => {
    const cases: [string, (b: Buffer) => void, TdxStatus][] = [
      ["size", (b) => b.writeUInt16LE(47, 0), TDX_STATUS.TDX_INVALID_MBMD_SIZE],
      ["reserved byte", (b) => (b[7] = 1), TDX_STATUS.TDX_INVALID_MBMD_RESERVED],
      ["reserved type-field bits", (b) => (b[30] = 1), TDX_STATUS.TDX_INVALID_MBMD_FIELDS_RESERVED],
      ["unknown mb_type", (b) => (b[6] = 17), TDX_STATUS.TDX_INVALID_MBMD_MB_TYPE],
      ["migs_index of another stream", (b) => b.writeUInt16LE(1, 4), TDX_STATUS.TDX_INVALID_MBMD_MIGS_INDEX],
      ["mig_version", (b) => b.writeUInt16LE(0, 2), TDX_STATUS.TDX_INVALID_MBMD_MIG_VERSION],
      ["num_gpas above 512", (b) => b.writeUInt16LE(513, 24), TDX_STATUS.TDX_INVALID_MBMD_NUM_GPAS],
      ["num_gpas not matching the length", (b) => b.writeUInt16LE(7, 24), TDX_STATUS.TDX_INVALID_MBMD_LENGTH],
    ];
    for (const [field, mutate, status] of cases) {
      it(field, () => {
        const { m, before, pre } = begin();
        const i = importUntilMem(m, pre, 0);
        const bad = Buffer.from(pre[i]!.bundle);
        mutate(bad);
        rejects(m, { stream: 0, bundle: bad }, status);
        expectSourceSurvives(m, before);
      });
    }
  });

  it("a truncated bundle: TDX_INVALID_MBMD_LENGTH", () => {
    const { m, before, pre } = begin();
    const i = importUntilMem(m, pre);
    rejects(m, { ...pre[i]!, bundle: pre[i]!.bundle.subarray(0, pre[i]!.bundle.length - 1) }, TDX_STATUS.TDX_INVALID_MBMD_LENGTH);
    expectSourceSurvives(m, before);
  });

  it("a wrong key: TDX_INVALID_MIGRATION_DECRYPTION_KEY on the first bundle", () => {
    const { m, before, pre } = begin({ wrongKey: true });
    rejects(m, pre[0]!, TDX_STATUS.TDX_INVALID_MIGRATION_DECRYPTION_KEY);
    expectSourceSurvives(m, before);
  });

  it("a missing key: TDX_MIGRATION_DECRYPTION_KEY_NOT_SET, and nothing is consumed", () => {
    const { m, before, pre } = begin({ noDestinationKey: true });
    rejects(m, pre[0]!, TDX_STATUS.TDX_MIGRATION_DECRYPTION_KEY_NOT_SET, false);
    expect(m.dtd.lifecycle).to.deep.equal({ kind: "importing", phase: "awaiting-immutable", epoch: 0 });
    // Once the key is installed the very same bundle imports.
    expectStatus(m.dst.setMigrationKey(m.dtd, m.key, 1).status, TDX_STATUS.TDX_SUCCESS);
    expectStatus(m.importOne(pre[0]!), TDX_STATUS.TDX_SUCCESS);
    expectStatus(m.dst.importAbort(m.dtd, m.d[0]!).status, TDX_STATUS.TDX_SUCCESS);
    expectSourceSurvives(m, before);
  });

  it("a missing key on the source: TDX_MIGRATION_DECRYPTION_KEY_NOT_SET", () => {
    const m = new MigrationSession({ memoryPages: 16, vcpus: 1 });
    const s = m.src.streamCreate(m.td, 0).stream!;
    expectStatus(m.src.exportStateImmutable(m.td, s).status, TDX_STATUS.TDX_MIGRATION_DECRYPTION_KEY_NOT_SET);
    expect(m.td.lifecycle.kind).to.equal("running");
  });

  it("a non-migratable TD: TDX_TD_NOT_MIGRATABLE", () => {
    const m = new MigrationSession({ memoryPages: 16, vcpus: 1, attributes: ATTRIBUTES.DEBUG });
    expectStatus(m.src.setMigrationKey(m.td, m.key, 1).status, TDX_STATUS.TDX_SUCCESS);
    const s = m.src.streamCreate(m.td, 0).stream!;
    expectStatus(m.src.exportStateImmutable(m.td, s).status, TDX_STATUS.TDX_TD_NOT_MIGRATABLE);
    expectStatus(m.src.migInitiate(m.td).status, TDX_STATUS.TDX_TD_NOT_MIGRATABLE);
    expect(m.td.lifecycle.kind).to.equal("running");
  });

  describe("an incompatible destination", () => {
    const cases: [string, SessionOptions, TdxStatus][] = [
      ["XFAM it cannot offer", { xfam: XFAM.X87 | XFAM.SSE | XFAM.AVX | XFAM.AMX_TILECFG | XFAM.AMX_TILEDATA, destination: { supportedXfam: XFAM.X87 | XFAM.SSE | XFAM.AVX } }, TDX_STATUS.TDX_IMPORT_XFAM_UNSUPPORTED],
      ["ATTRIBUTES it cannot offer", { attributes: ATTRIBUTES.MIGRATABLE | ATTRIBUTES.PKS, destination: { supportedAttributes: ATTRIBUTES.MIGRATABLE } }, TDX_STATUS.TDX_IMPORT_ATTRIBUTES_UNSUPPORTED],
      ["an older TEE_TCB_SVN", { destination: { teeTcbSvnRest: Buffer.alloc(14, 1) } }, TDX_STATUS.TDX_IMPORT_TCB_INSUFFICIENT],
      ["an older TDX module", { destination: { moduleVersion: { major: 1, minor: 4 }, moduleSvn: { major: 9, minor: 9 } } }, TDX_STATUS.TDX_IMPORT_MODULE_VERSION_INSUFFICIENT],
      ["fewer CPUID features", { destination: { cpuidFeatures: 0xffn } }, TDX_STATUS.TDX_IMPORT_CPUID_INCOMPATIBLE],
    ];
    for (const [what, options, status] of cases) {
      it(`with ${what}: rejected at STATE.IMMUTABLE`, () => {
        const { m, before, pre } = begin(options);
        rejects(m, pre[0]!, status);
        expectSourceSurvives(m, before);
      });
    }

    it("with fewer streams than the source uses: TDX_NUM_MIGS_HIGHER_THAN_CREATED", () => {
      const { m, before, pre } = begin({ streams: 2 });
      const other = m.destination.createImportTd({ memoryBytes: m.td.memoryBytes, numVcpus: 1 });
      m.dst.setMigrationKey(other, m.key, 1);
      const s = m.dst.streamCreate(other, 0).stream!;
      expectStatus(m.dst.importStateImmutable(other, s, pre[0]!.bundle).status, TDX_STATUS.TDX_NUM_MIGS_HIGHER_THAN_CREATED);
      expectSourceSurvives(m, before);
    });

    it("prepared with another vCPU count: TDX_IMPORT_MISMATCH_VCPU_COUNT", () => {
      const { m, before, pre } = begin({ vcpus: 2 });
      const other = m.destination.createImportTd({ memoryBytes: m.td.memoryBytes, numVcpus: 3 });
      m.dst.setMigrationKey(other, m.key, 1);
      const s = m.dst.streamCreate(other, 0).stream!;
      m.dst.streamCreate(other, 1);
      expectStatus(m.dst.importStateImmutable(other, s, pre[0]!.bundle).status, TDX_STATUS.TDX_IMPORT_MISMATCH_VCPU_COUNT);
      expect(other.lifecycle.kind).to.equal("import-failed");
      expectSourceSurvives(m, before);
    });

    it("prepared with another memory size: TDX_IMPORT_MISMATCH_MEMORY_SIZE", () => {
      const { m, before, pre } = begin();
      const other = m.destination.createImportTd({ memoryBytes: m.td.memoryBytes * 2, numVcpus: 1 });
      m.dst.setMigrationKey(other, m.key, 1);
      const s = m.dst.streamCreate(other, 0).stream!;
      m.dst.streamCreate(other, 1);
      expectStatus(m.dst.importStateImmutable(other, s, pre[0]!.bundle).status, TDX_STATUS.TDX_IMPORT_MISMATCH_MEMORY_SIZE);
      expectSourceSurvives(m, before);
    });
  });

  it("a migration version mismatch: TDX_INVALID_MBMD_MIG_VERSION", () => {
    const { m, before, pre } = begin({ sourceVersion: 1, destinationVersion: 0 });
    rejects(m, pre[0]!, TDX_STATUS.TDX_INVALID_MBMD_MIG_VERSION);
    expectSourceSurvives(m, before);
  });

  it("a migration version outside the platform's range: TDX_MIG_VERSION_UNSUPPORTED", () => {
    const m = new MigrationSession({ memoryPages: 16, vcpus: 1, destination: { migrationVersions: { importMin: 2, importMax: 3 } } });
    expectStatus(m.src.setMigrationKey(m.td, m.key, 2).status, TDX_STATUS.TDX_MIG_VERSION_UNSUPPORTED);
    expectStatus(m.dst.setMigrationKey(m.dtd, m.key, 1).status, TDX_STATUS.TDX_MIG_VERSION_UNSUPPORTED);
    expectStatus(m.dst.setMigrationKey(m.dtd, randomBytes(16), 2).status, TDX_STATUS.TDX_MIG_KEY_INVALID);
    expectStatus(m.dst.setMigrationKey(m.dtd, m.key, 2).status, TDX_STATUS.TDX_SUCCESS);
  });

  it("a start token before every vCPU state arrived: TDX_SOME_VCPUS_NOT_MIGRATED, not consumed", () => {
    const { m, before, pre } = begin({ vcpus: 2 });
    m.importAll(pre);
    const blackout = m.blackout();
    const vp1 = blackout.findIndex((x) => x.stream === 1 && x === blackout.filter((y) => y.stream === 1).at(-1));
    m.importAll(blackout.filter((_, i) => i !== vp1 && i !== blackout.length - 1));
    expectStatus(m.importOne(blackout.at(-1)!), TDX_STATUS.TDX_SOME_VCPUS_NOT_MIGRATED);
    expect(m.dtd.lifecycle.kind).to.equal("importing");
    expectStatus(m.importOne(blackout[vp1]!), TDX_STATUS.TDX_SUCCESS);
    expectStatus(m.importOne(blackout.at(-1)!), TDX_STATUS.TDX_SUCCESS);
    expect(m.dtd.lifecycle).to.deep.include({ kind: "importing", phase: "post-import" });
    expectSourceSurvives(m, before);
  });

  it("a bundle handed to the wrong import leaf: TDX_BUNDLE_TYPE_UNEXPECTED, not consumed", () => {
    const { m, pre } = begin();
    expectStatus(m.dst.importMem(m.dtd, m.d[0]!, pre[0]!.bundle).status, TDX_STATUS.TDX_OP_STATE_INCORRECT);
    expectStatus(m.importOne(pre[0]!), TDX_STATUS.TDX_SUCCESS);
    const mem = pre[1]!;
    expectStatus(m.dst.importStateTd(m.dtd, m.d[mem.stream]!, mem.bundle).status, TDX_STATUS.TDX_BUNDLE_TYPE_UNEXPECTED);
    expectStatus(m.dst.importTrack(m.dtd, m.d[mem.stream]!, mem.bundle).status, TDX_STATUS.TDX_BUNDLE_TYPE_UNEXPECTED);
    expectStatus(m.importOne(mem), TDX_STATUS.TDX_SUCCESS);
  });


});
