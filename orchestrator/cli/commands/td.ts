/** `tvmx td create|list|show`: the TDs a running host runs. */
import type { JsonForm } from "../../control/index.js";
import type { TdSummary } from "../../host/index.js";
import { CliArgumentError } from "../errors.js";
import type { CliIo } from "../io.js";
import { hostApiFor, type HostTargetOptions } from "./host-target.js";
import { fields, printJson, table } from "./output.js";

export interface TdCreateOptions extends HostTargetOptions {
  memoryMib: number;
  vcpus: number;
  workloadBytesPerSec?: number;
  workloadHotMib?: number;
  workloadSeed?: number;
  /** Print only the TVM id (`TVM=$(tvmx td create -q ...)`). */
  quiet?: boolean;
  json?: boolean;
}

export async function create(options: TdCreateOptions, io: CliIo): Promise<number> {
  const rate = options.workloadBytesPerSec ?? 0;
  const hot = options.workloadHotMib ?? Math.min(8, options.memoryMib);
  if (hot > options.memoryMib) {
    throw new CliArgumentError(`--workload-hot-mib (${hot}) cannot exceed --memory-mib (${options.memoryMib})`, { details: { workloadHotMib: hot, memoryMib: options.memoryMib } });
  }
  const td = await (await hostApiFor(options)).call("POST /v1/tds", {
    body: {
      memoryMiB: options.memoryMib,
      vcpus: options.vcpus,
      ...(rate > 0 ? { workload: { bytesPerSecond: rate, hotSetMiB: hot, seed: options.workloadSeed ?? 1 } } : {}),
    },
  });
  if (options.quiet) io.out(td.tvmId);
  else if (options.json) printJson(io, td);
  else io.out(`created TD ${td.tdId} (TVM ${td.tvmId}): ${td.memoryMiB} MiB, ${td.vcpus} vCPU(s)${rate > 0 ? `, guest writing ${rate} B/s over ${hot} MiB` : ", idle guest"}`);
  return 0;
}

export async function list(options: HostTargetOptions & { json?: boolean }, io: CliIo): Promise<number> {
  const tds = await (await hostApiFor(options)).call("GET /v1/tds");
  if (options.json) printJson(io, tds);
  else if (tds.length === 0) io.out("no TDs on this host");
  else io.out(table([["TD", "TVM", "MiB", "vCPUs", "state", "origin"], ...tds.map((t) => [t.tdId, t.tvmId, t.memoryMiB, t.vcpus, t.lifecycle, originOf(t)])]));
  return 0;
}

export async function show(id: string, options: HostTargetOptions & { json?: boolean }, io: CliIo): Promise<number> {
  const td = await (await hostApiFor(options)).call("GET /v1/tds/:id", { params: { id } });
  if (options.json) printJson(io, td);
  else
    io.out(
      fields([
        ["TD", td.tdId],
        ["TVM", td.tvmId],
        ["memory", `${td.memoryMiB} MiB`],
        ["vCPUs", td.vcpus],
        ["state", `${td.lifecycle}${td.running ? " (running)" : ""}`],
        ["guest bytes written", td.workloadBytesWritten],
        ["origin", originOf(td)],
      ]),
    );
  return 0;
}

function originOf(t: JsonForm<TdSummary>): string {
  const o = t.origin as { kind: string; allocationId?: unknown; source?: unknown };
  return o.kind === "imported" ? `imported from ${String(o.source)} (allocation ${String(o.allocationId)})` : o.kind;
}
