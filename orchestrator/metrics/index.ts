export { Counter, escapeLabelValue, Gauge, Histogram, MetricsRegistry } from "./registry.js";
export type { Labels } from "./registry.js";
export { createHostMetrics } from "./host-metrics.js";
export type { HostMetrics } from "./host-metrics.js";
export { METRICS_CONTENT_TYPE, startMetricsServer } from "./server.js";
export type { MetricsServer } from "./server.js";
