import { TvmxError } from "../errors/index.js";

/**
 * What a host publishes as its endpoint in HostRegistry: where its root VMM answers the secure auction
 * channel and where it takes incoming migration streams, as one string:
 *
 *   tvmx://127.0.0.1:7001?migration=7002
 */
export interface HostEndpoint {
  host: string;
  channelPort: number;
  migrationPort: number;
}

export function formatEndpoint(e: HostEndpoint): string {
  return `tvmx://${e.host}:${e.channelPort}?migration=${e.migrationPort}`;
}

export function parseEndpoint(text: string): HostEndpoint {
  const m = /^tvmx:\/\/([A-Za-z0-9.-]+):(\d{1,5})\?migration=(\d{1,5})$/.exec(text);
  const channelPort = m ? Number(m[2]) : 0;
  const migrationPort = m ? Number(m[3]) : 0;
  if (!m || channelPort < 1 || channelPort > 65_535 || migrationPort < 1 || migrationPort > 65_535) {
    throw new TvmxError("HOST_INCOMPATIBLE", `endpoint ${JSON.stringify(text)} is not of the form tvmx://host:port?migration=port`, { details: { endpoint: text } });
  }
  return { host: m[1]!, channelPort, migrationPort };
}
