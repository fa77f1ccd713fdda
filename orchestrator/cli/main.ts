import { buildProgram } from "./program.js";

/** Entry point of the `tvmx` binary. */
export async function main(argv: readonly string[] = process.argv): Promise<void> {
  await buildProgram().parseAsync([...argv]);
}
