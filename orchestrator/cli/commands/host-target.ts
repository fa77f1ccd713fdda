/**
 * How a command finds the host it talks to: `--config <file>` (the host's config file: its data directory) or
 * `--data-dir <dir>`; the control API's port and token are read from that directory.
 */
import { loadHostConfig } from "../../config/index.js";
import { ApiClient, ControlClient } from "../../control/index.js";
import type { HostControlApi } from "../../host/index.js";
import { CliArgumentError } from "../errors.js";

export interface HostTargetOptions {
  config?: string;
  dataDir?: string;
}

export async function controlClientFor(options: HostTargetOptions, timeoutMs = 30_000): Promise<ControlClient> {
  if (options.config !== undefined && options.dataDir !== undefined) {
    throw new CliArgumentError("give either --config or --data-dir, not both", { details: { config: options.config, dataDir: options.dataDir } });
  }
  if (options.config === undefined && options.dataDir === undefined) {
    throw new CliArgumentError("which host? give --config <host config file> or --data-dir <host data directory>");
  }
  const dataDir = options.dataDir ?? (await loadHostConfig(options.config!)).dataDir;
  return ControlClient.fromDataDir(dataDir, { timeoutMs });
}

/** The host's control API, typed by its one definition (host/control-api.ts). */
export async function hostApiFor(options: HostTargetOptions, timeoutMs = 30_000): Promise<ApiClient<HostControlApi>> {
  return new ApiClient<HostControlApi>(await controlClientFor(options, timeoutMs));
}
