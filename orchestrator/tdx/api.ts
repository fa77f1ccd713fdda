import type { MigRequestDescriptor } from "./mig-request.js";
import type { TdxStatus } from "./status.js";
import type { TdLifecycle } from "./td-layout.js";

/**
 * The public shapes of the CPU model's leaves. Every leaf returns `{ status, ... }` and never throws for a guest
 * or wire error (only for a programmer error such as a wrong argument type).
 */

/** A migration stream (MIGSC) of one TD: created by TDH.MIG.STREAM.CREATE, postMessage-able. Its counters
 * (iv_counter, mb_counter, expected mb_counter) live in the TD's shared migration control area, so a copy sent
 * to a worker can never rewind them. */
export interface MigStreamContext {
  readonly tdId: string;
  readonly migsIndex: number;
}

export interface LeafResult {
  readonly status: TdxStatus;
}

export interface StreamCreateResult extends LeafResult {
  readonly stream?: MigStreamContext;
}

/** A sealed bundle (MBMD + payload + MACs), ready for the wire. */
export interface BundleResult extends LeafResult {
  readonly bundle?: Buffer;
}

export interface BlockwResult extends LeafResult {
  /** Pages newly write-blocked (pages already blocked give the TDX_ALREADY_WRITE_BLOCKED warning and are not counted). */
  readonly blocked: number;
}

export interface ExportMemResult extends BundleResult {
  /** Pages in the bundle. */
  readonly pages: number;
  /** GPAs left out because the guest wrote them after BLOCKW: they are on the dirty log for the next epoch. */
  readonly skipped: number;
}

export interface ExportTrackOptions {
  /** After TDH.EXPORT.PAUSE: emit the start token (mig_epoch 0xFFFFFFFF) carrying the total bundle count. */
  readonly start?: boolean;
}

export interface ExportAbortOptions {
  /** The abort token from the destination's TDH.IMPORT.ABORT; required once the start token was emitted. */
  readonly abortToken?: Uint8Array;
}

export interface ImportMemResult extends LeafResult {
  readonly pages: number;
  /** With TDX_INVALID_PAGE_MAC: the index (in the bundle's GPA list) of the first page whose tag failed. */
  readonly failedPage?: number;
}

export interface ImportTrackResult extends LeafResult {
  /** True when the token was the start token (the in-order phase is complete). */
  readonly start: boolean;
  readonly epoch: number;
}

/** Result of routing any bundle to its import leaf by mb_type (`TdxModule.importBundle`). */
export interface ImportBundleResult extends LeafResult {
  readonly mbType: number;
  readonly pages: number;
  readonly start: boolean;
}

export interface MigInitiateResult extends LeafResult {
  readonly descriptor?: MigRequestDescriptor;
  /** Canonical encoding including the platform signature. */
  readonly encoded?: Buffer;
}

export type { TdLifecycle };
