import { tvmIdFor } from "../chain/index.js";
import { TvmxError } from "../errors/index.js";
import type { HostJournal, TdRecord } from "../journal/index.js";
import type { Logger } from "../log/index.js";
import type { HostMetrics } from "../metrics/index.js";
import type { CapacityView } from "../pricing/index.js";
import { GuestWorkload, tdStateDigest, type Platform, type TrustDomain } from "../tdx/index.js";

const MIB = 1024 * 1024;

/** What `tvmx td create` asks for. */
export interface TdSpec {
  memoryMiB: number;
  vcpus: number;
  /** The guest workload writing to memory while the TD runs (absent: an idle guest). */
  workload?: { bytesPerSecond: number; hotSetMiB: number; seed: number };
}

export interface RunningTd {
  tdId: string;
  tvmId: string;
  spec: TdSpec;
  td: TrustDomain;
  workload: GuestWorkload | undefined;
  origin: TdRecord["origin"];
}

export interface TdSummary {
  tdId: string;
  tvmId: string;
  memoryMiB: number;
  vcpus: number;
  lifecycle: string;
  running: boolean;
  workloadBytesWritten: number;
  origin: TdRecord["origin"];
}

/**
 * The TDs this host runs, its capacity for more, and slots held for incoming migrations. Every TD created or
 * imported is journaled; a TD whose memory lived in a process that crashed cannot come back (its pages are
 * gone) and is reported as lost on restart.
 */
export class TdManager {
  /** This host's address: the origin every TVM id it creates commits to. */
  readonly #origin: string;
  readonly #platform: Platform;
  readonly #journal: HostJournal;
  readonly #capacity: { tvmSlots: number; memoryMiB: number };
  readonly #log: Logger;
  readonly #metrics: HostMetrics | undefined;
  readonly #tds = new Map<string, RunningTd>();
  /** Incoming migrations holding a slot: migration id → memory MiB. */
  readonly #reserved = new Map<string, number>();

  constructor(
    origin: string,
    platform: Platform,
    journal: HostJournal,
    capacity: { tvmSlots: number; memoryMiB: number },
    logger: Logger,
    metrics?: HostMetrics,
  ) {
    this.#origin = origin;
    this.#platform = platform;
    this.#journal = journal;
    this.#capacity = capacity;
    this.#log = logger;
    this.#metrics = metrics;
  }

  /**
   * Recovery: TDs the journal lists but this process does not run were lost with the previous process, except those
   * whose outgoing migration had journaled the source's hand-over: the previous process had paused them and sent
   * (or was about to send) the hand-over, so the destination may run them now. Those are not reported lost (the
   * chain's outcome of the allocation, which recovery resolves, says where the TVM runs) and are not counted.
   */
  async reconcileAfterRestart(): Promise<string[]> {
    const lost: string[] = [];
    const handedOver = new Map<string, bigint>();
    for (const m of this.#journal.state.migrations.values()) {
      if (m.role === "source" && m.status === "running" && m.handOver && m.tdId) handedOver.set(m.tdId, m.allocationId);
    }
    for (const record of [...this.#journal.state.tds.values()]) {
      if (this.#tds.has(record.tdId)) continue;
      const allocationId = handedOver.get(record.tdId);
      if (allocationId !== undefined) {
        this.#log.warn("TD handed over before the previous process ended: the allocation's outcome on-chain says where it runs", { tdId: record.tdId, tvmId: record.tvmId, allocationId });
        await this.#journal.record({ type: "td.removed", tdId: record.tdId, reason: `handed over (allocation ${allocationId}) when the host process ended` });
        continue;
      }
      lost.push(record.tdId);
      this.#log.error("TD lost: it ran in the previous process, whose memory is gone", { tdId: record.tdId, tvmId: record.tvmId });
      await this.#journal.record({ type: "td.removed", tdId: record.tdId, reason: "lost when the host process ended" });
    }
    this.#updateGauges();
    return lost;
  }

  capacity(): CapacityView {
    let usedMemoryMiB = 0;
    for (const t of this.#tds.values()) usedMemoryMiB += t.spec.memoryMiB;
    for (const mib of this.#reserved.values()) usedMemoryMiB += mib;
    return {
      tvmSlots: this.#capacity.tvmSlots,
      memoryMiB: this.#capacity.memoryMiB,
      usedSlots: Math.min(this.#capacity.tvmSlots, this.#tds.size + this.#reserved.size),
      usedMemoryMiB: Math.min(this.#capacity.memoryMiB, usedMemoryMiB),
    };
  }

  async create(spec: TdSpec): Promise<RunningTd> {
    checkSpec(spec);
    const cap = this.capacity();
    if (cap.usedSlots >= cap.tvmSlots || cap.usedMemoryMiB + spec.memoryMiB > cap.memoryMiB) {
      throw new TvmxError("HOST_NO_CAPACITY", `no room for a ${spec.memoryMiB} MiB TD (${cap.usedSlots}/${cap.tvmSlots} slots, ${cap.usedMemoryMiB}/${cap.memoryMiB} MiB used)`, {
        details: { ...cap, requestedMiB: spec.memoryMiB },
      });
    }
    const td = this.#platform.createTd({ memoryBytes: spec.memoryMiB * MIB, numVcpus: spec.vcpus });
    // The id commits to this host as the TVM's origin (address ‖ 12 random bytes): only it may open the first auction.
    const tvmId = tvmIdFor(this.#origin);
    return this.#adopt(td, tvmId, spec, { kind: "created" });
  }

  /** Takes over a TD that an incoming migration committed here. */
  async adoptImported(td: TrustDomain, tvmId: string, spec: TdSpec, origin: { allocationId: bigint; source: string }): Promise<RunningTd> {
    return this.#adopt(td, tvmId, spec, { kind: "imported", ...origin });
  }

  async #adopt(td: TrustDomain, tvmId: string, spec: TdSpec, origin: TdRecord["origin"]): Promise<RunningTd> {
    const workload = spec.workload
      ? new GuestWorkload(td, { bytesPerSecond: spec.workload.bytesPerSecond, hotSetBytes: spec.workload.hotSetMiB * MIB, seed: spec.workload.seed })
      : undefined;
    const running: RunningTd = { tdId: td.id, tvmId, spec, td, workload, origin };
    await this.#journal.record({ type: "td.added", tdId: td.id, tvmId, spec: spec as unknown as Record<string, unknown>, origin });
    this.#tds.set(td.id, running);
    workload?.start();
    this.#log.info("TD running", { tdId: td.id, tvmId, memoryMiB: spec.memoryMiB, vcpus: spec.vcpus, origin: origin.kind });
    this.#updateGauges();
    return running;
  }

  /** Forgets a TD that left (migrated away) or was torn down. */
  async remove(tdId: string, reason: string): Promise<void> {
    const t = this.#tds.get(tdId);
    if (!t) throw new TvmxError("HOST_TD_NOT_FOUND", `no TD ${tdId} on this host`, { details: { tdId } });
    t.workload?.stop();
    this.#tds.delete(tdId);
    await this.#journal.record({ type: "td.removed", tdId, reason });
    this.#log.info("TD removed", { tdId, reason });
    this.#updateGauges();
  }

  get(tdId: string): RunningTd {
    const t = this.#tds.get(tdId) ?? [...this.#tds.values()].find((x) => x.tvmId === tdId);
    if (!t) throw new TvmxError("HOST_TD_NOT_FOUND", `no TD ${tdId} on this host`, { details: { tdId } });
    return t;
  }

  list(): TdSummary[] {
    return [...this.#tds.values()].map(summarize);
  }

  reserve(migrationId: string, memoryMiB: number): void {
    this.#reserved.set(migrationId, memoryMiB);
    this.#updateGauges();
  }

  /**
   * Reserves a slot and `memoryMiB` for an incoming migration if both are free (a reservation `migrationId` already
   * holds counts as its own); returns false, reserving nothing, when they are not. A bid holds its capacity (see the
   * destination's hold step), so this refuses only when the room went elsewhere after all (a TD created meanwhile, a
   * host restarted since it bid).
   */
  tryReserve(migrationId: string, memoryMiB: number): boolean {
    const held = this.#reserved.get(migrationId);
    const slotsUsed = this.#tds.size + this.#reserved.size - (held === undefined ? 0 : 1);
    let memoryUsed = -(held ?? 0);
    for (const t of this.#tds.values()) memoryUsed += t.spec.memoryMiB;
    for (const mib of this.#reserved.values()) memoryUsed += mib;
    if (slotsUsed >= this.#capacity.tvmSlots || memoryUsed + memoryMiB > this.#capacity.memoryMiB) return false;
    this.reserve(migrationId, memoryMiB);
    return true;
  }

  /** The memory (MiB) reserved for an incoming migration, or undefined when none is. */
  reservedMiB(migrationId: string): number | undefined {
    return this.#reserved.get(migrationId);
  }

  release(migrationId: string): void {
    this.#reserved.delete(migrationId);
    this.#updateGauges();
  }

  /** SHA-384 (hex) of a TD's state. */
  digest(tdId: string): string {
    return tdStateDigest(this.get(tdId).td).toString("hex");
  }

  stopAll(): void {
    for (const t of this.#tds.values()) t.workload?.stop();
  }

  #updateGauges(): void {
    const cap = this.capacity();
    this.#metrics?.tdsRunning.set({}, this.#tds.size);
    this.#metrics?.freeSlots.set({}, cap.tvmSlots - cap.usedSlots);
  }
}

export function summarize(t: RunningTd): TdSummary {
  return {
    tdId: t.tdId,
    tvmId: t.tvmId,
    memoryMiB: t.spec.memoryMiB,
    vcpus: t.spec.vcpus,
    lifecycle: t.td.lifecycle.kind,
    running: t.td.isRunning,
    workloadBytesWritten: t.workload?.bytesWritten ?? 0,
    origin: t.origin,
  };
}

/** Validates a TD spec from the control API (an operator's input). */
export function checkSpec(spec: unknown): asserts spec is TdSpec {
  const s = spec as Partial<TdSpec> | undefined;
  const bad = (field: string, value: unknown, expected: string) =>
    new TvmxError("CONTROL_BAD_REQUEST", `${field}: expected ${expected}, got ${JSON.stringify(value)}`, { details: { field, value, expected } });
  if (typeof s !== "object" || s === null) throw bad("(body)", s, "an object");
  if (!Number.isInteger(s.memoryMiB) || s.memoryMiB! < 1 || s.memoryMiB! > 64 * 1024) throw bad("memoryMiB", s.memoryMiB, "an integer from 1 to 65536");
  if (!Number.isInteger(s.vcpus) || s.vcpus! < 1 || s.vcpus! > 64) throw bad("vcpus", s.vcpus, "an integer from 1 to 64");
  if (s.workload !== undefined) {
    const w = s.workload;
    if (!Number.isFinite(w.bytesPerSecond) || w.bytesPerSecond < 0) throw bad("workload.bytesPerSecond", w.bytesPerSecond, "a number >= 0");
    if (!Number.isInteger(w.hotSetMiB) || w.hotSetMiB < 1 || w.hotSetMiB > s.memoryMiB!) throw bad("workload.hotSetMiB", w.hotSetMiB, `an integer from 1 to ${s.memoryMiB}`);
    if (!Number.isInteger(w.seed)) throw bad("workload.seed", w.seed, "an integer");
  }
}
