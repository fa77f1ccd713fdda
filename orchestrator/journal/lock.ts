import { open, readFile, rm } from "node:fs/promises";
import { TvmxError } from "../errors/index.js";

export interface DirLock {
  release(): Promise<void>;
  /** The pid of a crashed owner whose stale lock was taken over. */
  tookOverFromPid?: number;
}

/**
 * An exclusive lock on a data directory: a file holding the owner's pid, created with O_EXCL. Two daemons
 * appending to one journal would interleave their records; the second one is refused with JOURNAL_LOCKED.
 * A lock left by a process that no longer exists (a crash) is taken over.
 */
export async function acquireLock(file: string): Promise<DirLock> {
  let staleOwner: number | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(file, "wx", 0o600);
      try {
        await handle.writeFile(`${process.pid}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      const lock: DirLock = { release: () => rm(file, { force: true }) };
      if (staleOwner !== undefined) lock.tookOverFromPid = staleOwner;
      return lock;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new TvmxError("JOURNAL_IO", `cannot create lock file ${file}`, { details: { file }, cause: err });
      }
    }
    const owner = Number.parseInt((await readFile(file, "utf8").catch(() => "")).trim(), 10);
    if (owner === process.pid) {
      throw new TvmxError("JOURNAL_LOCKED", `data directory is already open in this process (lock ${file})`, { details: { file, pid: owner } });
    }
    if (Number.isSafeInteger(owner) && owner > 0 && isAlive(owner)) {
      throw new TvmxError("JOURNAL_LOCKED", `data directory is in use by process ${owner} (lock ${file})`, { details: { file, pid: owner } });
    }
    // Stale (its owner is gone, or it was left empty by a crash while being written): remove it and retry.
    if (Number.isSafeInteger(owner)) staleOwner = owner;
    await rm(file, { force: true });
  }
  throw new TvmxError("JOURNAL_LOCKED", `cannot take the lock ${file}`, { details: { file } });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
