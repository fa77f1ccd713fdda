/**
 * The work descriptors the migration controller queues for its workers, and their results. Plain data only:
 * they cross the thread boundary by postMessage (SharedArrayBuffers are shared, ArrayBuffers are transferred).
 */
import type { MigStreamContext, TdSharedHandle, TdxStatus } from "../tdx/index.js";

export type WorkDescriptor =
  /** Reopen a TD from its shared handle in the worker (once per TD per worker). */
  | { kind: "open-td"; handle: TdSharedHandle }
  /** Forget a TD (after the session). */
  | { kind: "close-td"; tdId: string }
  /** TDH.EXPORT.MEM of `gpas` (a transferred Uint32Array buffer) on `stream`; the bundle comes back transferred. */
  | { kind: "export-mem"; tdId: string; stream: MigStreamContext; gpas: ArrayBuffer }
  /** The import leaf for one received bundle (a transferred buffer) on `stream`. */
  | { kind: "import-bundle"; tdId: string; stream: MigStreamContext; bundle: ArrayBuffer };

export interface ExportMemOutcome {
  status: TdxStatus;
  /** The sealed bundle (its own buffer) when pages were exported. */
  bundle: ArrayBuffer | null;
  pages: number;
  skipped: number;
}

export interface ImportBundleOutcome {
  status: TdxStatus;
  mbType: number;
  pages: number;
  start: boolean;
}
