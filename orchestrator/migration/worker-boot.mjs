// Entry point of every migration worker thread. The worker's real module is TypeScript when the engine runs from
// source (tsx), so the TypeScript loader is registered in this thread first; compiled JavaScript loads directly.
import { workerData } from "node:worker_threads";

const entry = workerData?.entry;
if (typeof entry !== "string") throw new TypeError("worker-boot: workerData.entry (a module URL) is required");
if (entry.endsWith(".ts")) {
  const { register } = await import("tsx/esm/api");
  register();
}
await import(entry);
