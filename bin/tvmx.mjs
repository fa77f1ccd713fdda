#!/usr/bin/env node
// The `tvmx` package binary: runs the TypeScript CLI through tsx's loader.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../orchestrator/cli/main.ts");
await main(process.argv);
