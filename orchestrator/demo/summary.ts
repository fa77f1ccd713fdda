/**
 * The demo's summary: what the source's migrate call answered, completed from the chains (bid prices, the
 * allocation's state and block, the mirror record) and from every host (its transactions and their gas), then
 * checked. `checks` lists each verification with its result; the demo passes only when all of them hold.
 */
import { formatWei } from "../util/index.js";

export interface DemoTx {
  host: string;
  label: string;
  chainId: string;
  hash: string;
  blockNumber: number;
  gasUsed: string;
  feeWei: string;
}

export interface DemoSummary {
  status: string;
  winner: string | undefined;
  winnerName: string | undefined;
  pricePaid: string | undefined;
  winningBid: string | undefined;
  acks: { host: string; name: string; capacity: number }[];
  refused: { host: string; name: string; reason: string; code?: string }[];
  bids: { host: string; name: string; priceWei: string | undefined; status: string; commitTx?: string }[];
  auctionId: string | undefined;
  allocationId: string | undefined;
  allocationTx: string | undefined;
  allocationBlock: number | undefined;
  mirrorTx: string | undefined;
  mirrorBlock: number | undefined;
  mirrorChainId: string | undefined;
  onChainState: string | undefined;
  rounds: number | undefined;
  bytes: number | undefined;
  totalMs: number | undefined;
  downtimeMs: number | undefined;
  digestMatch: boolean;
  sourceDigest: string | undefined;
  destinationDigest: string | undefined;
  transactions: DemoTx[];
  deployGas: { chainId: string; gasUsed: string }[];
  checks: { check: string; ok: boolean; detail?: string }[];
  ok: boolean;
  wallMs: number;
  workDir: string;
  /** False when the work directory is removed (a successful run without --work-dir or --keep). */
  workDirKept: boolean;
  /** The processes the demo started (all stopped when it returns). */
  processes: { name: string; pid: number }[];
}

const MIB = 1024 * 1024;

export function formatSummary(s: DemoSummary): string {
  const name = (host: string | undefined, n: string | undefined) => (host ? `${n ?? "?"} (${host})` : "-");
  const lines: string[] = [];
  lines.push(`TVM Exchange demo: ${s.status}${s.ok ? "" : "  (NOT VERIFIED)"}`);
  lines.push("");
  lines.push("acknowledgements:");
  for (const a of s.acks) lines.push(`  ${name(a.host, a.name)}  capacity ${a.capacity}`);
  if (s.acks.length === 0) lines.push("  none");
  lines.push("refused:");
  for (const r of s.refused) lines.push(`  ${name(r.host, r.name)}  ${r.code ? `[${r.code}] ` : ""}${withoutRepeat(r.reason)}`);
  if (s.refused.length === 0) lines.push("  none");
  lines.push("bids (sealed, revealed after the commit deadline):");
  for (const b of s.bids) lines.push(`  ${name(b.host, b.name)}  ${b.priceWei === undefined ? "?" : formatWei(b.priceWei)}  ${b.status}`);
  if (s.bids.length === 0) lines.push("  none");
  lines.push("");
  lines.push(`winner:            ${name(s.winner, s.winnerName)}`);
  lines.push(`price paid:        ${formatWei(s.pricePaid)} (second price; winning bid ${formatWei(s.winningBid)})`);
  lines.push(`auction:           ${s.auctionId ?? "-"}, allocation ${s.allocationId ?? "-"} (${s.onChainState ?? "?"} on-chain)`);
  lines.push(`allocation tx:     ${s.allocationTx ?? "-"} (block ${s.allocationBlock ?? "-"}, chain 31337)`);
  lines.push(`mirror tx:         ${s.mirrorTx ?? "-"} (block ${s.mirrorBlock ?? "-"}, chain ${s.mirrorChainId ?? "-"})`);
  lines.push(`migration:         ${s.rounds ?? "-"} pre-copy round(s), ${s.bytes === undefined ? "-" : `${(s.bytes / MIB).toFixed(1)} MiB`} sent`);
  lines.push(`total / downtime:  ${s.totalMs?.toFixed(1) ?? "-"} ms / ${s.downtimeMs?.toFixed(1) ?? "-"} ms`);
  lines.push(`state digest:      ${s.digestMatch ? "match" : "MISMATCH"} (${s.sourceDigest?.slice(0, 18) ?? "-"}…)`);
  lines.push("");
  lines.push(`gas of every transaction (deployment: ${s.deployGas.map((d) => `${d.gasUsed} on chain ${d.chainId}`).join(", ")}):`);
  for (const t of s.transactions) lines.push(`  ${t.host.padEnd(16)}  chain ${t.chainId}  ${t.label.padEnd(38)} ${t.gasUsed.padStart(8)}  block ${t.blockNumber}`);
  lines.push("");
  lines.push("checks:");
  for (const c of s.checks) lines.push(`  ${c.ok ? "ok  " : "FAIL"}  ${c.check}${c.detail ? ` (${c.detail})` : ""}`);
  lines.push("");
  lines.push(`demo took ${(s.wallMs / 1000).toFixed(1)} s; ${s.workDirKept ? `files and host logs kept in ${s.workDir}` : "its files were removed (keep them with --keep)"}`);
  return lines.join("\n");
}

/** An error chain often repeats its message in its cause ("X: X"): show it once. */
export function withoutRepeat(reason: string): string {
  const half = (reason.length - 2) / 2;
  return Number.isInteger(half) && reason.slice(0, half) === reason.slice(half + 2) && reason.slice(half, half + 2) === ": " ? reason.slice(0, half) : reason;
}
