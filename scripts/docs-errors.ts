/** Rewrites the generated error table of docs/errors.md from the registry (orchestrator/errors/codes.ts). */
import { readFile, writeFile } from "node:fs/promises";
import { withErrorTable } from "../orchestrator/errors/docs-table.js";

const file = new URL("../docs/errors.md", import.meta.url);
const before = await readFile(file, "utf8");
const after = withErrorTable(before);
if (after !== before) await writeFile(file, after);
process.stdout.write(after === before ? "docs/errors.md is up to date\n" : "docs/errors.md rewritten\n");
