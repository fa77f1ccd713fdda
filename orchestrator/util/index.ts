/** Shared helpers of every layer: async waits, formatting, rate limits and the address groups limits count. Depends on nothing of the project. */
export { addressGroupOf } from "./address-group.js";
export { deferred, delay, pollUntil, sleep, withTimeout } from "./async.js";
export type { Deferred, PollOptions } from "./async.js";
export { formatWei } from "./format.js";
export { RateLimit } from "./rate-limit.js";
export type { RateLimitOptions } from "./rate-limit.js";
