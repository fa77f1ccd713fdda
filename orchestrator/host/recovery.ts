import { revealPending } from "./bidding.js";
import type { HostContext } from "./context.js";
import { biddingOf, mirrorDeps } from "./destination-flow.js";
import { confirmWithHandOver } from "./hand-over.js";
import { pendingMirrors, recordUntilLanded } from "./mirror-settlement.js";
import { abortOnChain } from "./settlement.js";
import { finalizePending } from "./source-auction.js";
import type { TaskSet } from "./teardown.js";

/**
 * What a restarted host owes from its previous run, from its journal: the bids to reveal, the auctions to finalize,
 * the migrations to settle, the mirror records to write. Each runs as a task; none blocks the start.
 */
export function recoverAfterRestart(context: HostContext, tasks: TaskSet): void {
  const { journal, market, wallet, metrics, signal } = context;
  const log = context.logger;
  tasks.spawn("recovery: reveals", () => revealPending(biddingOf(context)));
  tasks.spawn("recovery: finalizations", () =>
    finalizePending({ market, wallet, journal, clock: context.clock, logger: log.child({ role: "source" }), metrics, signal }),
  );
  for (const m of journal.state.migrations.values()) {
    if (m.status !== "running") continue;
    if (m.role === "destination" && m.handOver && m.imported) {
      // It committed the import with the source's hand-over: confirm with it, whatever became of the source. A
      // hand-over without `migration.imported` means this process died before its commit: the TD never ran here,
      // so it is aborted below like any other migration the restart cut.
      tasks.spawn("recovery: confirm", () => confirmWithHandOver(context, m.allocationId, log.child({ role: "destination", migrationId: m.migrationId, allocationId: m.allocationId })));
      continue;
    }
    // The streams of a migration die with the process that ran them: abort it on-chain. A source's abort is only a
    // request after the confirmation deadline: a destination that committed still confirms in its dispute window.
    tasks.spawn("recovery: abort", () => abortOnChain(context, m.allocationId, new Error("host restarted during the migration")));
  }
  // A mirror owed by a previous run is retried until it lands (it never changes the outcome).
  if (context.mirror) {
    for (const allocationId of pendingMirrors(journal)) tasks.spawn("recovery: mirror", () => recordUntilLanded(mirrorDeps(context), allocationId));
  }
}
