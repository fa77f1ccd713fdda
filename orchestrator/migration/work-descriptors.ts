/**
 * The work descriptors the migration controller queues for its workers, and their results. Plain data only:
 * they cross the thread boundary by postMessage (SharedArrayBuffers are shared, ArrayBuffers are transferred).
 */
import type { CodecReport, MigStreamContext, TdSharedHandle, TdxStatus } from "../tdx/index.js";

export type WorkDescriptor =
  /** Reopen a TD from its shared handle in the worker (once per TD per worker). */
  | { kind: "open-td"; handle: TdSharedHandle }
  /** Which page codec the worker seals and opens pages with (its result is a `CodecReport`). */
  | { kind: "codec" }
  /**
   * SHA-384 (hex) of the TD's state (`tdStateDigest`): computed here so that the main thread, which serves the
   * sockets, is not blocked for the whole memory (about 1.5 s per GiB).
   */
  | { kind: "digest"; tdId: string }
  /** Forget a TD (after the session). */
  | { kind: "close-td"; tdId: string }
  /**
   * TDH.EXPORT.MEM of `gpas` (a transferred Uint32Array buffer) on `stream`, sealed into `out` when it is large
   * enough (a recycled bundle buffer, transferred); the bundle comes back transferred.
   */
  | { kind: "export-mem"; tdId: string; stream: MigStreamContext; gpas: ArrayBuffer; out: ArrayBuffer | null }
  /** The import leaf for one received bundle (a transferred buffer, returned with the result for reuse). */
  | { kind: "import-bundle"; tdId: string; stream: MigStreamContext; bundle: ArrayBuffer };

export interface ExportMemOutcome {
  status: TdxStatus;
  /** The buffer holding the sealed bundle (its first `bundleBytes` bytes); null when no page was exported. */
  bundle: ArrayBuffer | null;
  bundleBytes: number;
  pages: number;
  skipped: number;
}

export interface ImportBundleOutcome {
  status: TdxStatus;
  /** The bundle's buffer, handed back for the next received frame. */
  buffer: ArrayBuffer;
  mbType: number;
  pages: number;
  start: boolean;
}
