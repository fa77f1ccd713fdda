import { isAbsolute, resolve } from "node:path";
import { TvmxError } from "../errors/index.js";
import { isLogLevel, type LogLevel } from "../log/index.js";
import { describeIssue, FieldReader, isPlainObject } from "./fields.js";

/**
 * The host config file (JSON). Paths in it are relative to the file's own directory. Amounts of wei are
 * decimal strings. See docs/host.md for the reference with an example.
 */
export interface HostConfig {
  /** A name for logs and the CLI (not used on-chain). */
  name: string;
  chain: ChainEndpointConfig;
  /** The winner's own chain, where it records the allocations it wins (absent: no mirror record). */
  mirrorChain?: MirrorChainConfig;
  /** The contract suite on `chain`: explicit addresses, or a deployment file to read them from. */
  contracts: ContractsConfig;
  keystore: KeystoreConfig;
  channel: { listen: { host: string; port: number }; advertise?: string; limits?: ChannelLimitsConfig };
  /** The control API always listens on 127.0.0.1; port 0 picks a free one (written to the data dir). */
  control: { port: number };
  /** Prometheus metrics on 127.0.0.1; absent: no metrics endpoint. */
  metrics?: { port: number };
  capacity: { tvmSlots: number; memoryMiB: number };
  pricing: PricingConfig;
  /** The attestation policy (JSON) applied to the quotes of peers. */
  policyFile: string;
  /** The simulated platform (TCB, module version...) this host's CPU model runs; absent: the model's defaults. */
  platformFile?: string;
  migration: MigrationConfig;
  auction: AuctionConfig;
  /** The destination's limits on the terms of auctions it bids in. */
  bidding: BiddingConfig;
  registration: RegistrationConfig;
  /** Journal, control token, runtime files. */
  dataDir: string;
  log: { level: LogLevel };
}

/** Limits of the channel listener; an absent field keeps the listener's default. */
export interface ChannelLimitsConfig {
  /** Time from TCP accept to a verified HELLO, TLS handshake included (default 10000). */
  handshakeTimeoutMs?: number;
  /** Connections being verified at once, in all (default 64). */
  maxPendingHandshakes?: number;
  /** ... from one remote address (default 8). */
  maxPendingPerAddress?: number;
  /** ... of one host, by its certificate's signed host address (default 4). */
  maxPendingPerIdentity?: number;
}

export interface ChainEndpointConfig {
  rpcUrl: string;
  /** The chain id the node must serve (checked at start-up; optional, the deployment file's is checked too). */
  chainId?: bigint;
  /** Confirmations to wait for each transaction (1 = mined). */
  confirmations: number;
  /** How often watchers poll for new logs. */
  pollIntervalMs: number;
  /** Attempts for a transaction or call on a transient RPC error (connection refused/reset, timeout). */
  rpcRetries: number;
  /** Caps on what a transaction may pay per gas (EIP-1559); absent: the node's suggestion, uncapped. */
  fees?: FeeCapsConfig;
}

/**
 * `chain.fees`: the most this host pays per gas, in wei (decimal strings). The node's suggestion is used up to
 * the caps; a transaction whose chain's base fee is already above `maxFeePerGasWei` is refused (CHAIN_FEE_ABOVE_CAP)
 * rather than sent to wait in the pool. On a chain without EIP-1559, `maxFeePerGasWei` caps the gas price.
 */
export interface FeeCapsConfig {
  maxFeePerGasWei?: bigint;
  maxPriorityFeePerGasWei?: bigint;
}

export interface MirrorChainConfig extends ChainEndpointConfig {
  /** The AllocationRegistry on the mirror chain (or read from `deploymentFile`). */
  allocationRegistry?: string;
  deploymentFile?: string;
}

export type ContractsConfig =
  | { kind: "addresses"; hostRegistry: string; migrationAuction: string; allocationRegistry: string }
  | { kind: "deploymentFile"; path: string };

export type KeystoreConfig =
  | { path: string; password: { kind: "env"; name: string } }
  | { path: string; password: { kind: "file"; path: string } };

export type PricingConfig =
  /** Price grows from `basePriceWei` (empty host) to `fullPriceWei` (last slot) as utilisation^exponent. */
  | { strategy: "scarcity"; basePriceWei: bigint; fullPriceWei: bigint; exponent: number; minFreeSlots: number }
  /** Always the same price while there is room. */
  | { strategy: "fixed"; priceWei: bigint; minFreeSlots: number };

export type FailurePolicy = "runner-up" | "new-auction" | "none";

export interface MigrationConfig {
  /** Blackout the source aims for (QEMU's default: 300 ms). */
  downtimeTargetMs: number;
  /** Streams in parallel. */
  streams: number;
  /** What the source does when the destination fails mid-migration. */
  onFailure: FailurePolicy;
  /** How long either side waits for its peer during a migration before aborting. */
  peerTimeoutMs: number;
}

/**
 * What a destination accepts of an auction's on-chain terms before it posts a bond (see host/auction-terms.ts).
 * The defaults hold on a chain with 12 s slots: a reveal window of at least 36 s spans three slots, so a reveal
 * sent at the commit deadline is mined even when a proposer misses one or two slots.
 */
export interface BiddingConfig {
  maxBondWei: bigint;
  minCommitTimeLeftSec: number;
  minRevealWindowSec: number;
}

export interface AuctionConfig {
  /**
   * Seconds from opening to the commit deadline, then from the commit to the reveal deadline. The auction refuses
   * windows below its minimums (MigrationAuction.auctionLimits, 36 s each in a production deployment); the
   * defaults (60, 48) keep above them and leave bidders the `bidding` defaults' margins on a 12 s-slot chain.
   */
  commitWindowSec: number;
  revealWindowSec: number;
  /** Bond each bidder posts, and the default reserve (maximum) price the source deposits. */
  bondWei: bigint;
  defaultReservePriceWei: bigint;
  /** How long the source waits for acknowledgements after the broadcast. */
  ackTimeoutMs: number;
}

export interface RegistrationConfig {
  /** Stake posted when registering (topped up to this on update). */
  stakeWei: bigint;
}

export const FAILURE_POLICIES: readonly FailurePolicy[] = ["runner-up", "new-auction", "none"];

const TOP_LEVEL = [
  "$schema", "name", "chain", "mirrorChain", "contracts", "deploymentFile", "keystore", "channel", "control",
  "metrics", "capacity", "pricing", "policyFile", "platformFile", "migration", "auction", "bidding", "registration",
  "dataDir", "log",
] as const;

/**
 * Validates a parsed config object and resolves its relative paths against `baseDir`.
 * Throws CONFIG_INVALID listing every issue (details.issues: {field, value, expected}[]).
 */
export function parseHostConfig(raw: unknown, baseDir: string, source = "config"): HostConfig {
  const r = new FieldReader();
  if (!isPlainObject(raw)) {
    r.issue("(root)", raw, "a JSON object");
    throw invalid(r, source);
  }
  r.noUnknownFields(raw, "", TOP_LEVEL);
  const path = (p: string | undefined) => (p === undefined ? undefined : isAbsolute(p) ? p : resolve(baseDir, p));

  const name = r.string(raw, "name", "", { required: true, pattern: /^[A-Za-z0-9._-]{1,64}$/, patternText: "1-64 letters, digits, '.', '_' or '-'" });
  const chain = readEndpoint(r, raw, "chain", true);
  const mirrorRaw = r.object(raw, "mirrorChain", "", false);
  let mirrorChain: MirrorChainConfig | undefined;
  if (mirrorRaw) {
    const endpoint = readEndpoint(r, raw, "mirrorChain", true, ["allocationRegistry", "deploymentFile"]);
    const allocationRegistry = r.address(mirrorRaw, "allocationRegistry", "mirrorChain", false);
    const deploymentFile = path(r.string(mirrorRaw, "deploymentFile", "mirrorChain", { required: false }));
    if (allocationRegistry === undefined && deploymentFile === undefined && mirrorRaw.allocationRegistry === undefined && mirrorRaw.deploymentFile === undefined) {
      r.issue("mirrorChain.allocationRegistry", undefined, "an address, or mirrorChain.deploymentFile");
    }
    if (endpoint) {
      mirrorChain = { ...endpoint };
      if (allocationRegistry !== undefined) mirrorChain.allocationRegistry = allocationRegistry;
      if (deploymentFile !== undefined) mirrorChain.deploymentFile = deploymentFile;
    }
  }

  let contracts: ContractsConfig | undefined;
  const contractsRaw = r.object(raw, "contracts", "", false);
  if (contractsRaw && raw.deploymentFile !== undefined) {
    r.issue("deploymentFile", raw.deploymentFile, "absent when contracts is given (give one of the two)");
  } else if (contractsRaw) {
    r.noUnknownFields(contractsRaw, "contracts", ["hostRegistry", "migrationAuction", "allocationRegistry"]);
    const hostRegistry = r.address(contractsRaw, "hostRegistry", "contracts", true);
    const migrationAuction = r.address(contractsRaw, "migrationAuction", "contracts", true);
    const allocationRegistry = r.address(contractsRaw, "allocationRegistry", "contracts", true);
    if (hostRegistry && migrationAuction && allocationRegistry) contracts = { kind: "addresses", hostRegistry, migrationAuction, allocationRegistry };
  } else if (raw.contracts === undefined) {
    const file = path(r.string(raw, "deploymentFile", "", { required: false }));
    if (file !== undefined) contracts = { kind: "deploymentFile", path: file };
    else if (raw.deploymentFile === undefined) r.issue("contracts", undefined, "contract addresses, or a deploymentFile path");
  }

  let keystore: KeystoreConfig | undefined;
  const ksRaw = r.object(raw, "keystore", "", true);
  if (ksRaw) {
    r.noUnknownFields(ksRaw, "keystore", ["path", "passwordEnv", "passwordFile"]);
    const ksPath = path(r.string(ksRaw, "path", "keystore", { required: true }));
    const env = r.string(ksRaw, "passwordEnv", "keystore", { required: false, pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, patternText: "an environment variable name" });
    const file = path(r.string(ksRaw, "passwordFile", "keystore", { required: false }));
    if (ksRaw.passwordEnv !== undefined && ksRaw.passwordFile !== undefined) {
      r.issue("keystore.passwordFile", ksRaw.passwordFile, "absent when keystore.passwordEnv is given (give one of the two)");
    } else if (ksRaw.passwordEnv === undefined && ksRaw.passwordFile === undefined) {
      r.issue("keystore.passwordEnv", undefined, "an environment variable name, or keystore.passwordFile");
    } else if (ksPath !== undefined && env !== undefined) {
      keystore = { path: ksPath, password: { kind: "env", name: env } };
    } else if (ksPath !== undefined && file !== undefined) {
      keystore = { path: ksPath, password: { kind: "file", path: file } };
    }
  }

  const channelRaw = r.object(raw, "channel", "", true);
  let channel: HostConfig["channel"] | undefined;
  if (channelRaw) {
    r.noUnknownFields(channelRaw, "channel", ["listen", "advertise", "limits"]);
    const listen = r.hostPort(channelRaw, "listen", "channel", true);
    const advertise = r.string(channelRaw, "advertise", "channel", { required: false });
    const limits = readChannelLimits(r, channelRaw);
    if (listen) {
      channel = advertise === undefined ? { listen } : { listen, advertise };
      if (limits) channel.limits = limits;
    }
  }

  const control = readPortOnly(r, raw, "control", true);
  const metrics = readPortOnly(r, raw, "metrics", false);

  const capRaw = r.object(raw, "capacity", "", true);
  let capacity: HostConfig["capacity"] | undefined;
  if (capRaw) {
    r.noUnknownFields(capRaw, "capacity", ["tvmSlots", "memoryMiB"]);
    const tvmSlots = r.integer(capRaw, "tvmSlots", "capacity", { required: true, min: 0, max: 1_000_000 });
    const memoryMiB = r.integer(capRaw, "memoryMiB", "capacity", { required: true, min: 0, max: 1 << 30 });
    if (tvmSlots !== undefined && memoryMiB !== undefined) capacity = { tvmSlots, memoryMiB };
  }

  const pricing = readPricing(r, raw);
  const policyFile = path(r.string(raw, "policyFile", "", { required: true }));
  const platformFile = path(r.string(raw, "platformFile", "", { required: false }));

  const migRaw = r.object(raw, "migration", "", false) ?? {};
  r.noUnknownFields(migRaw, "migration", ["downtimeTargetMs", "streams", "onFailure", "peerTimeoutMs"]);
  const migration: MigrationConfig = {
    downtimeTargetMs: r.integer(migRaw, "downtimeTargetMs", "migration", { required: false, min: 1, max: 600_000 }) ?? 300,
    streams: r.integer(migRaw, "streams", "migration", { required: false, min: 1, max: 16 }) ?? 2,
    onFailure: (r.string(migRaw, "onFailure", "migration", { required: false, allowed: FAILURE_POLICIES }) as FailurePolicy | undefined) ?? "runner-up",
    peerTimeoutMs: r.integer(migRaw, "peerTimeoutMs", "migration", { required: false, min: 100, max: 3_600_000 }) ?? 30_000,
  };

  const aucRaw = r.object(raw, "auction", "", false) ?? {};
  r.noUnknownFields(aucRaw, "auction", ["commitWindowSec", "revealWindowSec", "bondWei", "defaultReservePriceWei", "ackTimeoutMs"]);
  const auction: AuctionConfig = {
    commitWindowSec: r.integer(aucRaw, "commitWindowSec", "auction", { required: false, min: 1, max: 86_400 * 30 }) ?? 60,
    revealWindowSec: r.integer(aucRaw, "revealWindowSec", "auction", { required: false, min: 1, max: 86_400 * 30 }) ?? 48,
    bondWei: r.wei(aucRaw, "bondWei", "auction", { required: false }) ?? 10n ** 15n,
    defaultReservePriceWei: r.wei(aucRaw, "defaultReservePriceWei", "auction", { required: false, min: 1n }) ?? 10n ** 17n,
    ackTimeoutMs: r.integer(aucRaw, "ackTimeoutMs", "auction", { required: false, min: 10, max: 600_000 }) ?? 5_000,
  };

  if (auction.bondWei % 10n ** 9n !== 0n) r.issue("auction.bondWei", aucRaw.bondWei, "a whole number of gwei (the auction stores bonds in gwei)");
  const bidRaw = r.object(raw, "bidding", "", false) ?? {};
  r.noUnknownFields(bidRaw, "bidding", ["maxBondWei", "minCommitTimeLeftSec", "minRevealWindowSec"]);
  const bidding: BiddingConfig = {
    maxBondWei: r.wei(bidRaw, "maxBondWei", "bidding", { required: false }) ?? 10n ** 17n,
    minCommitTimeLeftSec: r.integer(bidRaw, "minCommitTimeLeftSec", "bidding", { required: false, min: 0, max: 86_400 }) ?? 24,
    minRevealWindowSec: r.integer(bidRaw, "minRevealWindowSec", "bidding", { required: false, min: 0, max: 86_400 }) ?? 36,
  };
  const regRaw = r.object(raw, "registration", "", false) ?? {};
  r.noUnknownFields(regRaw, "registration", ["stakeWei"]);
  const registration: RegistrationConfig = { stakeWei: r.wei(regRaw, "stakeWei", "registration", { required: false }) ?? 10n ** 18n };

  const dataDir = path(r.string(raw, "dataDir", "", { required: true }));
  const logRaw = r.object(raw, "log", "", false) ?? {};
  r.noUnknownFields(logRaw, "log", ["level"]);
  const levelRaw = r.string(logRaw, "level", "log", { required: false, allowed: ["debug", "info", "warn", "error"] });
  const log = { level: isLogLevel(levelRaw) ? levelRaw : ("info" as LogLevel) };

  if (r.issues.length > 0) throw invalid(r, source);
  // Every required value is present when there are no issues; the checks below narrow the types.
  if (!name || !chain || !contracts || !keystore || !channel || !control || !capacity || !pricing || !policyFile || !dataDir) {
    throw new TvmxError("CONFIG_INVALID", `${source}: incomplete configuration`, { details: { source } });
  }
  const config: HostConfig = {
    name, chain, contracts, keystore, channel, control, capacity, pricing, policyFile, migration, auction, bidding, registration, dataDir, log,
  };
  if (mirrorChain) config.mirrorChain = mirrorChain;
  if (metrics) config.metrics = metrics;
  if (platformFile) config.platformFile = platformFile;
  return config;
}

function readEndpoint(r: FieldReader, raw: Record<string, unknown>, key: string, required: boolean, extra: readonly string[] = []): ChainEndpointConfig | undefined {
  const obj = r.object(raw, key, "", required as true);
  if (!obj) return undefined;
  r.noUnknownFields(obj, key, ["rpcUrl", "chainId", "confirmations", "pollIntervalMs", "rpcRetries", "fees", ...extra]);
  const rpcUrl = r.url(obj, "rpcUrl", key, true);
  const chainId = r.integer(obj, "chainId", key, { required: false, min: 1, max: Number.MAX_SAFE_INTEGER });
  const confirmations = r.integer(obj, "confirmations", key, { required: false, min: 1, max: 64 }) ?? 1;
  const pollIntervalMs = r.integer(obj, "pollIntervalMs", key, { required: false, min: 10, max: 600_000 }) ?? 500;
  const rpcRetries = r.integer(obj, "rpcRetries", key, { required: false, min: 0, max: 100 }) ?? 5;
  const fees = readFeeCaps(r, obj, key);
  if (rpcUrl === undefined) return undefined;
  return { rpcUrl, ...(chainId !== undefined ? { chainId: BigInt(chainId) } : {}), confirmations, pollIntervalMs, rpcRetries, ...(fees ? { fees } : {}) };
}

/** A cap below this (1 wei) would never be mined; above 10^6 gwei per gas is a typo, not a fee. */
const MAX_FEE_CAP_WEI = 10n ** 15n;

function readFeeCaps(r: FieldReader, endpoint: Record<string, unknown>, key: string): FeeCapsConfig | undefined {
  const obj = r.object(endpoint, "fees", key, false);
  if (!obj) return undefined;
  const at = `${key}.fees`;
  r.noUnknownFields(obj, at, ["maxFeePerGasWei", "maxPriorityFeePerGasWei"]);
  const caps: FeeCapsConfig = {};
  const maxFee = r.wei(obj, "maxFeePerGasWei", at, { required: false, min: 1n });
  const priority = r.wei(obj, "maxPriorityFeePerGasWei", at, { required: false, min: 0n });
  if (maxFee !== undefined && maxFee > MAX_FEE_CAP_WEI) r.issue(`${at}.maxFeePerGasWei`, obj.maxFeePerGasWei, `an amount of wei per gas from 1 to ${MAX_FEE_CAP_WEI} (10^6 gwei)`);
  else if (maxFee !== undefined) caps.maxFeePerGasWei = maxFee;
  if (priority !== undefined && maxFee !== undefined && priority > maxFee) {
    r.issue(`${at}.maxPriorityFeePerGasWei`, obj.maxPriorityFeePerGasWei, `an amount of wei per gas at most ${at}.maxFeePerGasWei (${maxFee})`);
  } else if (priority !== undefined && priority > MAX_FEE_CAP_WEI) {
    r.issue(`${at}.maxPriorityFeePerGasWei`, obj.maxPriorityFeePerGasWei, `an amount of wei per gas from 0 to ${MAX_FEE_CAP_WEI} (10^6 gwei)`);
  } else if (priority !== undefined) caps.maxPriorityFeePerGasWei = priority;
  return caps;
}

function readChannelLimits(r: FieldReader, channelRaw: Record<string, unknown>): ChannelLimitsConfig | undefined {
  const obj = r.object(channelRaw, "limits", "channel", false);
  if (!obj) return undefined;
  const at = "channel.limits";
  r.noUnknownFields(obj, at, ["handshakeTimeoutMs", "maxPendingHandshakes", "maxPendingPerAddress", "maxPendingPerIdentity"]);
  const limits: ChannelLimitsConfig = {};
  const timeout = r.integer(obj, "handshakeTimeoutMs", at, { required: false, min: 100, max: 600_000 });
  const total = r.integer(obj, "maxPendingHandshakes", at, { required: false, min: 1, max: 65_536 });
  const perAddress = r.integer(obj, "maxPendingPerAddress", at, { required: false, min: 1, max: 65_536 });
  const perIdentity = r.integer(obj, "maxPendingPerIdentity", at, { required: false, min: 1, max: 65_536 });
  if (timeout !== undefined) limits.handshakeTimeoutMs = timeout;
  if (total !== undefined) limits.maxPendingHandshakes = total;
  if (perAddress !== undefined) limits.maxPendingPerAddress = perAddress;
  if (perIdentity !== undefined) limits.maxPendingPerIdentity = perIdentity;
  // A per-peer limit above the total would never bind; say so rather than silently ignoring it.
  const effectiveTotal = total ?? 64; // the ChannelServer default (config, a leaf, cannot import channel)
  if (perAddress !== undefined && perAddress > effectiveTotal) r.issue(`${at}.maxPendingPerAddress`, perAddress, `an integer from 1 to ${at}.maxPendingHandshakes (${effectiveTotal})`);
  if (perIdentity !== undefined && perIdentity > effectiveTotal) r.issue(`${at}.maxPendingPerIdentity`, perIdentity, `an integer from 1 to ${at}.maxPendingHandshakes (${effectiveTotal})`);
  return limits;
}

function readPortOnly(r: FieldReader, raw: Record<string, unknown>, key: string, required: boolean): { port: number } | undefined {
  const obj = r.object(raw, key, "", required as true);
  if (!obj) return undefined;
  r.noUnknownFields(obj, key, ["port"]);
  const port = r.integer(obj, "port", key, { required: true, min: 0, max: 65_535 });
  return port === undefined ? undefined : { port };
}

function readPricing(r: FieldReader, raw: Record<string, unknown>): PricingConfig | undefined {
  const obj = r.object(raw, "pricing", "", true);
  if (!obj) return undefined;
  const strategy = r.string(obj, "strategy", "pricing", { required: true, allowed: ["scarcity", "fixed"] });
  const minFreeSlots = r.integer(obj, "minFreeSlots", "pricing", { required: false, min: 0, max: 1_000_000 }) ?? 0;
  if (strategy === "fixed") {
    r.noUnknownFields(obj, "pricing", ["strategy", "priceWei", "minFreeSlots"]);
    const priceWei = r.wei(obj, "priceWei", "pricing", { required: true, min: 1n });
    return priceWei === undefined ? undefined : { strategy, priceWei, minFreeSlots };
  }
  if (strategy === "scarcity") {
    r.noUnknownFields(obj, "pricing", ["strategy", "basePriceWei", "fullPriceWei", "exponent", "minFreeSlots"]);
    const basePriceWei = r.wei(obj, "basePriceWei", "pricing", { required: true, min: 1n });
    const fullPriceWei = r.wei(obj, "fullPriceWei", "pricing", { required: true, min: 1n });
    const exponent = r.number(obj, "exponent", "pricing", { required: false, min: 0.1, max: 10 }) ?? 1;
    if (basePriceWei !== undefined && fullPriceWei !== undefined && fullPriceWei < basePriceWei) {
      r.issue("pricing.fullPriceWei", obj.fullPriceWei, `an amount >= pricing.basePriceWei (${basePriceWei})`);
      return undefined;
    }
    return basePriceWei === undefined || fullPriceWei === undefined ? undefined : { strategy, basePriceWei, fullPriceWei, exponent, minFreeSlots };
  }
  return undefined;
}

function invalid(r: FieldReader, source: string): TvmxError {
  const lines = r.issues.map(describeIssue);
  return new TvmxError("CONFIG_INVALID", `${source}: ${r.issues.length} invalid field(s): ${lines.join("; ")}`, {
    details: { source, issues: r.issues },
  });
}
