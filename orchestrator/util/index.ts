/** Shared helpers of every layer: async waits and formatting. Depends on nothing of the project. */
export { deferred, delay, pollUntil, sleep, withTimeout } from "./async.js";
export type { Deferred, PollOptions } from "./async.js";
export { formatWei } from "./format.js";
