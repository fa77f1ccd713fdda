import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { Wallet } from "ethers";
import { type Attester } from "../../orchestrator/attestation/index.js";
import {
  authorityCollateralSource,
  createAttester,
  ProvisioningAuthority,
  provisionPlatform,
  tdQuoteSource,
} from "../../orchestrator/attestation-issuer/index.js";
import {
  buildAck,
  buildMigrationRequest,
  ChannelError,
  ChannelServer,
  connectChannel,
  createChannelIdentity,
  negotiateMigrationVersion,
  runProtectedSession,
  sessionVersionRange,
  StaticHostDirectory,
  tdKeyInstaller,
  verifyAck,
  verifyMigrationRequest,
  type ChannelConnection,
  type ChannelIdentity,
  type ChannelTrust,
} from "../../orchestrator/channel/index.js";
import { ATTRIBUTES, Platform, type TrustDomain } from "../../orchestrator/tdx/index.js";
import { BASE_POLICY } from "./hosts.js";

interface Host {
  platform: Platform;
  channelTd: TrustDomain;
  attester: Attester;
  identity: ChannelIdentity;
  wallet: Wallet;
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(
    () => expect.fail(`expected ${code}`),
    (e: unknown) => e as ChannelError,
  );
  expect(err).to.be.instanceOf(ChannelError);
  expect(err.code, err.message).to.equal(code);
}

const newMigrationId = () => `0x${randomBytes(32).toString("hex")}`;

describe("protected migration session over the channel (with the CPU model)", function () {
  this.timeout(20_000);
  let authority: ProvisioningAuthority;
  let trust: ChannelTrust;
  let source: Host;
  let destination: Host;
  let server: ChannelServer;
  let toDestination: ChannelConnection;
  let atDestination: ChannelConnection;

  async function host(name: string, migrationVersions?: { importMin: number; importMax: number; exportMin: number; exportMax: number }): Promise<Host> {
    const platform = new Platform({ name, ...(migrationVersions ? { migrationVersions } : {}) });
    const channelTd = platform.createTd({ memoryBytes: 4 * 4096, attributes: 0n });
    const qe = await provisionPlatform(authority, platform);
    const attester = createAttester(tdQuoteSource(platform, channelTd), qe);
    const wallet = Wallet.createRandom() as unknown as Wallet;
    (trust.directory as StaticHostDirectory).set(wallet.address, { registered: true });
    return { platform, channelTd, attester, wallet, identity: await createChannelIdentity({ attester, signer: wallet }) };
  }

  async function connect(from: Host, to: Host): Promise<[ChannelConnection, ChannelConnection, ChannelServer]> {
    const srv = await ChannelServer.listen({ identity: to.identity, trust });
    const accepted = new Promise<ChannelConnection>((r) => srv.once("connection", r));
    const conn = await connectChannel({ host: "127.0.0.1", port: srv.port, identity: from.identity, trust, expectedAddress: to.wallet.address });
    return [conn, await accepted, srv];
  }

  before(async () => {
    authority = await ProvisioningAuthority.create();
    trust = { trustedRoots: [authority.rootCertificate], collateral: authorityCollateralSource(authority), policy: BASE_POLICY, directory: new StaticHostDirectory() };
    source = await host("source");
    destination = await host("destination", { exportMin: 0, exportMax: 1, importMin: 1, importMax: 3 });
    [toDestination, atDestination, server] = await connect(source, destination);
  });
  after(async () => {
    await toDestination.close();
    await server.close();
  });

  it("quotes of the CPU model's platforms verify: the channel peers carry their platform TCB", () => {
    expect(toDestination.peer.quote.quote.body.teeTcbSvn).to.deep.equal(destination.platform.info.teeTcbSvn);
    expect(toDestination.peer.quote.pck.fmspc).to.deep.equal(destination.platform.info.fmspc);
    expect(atDestination.peer.quote.quote.signatureData.attestationKey).to.have.length(64);
  });

  it("runs request → ACK → protected session, and both TDs get the same fresh key and version", async () => {
    const tvm = source.platform.createTd({ memoryBytes: 16 * 4096, attributes: ATTRIBUTES.MIGRATABLE });
    const initiated = source.platform.module.migInitiate(tvm);
    const migrationId = newMigrationId();
    await toDestination.send(buildMigrationRequest(initiated.encoded!, { migrationId, ackDeadline: Date.now() + 60_000 }));

    const request = await atDestination.receive("MIGRATION_REQUEST", { migrationId, timeoutMs: 3000 });
    const descriptor = verifyMigrationRequest(request, atDestination.peer);
    expect(descriptor.tdId).to.deep.equal(tvm.config.tdId);
    await atDestination.send(
      buildAck(destination.attester, {
        migrationId,
        channelKeyFingerprint: destination.identity.keyFingerprint,
        migrationVersions: sessionVersionRange(destination.platform.info, "responder"),
        capacity: 3,
      }),
    );

    const ack = await toDestination.receive("ACK", { migrationId, timeoutMs: 3000 });
    const ackQuote = await verifyAck(ack, toDestination.peer, trust, { migrationId, tcbRequirement: tvm.config.tcb, migrationVersions: descriptor.migrationVersions });
    expect(ackQuote.tcb.status).to.be.oneOf(["UpToDate", "SWHardeningNeeded"]);

    const incoming = destination.platform.createImportTd({ memoryBytes: 16 * 4096, numVcpus: 1 });
    const [atSource, atDest] = await Promise.all([
      runProtectedSession(toDestination, { migrationId, role: "initiator", migrationVersions: sessionVersionRange(source.platform.info, "initiator"), install: tdKeyInstaller(tvm) }),
      runProtectedSession(atDestination, { migrationId, role: "responder", migrationVersions: sessionVersionRange(destination.platform.info, "responder"), install: tdKeyInstaller(incoming) }),
    ]);
    expect(atSource.migrationVersion).to.equal(1); // min(export max 1, import max 3), within import min 1
    expect(atDest.migrationVersion).to.equal(1);
    expect(atSource.keyId).to.equal(atDest.keyId);
    expect(tvm.migrationKey()).to.deep.equal(incoming.migrationKey());
    expect(tvm.migrationKey()).to.have.length(32);
    expect(tvm.migrationVersion).to.equal(1);
  });

  it("agrees a different key for every migration", async () => {
    const keys: Buffer[] = [];
    for (let i = 0; i < 2; i++) {
      const migrationId = newMigrationId();
      const got: Buffer[] = [];
      await Promise.all([
        runProtectedSession(toDestination, { migrationId, role: "initiator", migrationVersions: { min: 0, max: 1 }, install: (k) => void got.push(k) }),
        runProtectedSession(atDestination, { migrationId, role: "responder", migrationVersions: { min: 1, max: 3 }, install: (k) => void got.push(k) }),
      ]);
      expect(got[0]).to.deep.equal(got[1]);
      keys.push(got[0]!);
    }
    expect(keys[0]).to.not.deep.equal(keys[1]);
  });

  it("refuses a session when the version ranges do not overlap, on both sides, and installs nothing", async () => {
    const migrationId = newMigrationId();
    let installed = 0;
    const [a, b] = await Promise.allSettled([
      runProtectedSession(toDestination, { migrationId, role: "initiator", migrationVersions: { min: 0, max: 0 }, install: () => void installed++ }),
      runProtectedSession(atDestination, { migrationId, role: "responder", migrationVersions: { min: 1, max: 3 }, install: () => void installed++ }),
    ]);
    expect(((a as PromiseRejectedResult).reason as ChannelError).code).to.equal("CHANNEL_PEER_ERROR");
    expect(((b as PromiseRejectedResult).reason as ChannelError).code).to.equal("CHANNEL_VERSION_RANGE");
    expect(installed).to.equal(0);
    // The connection is still usable afterwards.
    await toDestination.send({ type: "MIGRATION_ABORT", migrationId, resultCode: 1003, reason: "no common migration version" });
    expect((await atDestination.receive("MIGRATION_ABORT", { migrationId, timeoutMs: 3000 })).reason).to.contain("no common");
  });

  it("tells the peer when installing the key fails on one side", async () => {
    const migrationId = newMigrationId();
    const [a, b] = await Promise.allSettled([
      runProtectedSession(toDestination, { migrationId, role: "initiator", migrationVersions: { min: 0, max: 1 }, install: () => { throw new Error("TDX_OP_STATE_INCORRECT"); } }),
      runProtectedSession(atDestination, { migrationId, role: "responder", migrationVersions: { min: 1, max: 3 }, install: () => undefined }),
    ]);
    expect(((a as PromiseRejectedResult).reason as ChannelError).code).to.equal("CHANNEL_SESSION_FAILED");
    expect(b.status).to.equal("fulfilled");
    const abort = await atDestination.receive("MIGRATION_ABORT", { migrationId, timeoutMs: 3000 });
    expect(abort.reason).to.contain("TDX_OP_STATE_INCORRECT");
  });

  it("reports setMigrationKey's status when the TD cannot take the key (a version its platform cannot import)", async () => {
    const migrationId = newMigrationId();
    const incoming = destination.platform.createImportTd({ memoryBytes: 4 * 4096, numVcpus: 1 });
    const [a, b] = await Promise.allSettled([
      runProtectedSession(toDestination, { migrationId, role: "initiator", migrationVersions: { min: 0, max: 1 }, install: () => undefined }),
      // The responder (wrongly) offers version 0, which its platform (imports 1..3) cannot import.
      runProtectedSession(atDestination, { migrationId, role: "responder", migrationVersions: { min: 0, max: 0 }, install: tdKeyInstaller(incoming) }),
    ]);
    expect(a.status).to.equal("fulfilled");
    const failure = (b as PromiseRejectedResult).reason as ChannelError;
    expect(failure.code).to.equal("CHANNEL_SESSION_FAILED");
    const abort = await toDestination.receive("MIGRATION_ABORT", { migrationId, timeoutMs: 3000 });
    expect(abort.reason).to.contain("TDX_MIG_VERSION_UNSUPPORTED");
  });

  it("refuses a tampered migration request descriptor and unsigned fields that disagree with it", async () => {
    const tvm = source.platform.createTd({ memoryBytes: 4 * 4096, attributes: ATTRIBUTES.MIGRATABLE });
    const encoded = source.platform.module.migInitiate(tvm).encoded!;
    const migrationId = newMigrationId();
    const request = buildMigrationRequest(encoded, { migrationId, ackDeadline: 0 });
    const flipped = `${request.descriptor.bytes.slice(0, 60)}${request.descriptor.bytes[60] === "0" ? "1" : "0"}${request.descriptor.bytes.slice(61)}`;
    expect(() => verifyMigrationRequest({ ...request, descriptor: { ...request.descriptor, bytes: flipped } }, atDestination.peer))
      .to.throw(ChannelError)
      .with.property("code", "CHANNEL_REQUEST_INVALID");
    expect(() => verifyMigrationRequest({ ...request, tcbCapability: { minTdxModuleMajorVersion: 0 } }, atDestination.peer)).to.throw(/tcbCapability differs/);
    // A descriptor signed by another platform than the peer's quote vouches for.
    expect(() => verifyMigrationRequest(request, toDestination.peer)).to.throw(/bad-signature/);
  });

  it("refuses an ACK quote bound to another migration or from a host failing the TVM's TCB capability", async () => {
    const migrationId = newMigrationId();
    const versions = sessionVersionRange(destination.platform.info, "responder");
    const stale = buildAck(destination.attester, { migrationId: newMigrationId(), channelKeyFingerprint: destination.identity.keyFingerprint, migrationVersions: versions, capacity: 1 });
    await rejectsWith(verifyAck({ ...stale, migrationId }, toDestination.peer, trust, { migrationId, migrationVersions: { min: 0, max: 1 } }), "CHANNEL_REPORT_DATA_MISMATCH");
    const fresh = buildAck(destination.attester, { migrationId, channelKeyFingerprint: destination.identity.keyFingerprint, migrationVersions: versions, capacity: 1 });
    const demanding = { minTeeTcbSvn: Buffer.alloc(16, 9), minModuleVersion: { major: 1, minor: 0 } };
    await rejectsWith(verifyAck(fresh, toDestination.peer, trust, { migrationId, tcbRequirement: demanding, migrationVersions: { min: 0, max: 1 } }), "CHANNEL_PEER_EVIDENCE_INVALID");
    await rejectsWith(verifyAck(fresh, toDestination.peer, trust, { migrationId, migrationVersions: { min: 0, max: 0 } }), "CHANNEL_VERSION_RANGE");
  });
});

describe("migration version negotiation", () => {
  it("takes the lower of the two maxima", () => {
    expect(negotiateMigrationVersion({ min: 0, max: 3 }, { min: 1, max: 2 })).to.equal(2);
    expect(negotiateMigrationVersion({ min: 2, max: 2 }, { min: 0, max: 5 })).to.equal(2);
  });
  it("fails when the ranges do not overlap", () => {
    expect(() => negotiateMigrationVersion({ min: 0, max: 1 }, { min: 2, max: 3 })).to.throw(ChannelError, /do not overlap/);
  });
});
