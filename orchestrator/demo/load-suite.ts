/** The deploy helper (deploy/deploy-suite.ts), loaded through `loadWithBindings`: it rests on the typechain bindings. */
import { loadWithBindings } from "../util/index.js";

export type DeploySuiteModule = typeof import("../../deploy/deploy-suite.js");

export function loadDeploySuite(): Promise<DeploySuiteModule> {
  return loadWithBindings(() => import("../../deploy/deploy-suite.js"));
}
