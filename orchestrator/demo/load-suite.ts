/**
 * The suite deployer, loaded when needed: it rests on the typechain bindings (bytecode included) that
 * `hardhat build` generates under types/, which a fresh clone does not have until it is built.
 */
import { TvmxError } from "../errors/index.js";

export type DeploySuiteModule = typeof import("../../deploy/deploy-suite.js");

export async function loadDeploySuite(): Promise<DeploySuiteModule> {
  try {
    return await import("../../deploy/deploy-suite.js");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ERR_MODULE_NOT_FOUND") {
      throw new TvmxError("DEPLOYMENT_NOT_FOUND", "the contract bindings are not built: run `npx hardhat build` first (`npm run demo` does)", { cause: err });
    }
    throw err;
  }
}
