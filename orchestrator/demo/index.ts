/** The demo: local chains and host processes composed as an operator would (also the e2e tests' cluster). */
export { Cluster, OUT_OF_DATE_TCB } from "./cluster.js";
export type { ClusterHostSpec } from "./cluster.js";
export { spawnHostProcess } from "./host-process.js";
export type { HostProcess } from "./host-process.js";
export { loadDeploySuite, loadWithBindings } from "./load-suite.js";
export type { DeploySuiteModule } from "./load-suite.js";
export { runDemo } from "./run-demo.js";
export type { DemoOptions } from "./run-demo.js";
export { formatSummary } from "./summary.js";
export type { DemoSummary, DemoTx } from "./summary.js";
