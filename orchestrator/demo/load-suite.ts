/**
 * Loading what rests on the typechain bindings (contract types and bytecode) that `hardhat build` generates under
 * types/: a fresh clone has none until it is built, and then gets a clear error instead of a module path. The CLI's
 * root imports this file directly (a named exception of lint:deps' barrel rule): the demo's barrel rests on the
 * bindings itself.
 */
import { TvmxError } from "../errors/index.js";

export type DeploySuiteModule = typeof import("../../deploy/deploy-suite.js");

/** Runs `load` (a dynamic import); a missing binding module becomes DEPLOYMENT_NOT_FOUND with what to do. */
export async function loadWithBindings<T>(load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === "ERR_MODULE_NOT_FOUND" && /types[\\/]ethers-contracts/.test(e.message)) {
      throw new TvmxError("DEPLOYMENT_NOT_FOUND", "the contract bindings are not built: run `npx hardhat build` first (`npm run demo` does)", { cause: err });
    }
    throw err;
  }
}

export function loadDeploySuite(): Promise<DeploySuiteModule> {
  return loadWithBindings(() => import("../../deploy/deploy-suite.js"));
}
