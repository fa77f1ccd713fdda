import { describeError, isTvmxError } from "../errors/index.js";
import type { CliIo } from "./io.js";

/** A command handler module: `run` receives commander's positional arguments, then the options, then io. */
export interface CommandModule {
  run(...args: unknown[]): Promise<number | void>;
}

/**
 * Wraps a lazily loaded handler as a commander action: runs it, turns its result into the exit code, and
 * prints a thrown error as one clear line ("error [CODE]: message") with exit code 1.
 */
export function runHandler(io: CliIo, load: () => Promise<CommandModule>): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    // commander passes (…positionals, options, command): drop the command object.
    const handlerArgs = args.slice(0, -1);
    try {
      const mod = await load();
      const code = await mod.run(...handlerArgs, io);
      if (typeof code === "number" && code !== 0) process.exitCode = code;
    } catch (err) {
      const code = isTvmxError(err) ? ` [${err.code}]` : "";
      io.err(`error${code}: ${describeError(err)}`);
      process.exitCode = 1;
    }
  };
}
