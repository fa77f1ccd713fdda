import type { Logger } from "../log/index.js";

/** A step of a host's teardown: what `start` set up, undone in reverse. */
interface TeardownStep {
  name: string;
  run: () => Promise<void> | void;
}

/**
 * The host's one teardown stack. `start` pushes each subsystem as it comes up; `unwind` undoes them in reverse order,
 * on a failed start and on `close` alike, logging a step that fails and going on with the rest. Before the step named
 * by `drainBefore` (the journal, closed last of all) it waits, bounded, for the tasks still running, so that the
 * pipelines can write their last records.
 */
export class TeardownStack {
  readonly #steps: TeardownStep[] = [];

  push(name: string, run: TeardownStep["run"]): void {
    this.#steps.push({ name, run });
  }

  async unwind(log: Logger, drain?: { before: string; tasks: TaskSet; timeoutMs: number }): Promise<void> {
    for (const step of this.#steps.splice(0).reverse()) {
      if (drain && step.name === drain.before) await drain.tasks.settled(drain.timeoutMs);
      try {
        await step.run();
      } catch (err) {
        log.error("teardown step failed", { step: step.name, err });
      }
    }
  }
}

/** Background work of a host (pipelines, loops, recovery): a failure is logged, never thrown at nobody. */
export class TaskSet {
  readonly #tasks = new Set<Promise<unknown>>();
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  spawn(name: string, work: () => Promise<unknown>): void {
    const p = work().catch((err: unknown) => this.#log.error(`${name} failed`, { err }));
    this.#tasks.add(p);
    void p.finally(() => this.#tasks.delete(p));
  }

  /** Resolves when every task running now has settled, or after `timeoutMs`, whichever comes first. */
  async settled(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    });
    await Promise.race([Promise.allSettled([...this.#tasks]), timeout]);
    clearTimeout(timer);
  }
}
