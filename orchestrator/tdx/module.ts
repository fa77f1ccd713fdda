import type { KeyObject } from "node:crypto";
import type {
  BlockwResult,
  BundleResult,
  ExportAbortOptions,
  ExportMemResult,
  ExportTrackOptions,
  ImportBundleResult,
  ImportMemResult,
  ImportTrackResult,
  LeafResult,
  MigInitiateResult,
  MigStreamContext,
  StreamCreateResult,
} from "./api.js";
import { ATTRIBUTES, MIG_KEY_SIZE } from "./constants.js";
import { TdxModelError } from "./errors.js";
import * as exp from "./export-leaves.js";
import * as imp from "./import-leaves.js";
import { LEAF, leafName, type LeafName } from "./leaf.js";
import { signMigRequest } from "./mig-request.js";
import { createStream } from "./mig-stream.js";
import { TDX_STATUS } from "./status.js";
import { OP_STATE, CTL } from "./td-layout.js";
import type { TrustDomain } from "./trust-domain.js";

const ok = TDX_STATUS.TDX_SUCCESS;

/**
 * TDH.MIG.INITIATE's argument: an optional caller nonce (e.g. one the auction chose) and timestamp; both default
 * to fresh values.
 */
export interface MigInitiateOptions {
  readonly nonce?: Buffer;
  readonly issuedAtMs?: number;
}

/**
 * Installs the migration session key and protocol version into a TD's migration context (what the migration TD
 * does after mutual attestation). The version must be one this platform can export (source TD) or import
 * (destination TD); a key can only be changed outside a migration session.
 */
export function setMigrationKey(td: TrustDomain, key: Uint8Array, migrationVersion: number): LeafResult {
  if (!(key instanceof Uint8Array) || key.length !== MIG_KEY_SIZE) return { status: TDX_STATUS.TDX_MIG_KEY_INVALID };
  const state = td.opState;
  const range = td.platform.migrationVersions;
  let min: number;
  let max: number;
  if (state === OP_STATE.RUNNABLE) {
    if (Atomics.load(td.control, CTL.RESTORE_PENDING) === 1) return { status: TDX_STATUS.TDX_PREVIOUS_EXPORT_CLEANUP_INCOMPLETE };
    [min, max] = [range.exportMin, range.exportMax];
  } else if (state === OP_STATE.IMPORT_READY) {
    [min, max] = [range.importMin, range.importMax];
  } else {
    return { status: td.requireState([OP_STATE.RUNNABLE, OP_STATE.IMPORT_READY]) };
  }
  if (!Number.isInteger(migrationVersion) || migrationVersion < min || migrationVersion > max) return { status: TDX_STATUS.TDX_MIG_VERSION_UNSUPPORTED };
  td.installMigrationKey(key, migrationVersion);
  return { status: ok };
}

/**
 * The TDX module of a platform: the SEAMCALL leaves of the migration ABI, named after them, plus `seamcall()` by
 * leaf number. A worker builds its own `new TdxModule()` (no signing key: TDH.MIG.INITIATE stays on the main
 * thread) and runs the memory leaves on a TD it reopened with `openTdShared`.
 */
export class TdxModule {
  private readonly signingKey: KeyObject | undefined;

  constructor(signingKey?: KeyObject) {
    this.signingKey = signingKey;
  }

  // ---- the model's own leaf ----

  /**
   * TDH.MIG.INITIATE: executed on a running, migratable TD, produces the migration request descriptor (the TD's
   * configuration including its TCB capability and a nonce) signed by the platform's attestation key.
   */
  migInitiate(td: TrustDomain, options: MigInitiateOptions = {}): MigInitiateResult {
    if (this.signingKey === undefined) throw new TdxModelError("TDX_NO_SIGNING_KEY", "TDH.MIG.INITIATE needs the platform's module (with its attestation key)");
    const state = td.requireState([OP_STATE.RUNNABLE]);
    if (state !== ok) return { status: state };
    const config = td.config;
    if ((config.attributes & ATTRIBUTES.MIGRATABLE) === 0n) return { status: TDX_STATUS.TDX_TD_NOT_MIGRATABLE };
    const range = td.platform.migrationVersions;
    const { descriptor, encoded } = signMigRequest(
      {
        tdId: config.tdId,
        attributes: config.attributes,
        xfam: config.xfam,
        mrTd: config.mrTd,
        numVcpus: config.numVcpus,
        memoryBytes: td.memoryBytes,
        migrationVersions: { min: range.exportMin, max: range.exportMax },
        cpuidFeatures: config.cpuidFeatures,
        tcb: config.tcb,
        ...(options.nonce !== undefined ? { nonce: options.nonce } : {}),
        ...(options.issuedAtMs !== undefined ? { issuedAtMs: options.issuedAtMs } : {}),
      },
      this.signingKey,
    );
    return { status: ok, descriptor, encoded };
  }

  // ---- keys and streams ----

  setMigrationKey(td: TrustDomain, key: Uint8Array, migrationVersion: number): LeafResult {
    return setMigrationKey(td, key, migrationVersion);
  }

  /** TDH.MIG.STREAM.CREATE. */
  streamCreate(td: TrustDomain, migsIndex: number): StreamCreateResult {
    const state = td.requireState([OP_STATE.RUNNABLE, OP_STATE.LIVE_EXPORT, OP_STATE.IMPORT_READY, OP_STATE.MEMORY_IMPORT]);
    if (state !== ok) return { status: state };
    return createStream(td, migsIndex);
  }

  // ---- export ----

  exportStateImmutable(td: TrustDomain, stream: MigStreamContext): BundleResult {
    return exp.exportStateImmutable(td, stream);
  }
  exportBlockw(td: TrustDomain, gpas: ArrayLike<number>): BlockwResult {
    return exp.exportBlockw(td, gpas);
  }
  /** TDH.EXPORT.BLOCKW of every page (the first epoch); O(memory), never during the blackout. */
  exportBlockwAll(td: TrustDomain): BlockwResult {
    return exp.exportBlockwAll(td);
  }
  exportUnblockw(td: TrustDomain, gpa: number): LeafResult {
    return exp.exportUnblockw(td, gpa);
  }
  exportMem(td: TrustDomain, stream: MigStreamContext, gpas: ArrayLike<number>, out?: Buffer): ExportMemResult {
    return exp.exportMem(td, stream, gpas, out);
  }
  exportPause(td: TrustDomain): LeafResult {
    return exp.exportPause(td);
  }
  exportStateTd(td: TrustDomain, stream: MigStreamContext): BundleResult {
    return exp.exportStateTd(td, stream);
  }
  exportStateVp(td: TrustDomain, stream: MigStreamContext, vpIndex: number): BundleResult {
    return exp.exportStateVp(td, stream, vpIndex);
  }
  exportTrack(td: TrustDomain, stream: MigStreamContext, options?: ExportTrackOptions): BundleResult {
    return exp.exportTrack(td, stream, options);
  }
  exportAbort(td: TrustDomain, stream: MigStreamContext, options?: ExportAbortOptions): LeafResult {
    return exp.exportAbort(td, stream, options);
  }
  exportRestore(td: TrustDomain): LeafResult {
    return exp.exportRestore(td);
  }

  // ---- import ----

  importStateImmutable(td: TrustDomain, stream: MigStreamContext, bundle: Uint8Array): LeafResult {
    return imp.importStateImmutable(td, stream, bundle);
  }
  importMem(td: TrustDomain, stream: MigStreamContext, bundle: Uint8Array): ImportMemResult {
    return imp.importMem(td, stream, bundle);
  }
  importStateTd(td: TrustDomain, stream: MigStreamContext, bundle: Uint8Array): LeafResult {
    return imp.importStateTd(td, stream, bundle);
  }
  importStateVp(td: TrustDomain, stream: MigStreamContext, bundle: Uint8Array): LeafResult {
    return imp.importStateVp(td, stream, bundle);
  }
  importTrack(td: TrustDomain, stream: MigStreamContext, bundle: Uint8Array): ImportTrackResult {
    return imp.importTrack(td, stream, bundle);
  }
  importCommit(td: TrustDomain): LeafResult {
    return imp.importCommit(td);
  }
  importEnd(td: TrustDomain): LeafResult {
    return imp.importEnd(td);
  }
  importAbort(td: TrustDomain, stream: MigStreamContext): BundleResult {
    return imp.importAbort(td, stream);
  }
  /** Routes any forward-stream bundle to its import leaf by mb_type. */
  importBundle(td: TrustDomain, stream: MigStreamContext, bundle: Uint8Array): ImportBundleResult {
    return imp.importBundle(td, stream, bundle);
  }

  // ---- teardown ----

  /**
   * Tears a TD down (TDH.MNG.VPFLUSHDONE, KEY.FREEID, PHYMEM.PAGE.RECLAIM): key erased, never to run again, its
   * memory unreadable through any leaf from here on. The memory is released, not written: zero-filling it would make
   * every page of it resident (a 4 GiB import TD that never received a page would cost 4 GiB at its abort). With
   * the HKID freed, real TDX leaves the reclaimed pages' ciphertext unreadable in the same way.
   * Refused while an export session is live (abort it first) or before a committed import ended.
   */
  teardown(td: TrustDomain): LeafResult {
    const status = td.transition(
      [OP_STATE.CREATED, OP_STATE.RUNNABLE, OP_STATE.POST_EXPORT, OP_STATE.IMPORT_READY, OP_STATE.FAILED_IMPORT],
      OP_STATE.TORN_DOWN,
    );
    if (status !== ok) return { status };
    td.clearMigrationKey();
    return { status: ok };
  }

  // ---- SEAMCALL by number ----

  /** Calls a leaf by number with its arguments, as the VMM's SEAMCALL would. */
  seamcall(leaf: number, args: SeamcallArgs): LeafResult {
    const name: LeafName | undefined = leafName(leaf);
    if (name === undefined) return { status: TDX_STATUS.TDX_OPERAND_INVALID };
    const { td } = args;
    const stream = (): MigStreamContext => {
      if (args.stream === undefined) throw new TdxModelError("TDX_ARGUMENT_MISSING", `${name} needs a stream`);
      return args.stream;
    };
    const bundle = (): Uint8Array => {
      if (args.bundle === undefined) throw new TdxModelError("TDX_ARGUMENT_MISSING", `${name} needs a bundle`);
      return args.bundle;
    };
    switch (leaf) {
      case LEAF["TDH.MIG.STREAM.CREATE"]:
        return this.streamCreate(td, args.migsIndex ?? 0);
      case LEAF["TDH.MIG.INITIATE"]:
        return this.migInitiate(td, args.nonce !== undefined ? { nonce: args.nonce } : {});
      case LEAF["TDH.EXPORT.STATE.IMMUTABLE"]:
        return this.exportStateImmutable(td, stream());
      case LEAF["TDH.EXPORT.BLOCKW"]:
        return this.exportBlockw(td, args.gpas ?? []);
      case LEAF["TDH.EXPORT.UNBLOCKW"]:
        return this.exportUnblockw(td, args.gpa ?? -1);
      case LEAF["TDH.EXPORT.MEM"]:
        return this.exportMem(td, stream(), args.gpas ?? [], args.out);
      case LEAF["TDH.EXPORT.PAUSE"]:
        return this.exportPause(td);
      case LEAF["TDH.EXPORT.STATE.TD"]:
        return this.exportStateTd(td, stream());
      case LEAF["TDH.EXPORT.STATE.VP"]:
        return this.exportStateVp(td, stream(), args.vpIndex ?? -1);
      case LEAF["TDH.EXPORT.TRACK"]:
        return this.exportTrack(td, stream(), { start: args.start === true });
      case LEAF["TDH.EXPORT.ABORT"]:
        return this.exportAbort(td, stream(), args.bundle !== undefined ? { abortToken: args.bundle } : {});
      case LEAF["TDH.EXPORT.RESTORE"]:
        return this.exportRestore(td);
      case LEAF["TDH.IMPORT.STATE.IMMUTABLE"]:
        return this.importStateImmutable(td, stream(), bundle());
      case LEAF["TDH.IMPORT.MEM"]:
        return this.importMem(td, stream(), bundle());
      case LEAF["TDH.IMPORT.STATE.TD"]:
        return this.importStateTd(td, stream(), bundle());
      case LEAF["TDH.IMPORT.STATE.VP"]:
        return this.importStateVp(td, stream(), bundle());
      case LEAF["TDH.IMPORT.TRACK"]:
        return this.importTrack(td, stream(), bundle());
      case LEAF["TDH.IMPORT.COMMIT"]:
        return this.importCommit(td);
      case LEAF["TDH.IMPORT.END"]:
        return this.importEnd(td);
      case LEAF["TDH.IMPORT.ABORT"]:
        return this.importAbort(td, stream());
      default:
        return { status: TDX_STATUS.TDX_OPERAND_INVALID };
    }
  }
}

/** Arguments of `seamcall()` (the register operands, as named values). */
export interface SeamcallArgs {
  readonly td: TrustDomain;
  readonly stream?: MigStreamContext;
  readonly migsIndex?: number;
  readonly gpas?: ArrayLike<number>;
  readonly gpa?: number;
  readonly vpIndex?: number;
  readonly bundle?: Uint8Array;
  readonly start?: boolean;
  readonly out?: Buffer;
  readonly nonce?: Buffer;
}
