/**
 * `tvmx host status`: what a running host says about itself (address, ports, registration, capacity, journal);
 * `tvmx host transactions`: every transaction it sent, on both chains (registrations, bids, withdrawals...).
 */
import type { HostStatus } from "../../host/index.js";
import type { TxReport } from "../../chain/index.js";
import { formatEther } from "ethers";
import type { CliIo } from "../io.js";
import { controlClientFor, type HostTargetOptions } from "./host-target.js";
import { fields, printJson, table } from "./output.js";

export async function run(options: HostTargetOptions & { json?: boolean }, io: CliIo): Promise<number> {
  const client = await controlClientFor(options);
  const s = await client.get<Json<HostStatus>>("/v1/status");
  if (options.json) {
    printJson(io, s);
    return 0;
  }
  io.out(
    fields([
      ["host", s.name],
      ["address", s.address],
      ["chain id", s.chainId],
      ["registration", s.registration],
      ["endpoint", s.endpoint],
      ["control port", s.controlPort],
      ["metrics", s.metricsUrl],
      ["capacity", `${s.capacity.usedSlots}/${s.capacity.tvmSlots} slots, ${s.capacity.usedMemoryMiB}/${s.capacity.memoryMiB} MiB used`],
      ["TDs", s.tds],
      ["migrations in flight", s.migrationsInFlight],
      ["journal", `${s.journal.dir} (${s.journal.fromSnapshot} entries from the snapshot, ${s.journal.fromLog} from the log${s.journal.tornTail ? ", torn tail cut" : ""})`],
      ...(s.mirrorChainId !== undefined ? [["mirror chain id", s.mirrorChainId] as const] : []),
      ["crypto backend", `${s.crypto.backend} (asked: ${s.crypto.requested}${s.crypto.fallbackReason !== undefined ? `; ${s.crypto.fallbackReason}` : ""})`],
    ]),
  );
  return 0;
}

export async function transactions(options: HostTargetOptions & { json?: boolean }, io: CliIo): Promise<number> {
  const client = await controlClientFor(options);
  const txs = await client.get<Json<Omit<TxReport, "receipt">>[]>("/v1/transactions");
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

/** A type as it arrives over JSON (bigint fields are decimal strings). */
type Json<T> = { [K in keyof T]: T[K] extends bigint ? string : T[K] extends bigint | undefined ? string | undefined : T[K] };
