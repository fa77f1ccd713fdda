/**
 * V8 settings for processes that move migration streams (the host daemon, the benchmark).
 *
 * A migration keeps a small, steady stream of short-lived objects alive on every thread (frames queued, writes
 * pending in the kernel, descriptors in flight), and V8 sizes a small heap's old-generation limit so tightly that
 * this alone keeps it in incremental marking: about eighteen full mark-compacts per 256 MiB migration on the main
 * thread, each a few ms of pause plus concurrent marking on the other core. Starting V8 with a 128 MiB initial old
 * space moves the first limit out of reach of that churn (three mark-compacts in four migrations), which cut the
 * CPU spent per migrated MB by about a quarter on a 2-core machine. It reserves nothing up front: the heap still
 * grows only as it is used. The flag is per process and cannot be set from NODE_OPTIONS or after start-up, so the
 * launchers pass it on the command line (bin/tvmx.mjs's shebang, the package scripts, spawned host daemons).
 */
export const INITIAL_OLD_SPACE_MIB = 128;

/** The node command-line flags to start an engine process with. */
export const ENGINE_NODE_FLAGS: readonly string[] = [`--initial-old-space-size=${INITIAL_OLD_SPACE_MIB}`];

/** The initial old space this process was started with, in MiB, or undefined when V8 picked its default. */
export function initialOldSpaceMiB(execArgv: readonly string[] = process.execArgv): number | undefined {
  let value: number | undefined;
  for (const arg of execArgv) {
    const m = /^--initial[-_]old[-_]space[-_]size=(\d+)$/.exec(arg);
    if (m) value = Number(m[1]);
  }
  return value;
}
