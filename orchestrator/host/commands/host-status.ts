/**
 * `tvmx host status --config <file> [--json]`: asks the running host (through its control API) what it is
 * doing. Errors: CONTROL_UNREACHABLE when no host runs for that data directory, CONTROL_UNAUTHORIZED on a
 * wrong token.
 */
import { loadHostConfig } from "../../config/index.js";
import { ControlClient } from "../../control/index.js";
import type { HostStatus } from "../host.js";

export interface HostStatusOptions {
  config: string;
  json?: boolean;
}

export async function run(options: HostStatusOptions, io: { out(text: string): void }): Promise<number> {
  const config = await loadHostConfig(options.config);
  const client = await ControlClient.fromDataDir(config.dataDir);
  const s = await client.get<Record<keyof HostStatus, unknown> & { capacity: { tvmSlots: number; usedSlots: number; memoryMiB: number; usedMemoryMiB: number } }>("/v1/status");
  if (options.json) {
    io.out(JSON.stringify(s));
    return 0;
  }
  io.out(
    [
      `host        ${s.name} ${s.address}`,
      `chain       ${s.chainId}${s.mirrorChainId !== undefined ? ` (own chain ${s.mirrorChainId})` : ""}, registration ${s.registration}`,
      `endpoint    ${s.endpoint}`,
      `control     127.0.0.1:${s.controlPort}${s.metricsUrl ? `, metrics ${s.metricsUrl}` : ""}`,
      `capacity    ${s.capacity.usedSlots}/${s.capacity.tvmSlots} slots, ${s.capacity.usedMemoryMiB}/${s.capacity.memoryMiB} MiB`,
      `TDs         ${s.tds}, migrations in flight ${s.migrationsInFlight}`,
    ].join("\n"),
  );
  return 0;
}
