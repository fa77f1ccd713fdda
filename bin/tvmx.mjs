#!/usr/bin/env -S node --initial-old-space-size=128
// The `tvmx` package binary: runs the TypeScript CLI through tsx's loader. The V8 flag in the line above is
// orchestrator/runtime/engine-flags.ts's (a host daemon streams migrations; that file says why).
import { register } from "tsx/esm/api";

register();
const { main } = await import("../orchestrator/cli/main.ts");
await main(process.argv);
