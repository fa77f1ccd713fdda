/**
 * The migration key of one TD: its slot in the TDCS and the control words that describe it (KEY_SET, MIG_VERSION,
 * KEY_PROVEN, KEY_GEN). Both live in the TD's shared memory, so every thread's view of the TD sees one key; only the
 * key's crypto forms (a KeyObject, the page codec's key) are kept per thread, rebuilt when KEY_GEN moves.
 * `TrustDomain` owns one and its migration-key members delegate to it.
 */
import { createSecretKey, type KeyObject } from "node:crypto";
import { MIG_KEY_SIZE } from "./constants.js";
import type { CodecKey } from "./page-codec.js";
import { CTL } from "./td-layout.js";
import { TDCS_OFFSET } from "./td-shared.js";

export class MigrationKeySlot {
  readonly #tdcs: Buffer;
  readonly #control: Int32Array;
  #keyObject: KeyObject | undefined;
  #keyGen = -1;
  #codecKey: CodecKey | undefined;

  /** Over the TD's TDCS and control words (views of its shared memory). */
  constructor(tdcs: Buffer, control: Int32Array) {
    this.#tdcs = tdcs;
    this.#control = control;
  }

  get isSet(): boolean {
    return Atomics.load(this.#control, CTL.KEY_SET) === 1;
  }

  /** The migration version the key was installed for (the MBMD's `mig_version`). */
  get version(): number {
    return Atomics.load(this.#control, CTL.MIG_VERSION);
  }

  /** The installed key (a view into the TDCS; never leaves the model except into a cipher). */
  bytes(): Buffer {
    return this.#tdcs.subarray(TDCS_OFFSET.migKey, TDCS_OFFSET.migKey + MIG_KEY_SIZE);
  }

  /** Installs `key` for `version`; it is not proven until a bundle authenticates under it. */
  install(key: Uint8Array, version: number): void {
    this.#tdcs.set(key, TDCS_OFFSET.migKey);
    Atomics.store(this.#control, CTL.MIG_VERSION, version);
    Atomics.store(this.#control, CTL.KEY_PROVEN, 0);
    Atomics.add(this.#control, CTL.KEY_GEN, 1);
    Atomics.store(this.#control, CTL.KEY_SET, 1);
  }

  clear(): void {
    this.#tdcs.fill(0, TDCS_OFFSET.migKey, TDCS_OFFSET.migKey + MIG_KEY_SIZE);
    Atomics.store(this.#control, CTL.KEY_SET, 0);
    Atomics.add(this.#control, CTL.KEY_GEN, 1);
  }

  /** The key as a KeyObject of this thread, rebuilt only when the key changes. */
  keyObject(): KeyObject {
    const gen = Atomics.load(this.#control, CTL.KEY_GEN);
    if (this.#keyObject === undefined || this.#keyGen !== gen) {
      this.#keyObject = createSecretKey(Buffer.from(this.bytes()));
      this.#keyGen = gen;
    }
    return this.#keyObject;
  }

  /** The key for the page codec: the raw TDCS bytes (native backend) and the KeyObject (node:crypto). */
  codecKey(): CodecKey {
    const object = this.keyObject();
    if (this.#codecKey === undefined || this.#codecKey.object !== object) this.#codecKey = { bytes: this.bytes(), object };
    return this.#codecKey;
  }
}
