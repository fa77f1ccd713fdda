/**
 * Deploying the suite with Hardhat Ignition's engine. A barrel of its own, not re-exported by chain/index.ts: it loads
 * ignition-core, which only the deploy paths need (`tvmx deploy`, deploy/deploy-suite.ts).
 */
export { checkSuiteParameters, deploySuiteWithIgnition, deployTvmExchange, MODULE_ID } from "./deploy-suite-module.js";
export type { IgnitionDeployment, IgnitionDeployOptions, ModuleDeployOptions } from "./deploy-suite-module.js";
export { projectArtifactResolver } from "./artifact-resolver.js";
export { RpcProvider } from "./rpc-provider.js";
export { signerProvider } from "./signer-provider.js";
