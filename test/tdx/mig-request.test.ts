import { generateKeyPairSync, sign } from "node:crypto";
import { expect } from "chai";
import {
  ATTRIBUTES,
  decodeMigRequest,
  encodeMigRequestBody,
  LEAF,
  MIG_REQUEST_SIZE,
  PAGE_SIZE,
  Platform,
  TDX_STATUS,
  TdxModule,
  verifyMigRequest,
  type MigInitiateResult,
} from "../../orchestrator/tdx/index.js";
import { expectStatus } from "./harness.js";

function initiate(): { p: Platform; r: MigInitiateResult } {
  const p = new Platform({ migrationVersions: { exportMin: 1, exportMax: 3 } });
  const td = p.createTd({ memoryBytes: 32 * PAGE_SIZE, numVcpus: 4, image: [{ gpa: 0, data: Buffer.alloc(PAGE_SIZE, 1) }] });
  return { p, r: p.module.migInitiate(td, { nonce: Buffer.alloc(32, 0x11), issuedAtMs: 1_700_000_000_000 }) };
}

describe("TDH.MIG.INITIATE and the migration request descriptor", () => {
  it("describes the TD (configuration, TCB capability, version range, nonce) and verifies under the platform key", () => {
    const { p, r } = initiate();
    expectStatus(r.status, TDX_STATUS.TDX_SUCCESS);
    expect(r.encoded!.length).to.equal(MIG_REQUEST_SIZE);
    const v = verifyMigRequest(r.encoded!, p.attestationKey.publicKey);
    expect(v.valid).to.equal(true);
    if (!v.valid) return;
    expect(v.descriptor).to.deep.equal(r.descriptor);
    expect(v.descriptor.numVcpus).to.equal(4);
    expect(v.descriptor.memoryBytes).to.equal(32 * PAGE_SIZE);
    expect(v.descriptor.attributes & ATTRIBUTES.MIGRATABLE).to.equal(ATTRIBUTES.MIGRATABLE);
    expect(v.descriptor.migrationVersions).to.deep.equal({ min: 1, max: 3 });
    expect(v.descriptor.tcb.minTeeTcbSvn.equals(p.info.teeTcbSvn)).to.equal(true);
    expect(v.descriptor.tcb.minModuleVersion).to.deep.equal({ major: 1, minor: 5 });
    expect(v.descriptor.nonce.equals(Buffer.alloc(32, 0x11))).to.equal(true);
    expect(v.descriptor.issuedAtMs).to.equal(1_700_000_000_000);
    expect(encodeMigRequestBody(v.descriptor).equals(r.encoded!.subarray(0, 176))).to.equal(true);
  });

  it("is reachable by its leaf number, and fresh nonces differ", () => {
    const p = new Platform();
    const td = p.createTd({ memoryBytes: 4 * PAGE_SIZE });
    const a = p.module.seamcall(LEAF["TDH.MIG.INITIATE"], { td }) as MigInitiateResult;
    const b = p.module.migInitiate(td);
    expectStatus(a.status, TDX_STATUS.TDX_SUCCESS);
    expect(a.descriptor!.nonce.equals(b.descriptor!.nonce)).to.equal(false);
  });

  it("refuses a non-migratable TD, a TD that is not running, and a module without the platform key", () => {
    const p = new Platform();
    const debugOnly = p.createTd({ memoryBytes: 4 * PAGE_SIZE, attributes: ATTRIBUTES.DEBUG });
    expectStatus(p.module.migInitiate(debugOnly).status, TDX_STATUS.TDX_TD_NOT_MIGRATABLE);
    const td = p.createTd({ memoryBytes: 4 * PAGE_SIZE });
    p.module.teardown(td);
    expectStatus(p.module.migInitiate(td).status, TDX_STATUS.TDX_LIFECYCLE_STATE_INCORRECT);
    const incoming = p.createImportTd({ memoryBytes: 4 * PAGE_SIZE, numVcpus: 1 });
    expectStatus(p.module.migInitiate(incoming).status, TDX_STATUS.TDX_OP_STATE_INCORRECT);
    expect(() => new TdxModule().migInitiate(p.createTd({ memoryBytes: 4 * PAGE_SIZE }))).to.throw(/attestation key/);
  });

  it("fails verification when any byte is tampered with", () => {
    const { p, r } = initiate();
    for (const at of [8, 24, 40, 88, 96, 112, 144, 175, 176, 239]) {
      const bad = Buffer.from(r.encoded!);
      bad[at]! ^= 0x01;
      const v = verifyMigRequest(bad, p.attestationKey.publicKey);
      expect(v.valid, `byte ${at}`).to.equal(false);
    }
  });

  it("fails verification when signed by another key (forged), or checked against another platform", () => {
    const { p, r } = initiate();
    const forger = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const body = r.encoded!.subarray(0, 176);
    const forged = Buffer.concat([body, sign("sha256", body, { key: forger.privateKey, dsaEncoding: "ieee-p1363" })]);
    const v = verifyMigRequest(forged, p.attestationKey.publicKey);
    expect(v).to.deep.include({ valid: false, reason: "bad-signature" });
    expect(verifyMigRequest(r.encoded!, new Platform().attestationKey.publicKey).valid).to.equal(false);
  });

  describe("decoding rejects", () => {
    const { r } = initiate();
    const mutate = (f: (b: Buffer) => void): Buffer => {
      const b = Buffer.from(r.encoded!);
      f(b);
      return b;
    };
    const cases: [string, Buffer][] = [
      ["a wrong length", r.encoded!.subarray(0, 239)],
      ["a bad magic", mutate((b) => b.write("XXXX", 0, "ascii"))],
      ["an unknown version", mutate((b) => b.writeUInt16LE(2, 4))],
      ["a reserved field set (offset 6)", mutate((b) => b.writeUInt16LE(1, 6))],
      ["a reserved field set (offset 94)", mutate((b) => b.writeUInt16LE(1, 94))],
      ["a reserved field set (offset 132)", mutate((b) => b.writeUInt32LE(1, 132))],
      ["an inverted version range", mutate((b) => b.writeUInt16LE(9, 90))],
      ["zero vCPUs", mutate((b) => b.writeUInt16LE(0, 88))],
      ["a memory size that is not whole pages", mutate((b) => b.writeBigUInt64LE(4097n, 96))],
    ];
    for (const [what, bytes] of cases) {
      it(what, () => {
        expect(() => decodeMigRequest(bytes)).to.throw(/migration request descriptor/);
        expect(verifyMigRequest(bytes, initiate().p.attestationKey.publicKey)).to.deep.include({ valid: false, reason: "malformed" });
      });
    }
  });
});
