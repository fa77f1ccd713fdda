import { expect } from "chai";
import {
  AttestationError,
  generateP256KeyPair,
  rawPublicKey,
  type QuoteCollateral,
} from "../../orchestrator/attestation/index.js";
import {
  defaultQeIdentity,
  defaultTcbInfo,
  pckExtensionOf,
  platformTcbOf,
  ProvisioningAuthority,
  QuotingEnclave,
  staticTdReport,
  defaultPlatformConfig,
} from "../../orchestrator/attestation-issuer/index.js";
import { createBench, teeTcbSvn, type AttestationBench } from "./platforms.js";

async function rejects(p: Promise<unknown>, code: string): Promise<AttestationError> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(AttestationError);
    expect((err as AttestationError).code).to.equal(code);
    return err as AttestationError;
  }
  expect.fail(`expected ${code}`);
}

describe("quote verification", () => {
  let bench: AttestationBench;
  let quote: Buffer;
  before(async () => {
    bench = await createBench();
    quote = await bench.quote();
  });

  it("verifies a quote up to the trusted root and reports its TCB", async () => {
    const v = await bench.verify(quote);
    expect(v.tcb.status).to.equal("UpToDate");
    expect(v.pck.fmspc.toString("hex")).to.equal("90c06f000000");
    expect(v.pck.sgxTcbComponents).to.deep.equal(defaultPlatformConfig().tcb.sgxTcbComponents);
    expect(v.pck.pceSvn).to.equal(13);
  });

  it("trusts a root by subject and key, so a second instance of a seeded authority verifies", async () => {
    const seeded = await ProvisioningAuthority.create({ seed: "shared" });
    const again = await ProvisioningAuthority.create({ seed: "shared" });
    const qe = await QuotingEnclave.provision(seeded, platformTcbOf(defaultPlatformConfig()));
    const q = qe.quote(staticTdReport(defaultPlatformConfig(), Buffer.alloc(64)));
    const v = await bench.verify(q, { authority: again, collateral: again.collateral(defaultTcbInfo()) });
    expect(v.tcb.status).to.equal("UpToDate");
  });

  it("rejects a quote whose body was altered (bad quote signature)", async () => {
    const bad = Buffer.from(quote);
    bad[48 + 136] ^= 1; // one bit of MRTD
    await rejects(bench.verify(bad), "ATTESTATION_QUOTE_SIGNATURE_INVALID");
  });

  it("rejects a quote whose signature bytes were altered", async () => {
    const bad = Buffer.from(quote);
    bad[636 + 10] ^= 0x80;
    await rejects(bench.verify(bad), "ATTESTATION_QUOTE_SIGNATURE_INVALID");
  });

  it("rejects a QE report that the PCK key did not sign", async () => {
    const bad = Buffer.from(quote);
    bad[770 + 258] ^= 1; // QE ISVSVN
    await rejects(bench.verify(bad), "ATTESTATION_QE_REPORT_SIGNATURE_INVALID");
  });

  it("rejects an attestation key that the QE report does not bind", async () => {
    const other = generateP256KeyPair();
    const pck = generateP256KeyPair();
    const cfg = defaultPlatformConfig();
    const { chainPem } = await bench.authority.issuePckCertificate(pck.publicKey, pckExtensionOf(platformTcbOf(cfg), rawPublicKey(pck.publicKey)));
    const honest = new QuotingEnclave({ pck, pckCertChainPem: chainPem, attestationKey: generateP256KeyPair() }, platformTcbOf(cfg));
    const q = Buffer.from(honest.quote(staticTdReport(cfg, Buffer.alloc(64))));
    rawPublicKey(other.publicKey).copy(q, 700); // swap in another attestation key
    await rejects(bench.verify(q), "ATTESTATION_QE_REPORT_DATA_MISMATCH");
  });

  it("rejects a broken certificate chain (PCK certificate not issued by the CA that follows it)", async () => {
    const other = await ProvisioningAuthority.create(); // same names, other keys
    const pck = generateP256KeyPair();
    const cfg = defaultPlatformConfig();
    const { certificate } = await other.issuePckCertificate(pck.publicKey, pckExtensionOf(platformTcbOf(cfg), rawPublicKey(pck.publicKey)));
    const chain = [certificate.toString("pem"), bench.authority.pckCaCertificate.toString("pem"), bench.authority.rootPem].join("\n");
    const qe = new QuotingEnclave({ pck, pckCertChainPem: chain, attestationKey: generateP256KeyPair() }, platformTcbOf(cfg));
    const err = await rejects(bench.verify(qe.quote(staticTdReport(cfg, Buffer.alloc(64)))), "ATTESTATION_CERT_CHAIN_BROKEN");
    expect(err.details).to.include({ index: 0 });
  });

  it("rejects a chain that ends in an untrusted root", async () => {
    const other = await ProvisioningAuthority.create();
    const qe = await QuotingEnclave.provision(other, platformTcbOf(defaultPlatformConfig()));
    const q = qe.quote(staticTdReport(defaultPlatformConfig(), Buffer.alloc(64)));
    const err = await rejects(bench.verify(q), "ATTESTATION_UNTRUSTED_ROOT");
    expect(err.message).to.match(/not trusted/);
  });

  it("a chain remembered as verified is still judged against the trust anchors and the time of each call", async () => {
    await bench.verify(quote); // remembered
    const other = await ProvisioningAuthority.create();
    await rejects(bench.verify(quote, { authority: other, collateral: other.collateral(defaultTcbInfo()) }), "ATTESTATION_UNTRUSTED_ROOT");
    await rejects(bench.verify(quote, { now: new Date("2024-06-01T00:00:00Z") }), "ATTESTATION_CERT_NOT_VALID_NOW");
    expect((await bench.verify(quote)).tcb.status).to.equal("UpToDate");
  });

  it("rejects a PCK certificate outside its validity period", async () => {
    await rejects(bench.verify(quote, { now: new Date("2051-01-01T00:00:00Z") }), "ATTESTATION_CERT_NOT_VALID_NOW");
  });

  it("rejects TCB info whose signature does not verify", async () => {
    const c = bench.collateral;
    const forged: QuoteCollateral = { ...c, tcbInfo: { ...c.tcbInfo, tcbInfo: { ...c.tcbInfo.tcbInfo, tcbEvaluationDataNumber: 18 } } };
    await rejects(bench.verify(quote, { collateral: forged }), "ATTESTATION_TCB_INFO_SIGNATURE_INVALID");
  });

  it("rejects TCB info signed under another root", async () => {
    const other = await ProvisioningAuthority.create();
    await rejects(bench.verify(quote, { collateral: other.collateral(defaultTcbInfo()) }), "ATTESTATION_UNTRUSTED_ROOT");
  });

  it("rejects TCB info for another FMSPC", async () => {
    await rejects(bench.verify(quote, { collateral: bench.authority.collateral(defaultTcbInfo({ fmspc: "00606a000000" })) }), "ATTESTATION_TCB_INFO_MISMATCH");
  });

  it("rejects expired TCB info", async () => {
    const stale = bench.authority.collateral(defaultTcbInfo({ nextUpdate: new Date("2026-01-01T00:00:00Z") }));
    await rejects(bench.verify(quote, { collateral: stale, now: new Date("2026-02-01T00:00:00Z") }), "ATTESTATION_TCB_INFO_EXPIRED");
  });

  it("checks the QE report against the QE identity: another enclave signer is refused", async () => {
    const identity = { ...defaultQeIdentity(), mrsigner: "ab".repeat(32) };
    const err = await rejects(bench.verify(quote, { collateral: bench.authority.collateral(defaultTcbInfo(), identity) }), "ATTESTATION_QE_IDENTITY_MISMATCH");
    expect(err.details).to.deep.include({ mismatches: ["MRSIGNER"] });
  });

  it("rejects a QE identity whose signature does not verify", async () => {
    const c = bench.collateral;
    const forged: QuoteCollateral = { ...c, qeIdentity: { ...c.qeIdentity, enclaveIdentity: { ...c.qeIdentity.enclaveIdentity, isvprodid: 1 } } };
    await rejects(bench.verify(quote, { collateral: forged }), "ATTESTATION_QE_IDENTITY_SIGNATURE_INVALID");
  });

  it("converges an out-of-date or revoked quoting enclave into the TCB status", async () => {
    const old = await bench.verify(await bench.quote({ tcb: { qeSvn: 6 } }));
    expect(old.tcb).to.deep.include({ status: "OutOfDate", platformStatus: "UpToDate", qeStatus: "OutOfDate" });
    expect(old.tcb.advisoryIds).to.include("INTEL-SA-00615");
    expect((await bench.verify(await bench.quote({ tcb: { qeSvn: 2 } }))).tcb.status).to.equal("Revoked");
  });

  it("reports Revoked and OutOfDate platforms (the policy decides what to do with them)", async () => {
    expect((await bench.verify(await bench.quote({ td: { teeTcbSvn: teeTcbSvn(3, 1) } }))).tcb.status).to.equal("OutOfDate");
    expect((await bench.verify(await bench.quote({ td: { teeTcbSvn: teeTcbSvn(3, 0) } }))).tcb.status).to.equal("Revoked");
  });
});
