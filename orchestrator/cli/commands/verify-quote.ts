/**
 * `tvmx verify-quote`: parses a quote, verifies it (PCK chain to the trusted root, QE and quote
 * signatures, TCB info), prints the fields, the TCB status and the policy verdict.
 * Exit status: 0 verified (and accepted by the policy, if one is given), 1 error or verification failure,
 * 2 verified but rejected by the policy.
 */
import {
  decodeQuote,
  evaluatePolicy,
  parsePolicy,
  parseTrustedRoots,
  verifyQuote,
  type PolicyVerdict,
  type QuoteCollateral,
  type TdxQuote,
  type VerifiedQuote,
} from "../../attestation/index.js";
import { defaultCollateral, defaultPlatformConfig, ProvisioningAuthority } from "../../attestation-issuer/index.js";
import { describeError, isTvmxError } from "../../errors/index.js";
import { readJsonFile, readUserFile } from "../args.js";
import { CliArgumentError } from "../errors.js";
import type { CliIo } from "../io.js";

export interface VerifyQuoteOptions {
  policy?: string;
  root?: string;
  collateral?: string;
  authoritySeed?: string;
  json?: boolean;
}

const hex = (b: Buffer) => b.toString("hex");

function quoteFields(q: TdxQuote): Record<string, unknown> {
  const b = q.body;
  return {
    header: {
      version: q.header.version,
      attestationKeyType: q.header.attestationKeyType,
      teeType: `0x${q.header.teeType.toString(16)}`,
      qeSvn: q.header.qeSvn,
      pceSvn: q.header.pceSvn,
      qeVendorId: hex(q.header.qeVendorId),
      userData: hex(q.header.userData),
    },
    body: {
      teeTcbSvn: hex(b.teeTcbSvn),
      mrSeam: hex(b.mrSeam),
      mrSignerSeam: hex(b.mrSignerSeam),
      seamAttributes: hex(b.seamAttributes),
      tdAttributes: hex(b.tdAttributes),
      xfam: hex(b.xfam),
      mrTd: hex(b.mrTd),
      mrConfigId: hex(b.mrConfigId),
      mrOwner: hex(b.mrOwner),
      mrOwnerConfig: hex(b.mrOwnerConfig),
      rtmr0: hex(b.rtmr[0]),
      rtmr1: hex(b.rtmr[1]),
      rtmr2: hex(b.rtmr[2]),
      rtmr3: hex(b.rtmr[3]),
      reportData: hex(b.reportData),
    },
    attestationKey: hex(q.signatureData.attestationKey),
    qeReport: { isvProdId: q.signatureData.qeReport.isvProdId, isvSvn: q.signatureData.qeReport.isvSvn, mrSigner: hex(q.signatureData.qeReport.mrSigner) },
  };
}

function verificationFields(v: VerifiedQuote): Record<string, unknown> {
  return {
    pck: {
      subject: v.pckCertificate.subject,
      fmspc: hex(v.pck.fmspc),
      pceId: hex(v.pck.pceId),
      sgxTcbComponents: v.pck.sgxTcbComponents,
      pceSvn: v.pck.pceSvn,
    },
    tcb: v.tcb,
  };
}

async function loadCollateral(options: VerifyQuoteOptions, authority: () => Promise<ProvisioningAuthority>): Promise<QuoteCollateral> {
  if (!options.collateral) {
    const pcs = await authority();
    return defaultCollateral({ ...defaultPlatformConfig(), authoritySeed: options.authoritySeed ?? defaultPlatformConfig().authoritySeed }, pcs);
  }
  const value = (await readJsonFile(options.collateral, "--collateral")) as Partial<QuoteCollateral> | null;
  if (typeof value !== "object" || value === null || typeof value.tcbInfoIssuerChain !== "string" || typeof value.tcbInfo !== "object" || typeof value.qeIdentity !== "object") {
    throw new CliArgumentError(`--collateral: ${options.collateral} must hold { tcbInfo: { tcbInfo, signature }, qeIdentity: { enclaveIdentity, signature }, tcbInfoIssuerChain }`, { details: { path: options.collateral } });
  }
  return value as QuoteCollateral;
}

function printHuman(io: CliIo, file: string, size: number, fields: Record<string, unknown>, verified: VerifiedQuote | undefined, error: unknown, verdict: PolicyVerdict | undefined): void {
  const f = fields as { header: Record<string, unknown>; body: Record<string, string>; attestationKey: string };
  io.out(`TDX quote v${f.header.version} (${size} bytes): ${file}`);
  io.out(`  header: attestation key type ${f.header.attestationKeyType} (ECDSA-256-with-P-256), TEE type ${f.header.teeType} (TDX), QE SVN ${f.header.qeSvn}, PCE SVN ${f.header.pceSvn}`);
  io.out(`  QE vendor id: ${f.header.qeVendorId}`);
  for (const [name, value] of Object.entries(f.body)) io.out(`  ${name.padEnd(15)} ${value}`);
  io.out(`  attestation key ${f.attestationKey}`);
  if (verified) {
    io.out(`signature: valid (PCK certificate "${verified.pckCertificate.subject}" chains to a trusted root)`);
    io.out(`  FMSPC ${hex(verified.pck.fmspc)}, PCE-ID ${hex(verified.pck.pceId)}, PCE SVN ${verified.pck.pceSvn}, SGX TCB [${verified.pck.sgxTcbComponents.join(",")}]`);
    const t = verified.tcb;
    io.out(`TCB status: ${t.status} (platform ${t.platformStatus}${t.moduleStatus ? `, TDX module ${t.moduleStatus}` : ""}${t.qeStatus ? `, QE ${t.qeStatus}` : ""}; TCB date ${t.tcbDate}${t.advisoryIds.length ? `; advisories ${t.advisoryIds.join(", ")}` : ""})`);
  } else {
    io.out(`verification: FAILED ${isTvmxError(error) ? `[${error.code}] ` : ""}${describeError(error)}`);
  }
  if (verdict) {
    if (verdict.accepted) io.out("policy: accepted");
    else {
      io.out("policy: REJECTED");
      for (const v of verdict.violations) io.out(`  - ${v.message}`);
    }
  } else if (verified) io.out("policy: none given");
}

export async function run(file: string, options: VerifyQuoteOptions, io: CliIo): Promise<number> {
  const bytes = await readUserFile(file, "<file>");
  const policy = options.policy ? parsePolicy(await readJsonFile(options.policy, "--policy")) : undefined;
  let authorityPromise: Promise<ProvisioningAuthority> | undefined;
  const authority = () => (authorityPromise ??= ProvisioningAuthority.create({ seed: options.authoritySeed ?? defaultPlatformConfig().authoritySeed }));
  const trustedRoots = options.root ? parseTrustedRoots((await readUserFile(options.root, "--root")).toString("utf8")) : [(await authority()).rootCertificate];
  const collateral = await loadCollateral(options, authority);

  let quote: TdxQuote;
  try {
    quote = decodeQuote(bytes);
  } catch (err) {
    if (!options.json || !isTvmxError(err)) throw err; // printed as one error line, exit 1
    io.out(JSON.stringify({ file, size: bytes.length, verified: false, error: err.toJSON(), policy: null }, null, 2));
    return 1;
  }
  let verified: VerifiedQuote | undefined;
  let error: unknown;
  try {
    verified = await verifyQuote(bytes, { trustedRoots, collateral });
  } catch (err) {
    if (!isTvmxError(err)) throw err;
    error = err;
  }
  const verdict = verified && policy ? evaluatePolicy(verified, policy) : undefined;
  const fields = quoteFields(quote);
  if (options.json) {
    io.out(
      JSON.stringify(
        {
          file,
          size: bytes.length,
          verified: verified !== undefined,
          quote: fields,
          ...(verified ? verificationFields(verified) : { error: isTvmxError(error) ? error.toJSON() : describeError(error) }),
          policy: verdict ?? null,
        },
        null,
        2,
      ),
    );
  } else {
    printHuman(io, file, bytes.length, fields, verified, error, verdict);
  }
  if (!verified) return 1;
  return verdict && !verdict.accepted ? 2 : 0;
}
