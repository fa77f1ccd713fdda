/**
 * `tvmx host status`: what a running host says about itself (address, ports, registration, capacity, journal);
 * `tvmx host transactions`: every transaction it sent, on both chains (registrations, bids, withdrawals...).
 */
import { formatEther } from "ethers";
import type { CliIo } from "../io.js";
import { hostApiFor, type HostTargetOptions } from "./host-target.js";
import { fields, printJson, table } from "./output.js";

/**
 * Exit status of `tvmx host status` when the host answered but its auction chain did not: the output is the host's
 * local state with the chain marked unavailable (a script can tell "host up, chain down" from 0 and from 1, an error).
 */
export const EXIT_CHAIN_UNAVAILABLE = 3;

export async function run(options: HostTargetOptions & { json?: boolean }, io: CliIo): Promise<number> {
  const s = await (await hostApiFor(options)).call("GET /v1/status");
  const exit = s.chain.available ? 0 : EXIT_CHAIN_UNAVAILABLE;
  // stdout has the status either way; stderr says, in the one error format, that the chain part is missing
  const chainDown = () => io.err(`error [${s.chain.error?.code ?? "UNKNOWN"}]: the host's chain is unavailable; the status is the host's local state: ${s.chain.error?.message ?? ""}`);
  if (options.json) {
    printJson(io, s);
    if (!s.chain.available) chainDown();
    return exit;
  }
  const chain = s.chain.available ? `available (${s.chain.url})` : `unavailable [${s.chain.error?.code ?? "UNKNOWN"}] at ${s.chain.url}: ${s.chain.error?.message ?? ""}`;
  io.out(
    fields([
      ["host", s.name],
      ["address", s.address],
      ["process", `pid ${s.pid}`],
      ["chain", chain],
      ["chain id", s.chainId],
      ["registration", s.chain.available ? s.registration : "unknown (the chain did not answer)"],
      ["endpoint", s.endpoint],
      ["ports", `channel ${s.channelPort}, migration ${s.migrationPort}, control ${s.controlPort}`],
      ["metrics", s.metricsUrl],
      ["capacity", `${s.capacity.usedSlots}/${s.capacity.tvmSlots} slots, ${s.capacity.usedMemoryMiB}/${s.capacity.memoryMiB} MiB used`],
      ["TDs", s.tds],
      ["migrations in flight", s.migrationsInFlight],
      ["journal", `${s.journal.dir} (${s.journal.fromSnapshot} entries from the snapshot, ${s.journal.fromLog} from the log${s.journal.tornTail ? ", torn tail cut" : ""})`],
      ...(s.mirrorChainId !== undefined ? [["mirror chain id", s.mirrorChainId] as const] : []),
      ["crypto backend", `${s.crypto.backend} (asked: ${s.crypto.requested}${s.crypto.fallbackReason !== undefined ? `; ${s.crypto.fallbackReason}` : ""})`],
    ]),
  );
  if (s.trustDomains.length > 0) {
    io.out("");
    io.out(table([["TD", "TVM id", "memory (MiB)", "vCPUs", "state"], ...s.trustDomains.map((t) => [t.tdId, t.tvmId, t.memoryMiB, t.vcpus, t.running ? "running" : t.lifecycle])]));
  }
  if (s.migrations.length > 0) {
    io.out("");
    io.out(table([["allocation", "role", "status", "peer", "TVM id"], ...s.migrations.map((m) => [m.allocationId, m.role, m.status, m.peer, m.tvmId])]));
  }
  if (!s.chain.available) chainDown();
  return exit;
}

export async function transactions(options: HostTargetOptions & { json?: boolean }, io: CliIo): Promise<number> {
  const txs = await (await hostApiFor(options)).call("GET /v1/transactions");
  if (options.json) printJson(io, txs);
  else if (txs.length === 0) io.out("no transactions sent by this host");
  else
    io.out(
      table([
        ["chain", "block", "method", "gas", "fee (ETH)", "value (ETH)", "hash"],
        ...txs.map((t) => [t.chainId, t.blockNumber, t.label, t.gasUsed, formatEther(BigInt(t.feeWei)), formatEther(BigInt(t.valueWei)), t.hash]),
      ]),
    );
  return 0;
}
