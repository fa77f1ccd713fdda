/**
 * Where an operator's command gets a keystore password: an environment variable, a file, or, when neither is
 * given and stdin is a terminal, a prompt that does not echo. Without a terminal and without a source the
 * command refuses (KEYSTORE_PASSWORD_MISSING) rather than wait on a pipe.
 */
import { read } from "read";
import { TvmxError } from "../errors/index.js";
import { readPassword, type PasswordSource } from "./keystore.js";

export interface PromptIo {
  /** True when the prompt can be shown (stdin and stderr are terminals). */
  interactive: boolean;
  /** Asks for a secret without echoing it. */
  ask(prompt: string): Promise<string>;
}

/** The process's terminal: the prompt goes to stderr, so stdout stays the command's output. */
export const terminalPrompt: PromptIo = {
  interactive: process.stdin.isTTY === true && process.stderr.isTTY === true,
  ask: async (prompt) => String(await read({ prompt, silent: true, replace: "", output: process.stderr })),
};

/**
 * The password from its source, or else from the terminal. `confirm` asks twice at the prompt (a new key file: a typo
 * would lock the key away for good).
 */
export async function passwordFrom(source: PasswordSource | undefined, purpose: { file: string; confirm?: boolean }, prompt: PromptIo = terminalPrompt): Promise<string> {
  if (source !== undefined) return readPassword(source);
  if (!prompt.interactive) {
    throw new TvmxError("KEYSTORE_PASSWORD_MISSING", `no password for ${purpose.file}: give --password-env <VAR> or --password-file <file> (or run on a terminal to be asked)`, {
      details: { file: purpose.file },
    });
  }
  const password = await prompt.ask(`password for ${purpose.file}: `);
  if (password === "") throw new TvmxError("KEYSTORE_PASSWORD_MISSING", "empty password", { details: { file: purpose.file } });
  if (purpose.confirm && (await prompt.ask("repeat the password: ")) !== password) {
    throw new TvmxError("KEYSTORE_PASSWORD_MISSING", "the two passwords differ", { details: { file: purpose.file } });
  }
  return password;
}
