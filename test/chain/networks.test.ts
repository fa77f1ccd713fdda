import { expect } from "chai";
import hre from "hardhat";
import userConfig from "../../hardhat.config.js";

/** The public networks of hardhat.config.ts: Sepolia, Hoodi (Holesky is retired) and OP Sepolia, secrets never inline. */
describe("chain/public networks in hardhat.config.ts", () => {
  const expected = {
    sepolia: { chainType: "l1", chainId: 11_155_111, vars: ["SEPOLIA_RPC_URL", "SEPOLIA_PRIVATE_KEY"] },
    hoodi: { chainType: "l1", chainId: 560_048, vars: ["HOODI_RPC_URL", "HOODI_PRIVATE_KEY"] },
    opSepolia: { chainType: "op", chainId: 11_155_420, vars: ["OP_SEPOLIA_RPC_URL", "OP_SEPOLIA_PRIVATE_KEY"] },
  } as const;

  it("configures each with its chain type and id, the URL and the key through configVariable", () => {
    const networks = userConfig.networks as Record<string, { type: string; chainType?: string; chainId?: number; url?: unknown; accounts?: unknown }>;
    for (const [name, want] of Object.entries(expected)) {
      const n = networks[name];
      expect(n, name).to.not.equal(undefined);
      expect(n).to.deep.include({ type: "http", chainType: want.chainType, chainId: want.chainId });
      expect(n!.url, name).to.deep.include({ _type: "ConfigurationVariable", name: want.vars[0] });
      expect(n!.accounts, name).to.deep.equal([{ _type: "ConfigurationVariable", name: want.vars[1], format: "{variable}" }]);
    }
    expect(Object.keys(networks)).to.not.include("holesky");
  });

  it("is accepted by Hardhat as it resolves the config (the OP chain type included), with the Etherscan key a variable too", () => {
    const resolved = hre.config.networks as Record<string, { chainType?: string; chainId?: number }>;
    for (const [name, want] of Object.entries(expected)) expect(resolved[name], name).to.deep.include({ chainType: want.chainType, chainId: want.chainId });
    const verify = (hre.config as unknown as { verify: { etherscan: { apiKey: unknown; enabled: boolean } } }).verify;
    expect(verify.etherscan.enabled).to.equal(true);
    expect(JSON.stringify(verify.etherscan.apiKey)).to.contain("ETHERSCAN_API_KEY");
  });
});
