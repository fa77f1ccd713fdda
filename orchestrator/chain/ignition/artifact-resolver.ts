/**
 * Hardhat Ignition's view of this project's compiled contracts: the Hardhat 3 artifacts under `artifacts/`
 * (`artifacts/contracts/<Name>.sol/<Name>.json`), which `hardhat build` writes.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Artifact, ArtifactResolver, BuildInfo } from "@nomicfoundation/ignition-core";
import { TvmxError } from "../../errors/index.js";

export function projectArtifactResolver(artifactsDir: string): ArtifactResolver {
  return {
    async loadArtifact(contractName: string): Promise<Artifact> {
      if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(contractName)) {
        throw new TvmxError("DEPLOYMENT_INVALID", `not a contract name: ${JSON.stringify(contractName)}`, { details: { contractName } });
      }
      const file = join(artifactsDir, "contracts", `${contractName}.sol`, `${contractName}.json`);
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch (err) {
        throw new TvmxError("DEPLOYMENT_NOT_FOUND", `no artifact for ${contractName} at ${file}: run \`npx hardhat build\` first`, { details: { contractName, file }, cause: err });
      }
      const artifact = JSON.parse(text) as Artifact;
      if (artifact.contractName !== contractName || typeof artifact.bytecode !== "string" || !Array.isArray(artifact.abi)) {
        throw new TvmxError("DEPLOYMENT_INVALID", `${file} is not the artifact of ${contractName}`, { details: { contractName, file } });
      }
      return artifact;
    },
    // Build information serves source verification, which deploying does not do.
    getBuildInfo(): Promise<BuildInfo | undefined> {
      return Promise.resolve(undefined);
    },
  };
}
