import { describeError, innermostCodeOf, isTvmxError } from "../errors/index.js";
import { codecReport, type CodecReport } from "../tdx/index.js";
import type { HostContext } from "./context.js";
import type { TdManager, TdSummary } from "./td-manager.js";

export interface HostStatus {
  name: string;
  address: string;
  chainId: bigint;
  endpoint: string;
  channelPort: number;
  migrationPort: number;
  controlPort: number;
  metricsUrl?: string;
  /** The registry's word on this host ("Active", ...), or "unknown" when the chain did not answer. */
  registration: string;
  /** The daemon's process id. */
  pid: number;
  /** Whether the auction chain answered the status query; the rest of the status is local state either way. */
  chain: ChainAvailability;
  capacity: ReturnType<TdManager["capacity"]>;
  tds: number;
  /** The TDs running here (local state). */
  trustDomains: TdSummary[];
  migrationsInFlight: number;
  /** Every migration the journal knows, in flight or finished (local state). */
  migrations: MigrationStatus[];
  journal: { dir: string; fromSnapshot: number; fromLog: number; tornTail: boolean };
  mirrorChainId?: bigint;
  /** The page codec sealing and opening migration bundles: native (the addon) or node (node:crypto). */
  crypto: CodecReport;
}

/** The auction chain as the status query found it: answering, or not (with the error's code and message). */
export interface ChainAvailability {
  url: string;
  available: boolean;
  error?: { code: string; message: string };
}

/** One migration of the journal, for `host status`. */
export interface MigrationStatus {
  allocationId: bigint;
  role: string;
  status: string;
  tvmId: string;
  peer: string;
}

/** Where the host listens (fixed once it started). */
export interface HostPorts {
  endpoint: string;
  channelPort: number;
  migrationPort: number;
  controlPort: number;
  metricsUrl: string | undefined;
}

/**
 * How long `status()` waits for the chain (retrying through an outage) before answering from local state with the
 * chain marked unavailable: the operator asks exactly when something is wrong, and must get an answer.
 */
export const STATUS_CHAIN_BUDGET_MS = 2_000;

/**
 * What this host is doing. Everything but the registration is local state (ports, TDs, journal, migrations), so a
 * chain that does not answer within STATUS_CHAIN_BUDGET_MS is reported (`chain.available: false`, with the error
 * code) rather than failing the whole status.
 */
export async function hostStatus(ctx: HostContext, ports: HostPorts): Promise<HostStatus> {
  const chain: ChainAvailability = { url: ctx.market.chain.url, available: true };
  let registration = "unknown";
  try {
    const until = { atMs: Date.now() + STATUS_CHAIN_BUDGET_MS, what: `the status query's ${STATUS_CHAIN_BUDGET_MS} ms chain budget` };
    registration = (await ctx.market.hostRegistry.hostInfo(ctx.address, until)).state;
  } catch (err) {
    chain.available = false;
    chain.error = { code: innermostCodeOf(err) ?? "UNKNOWN", message: isTvmxError(err) ? err.message : describeError(err) };
    ctx.logger.warn("status: the chain did not answer; answering from local state", { code: chain.error.code, err });
  }
  const report = ctx.journal.report;
  const migrations = [...ctx.journal.state.migrations.values()];
  return {
    name: ctx.config.name,
    address: ctx.address,
    chainId: ctx.market.chain.chainId,
    endpoint: ports.endpoint,
    channelPort: ports.channelPort,
    migrationPort: ports.migrationPort,
    controlPort: ports.controlPort,
    ...(ports.metricsUrl ? { metricsUrl: ports.metricsUrl } : {}),
    registration,
    pid: process.pid,
    chain,
    capacity: ctx.tds.capacity(),
    tds: ctx.tds.list().length,
    trustDomains: ctx.tds.list(),
    migrationsInFlight: migrations.filter((m) => m.status === "running").length,
    migrations: migrations.map((m) => ({ allocationId: m.allocationId, role: m.role, status: m.status, tvmId: m.tvmId, peer: m.peer })),
    journal: { dir: ctx.journal.dir, fromSnapshot: report.fromSnapshot, fromLog: report.fromLog, tornTail: report.tornTail !== undefined },
    ...(ctx.mirror ? { mirrorChainId: ctx.mirror.chainId } : {}),
    crypto: codecReport(),
  };
}
