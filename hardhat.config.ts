import { createRequire } from "node:module";
import hardhatToolboxMochaEthersPlugin from "@nomicfoundation/hardhat-toolbox-mocha-ethers";
import { configVariable, defineConfig } from "hardhat/config";

// The compiler is the wasm build shipped in the `solc` npm package, so nothing is downloaded.
// Hardhat does not check that `version` matches the file at `path`: both come from the package.
const require = createRequire(import.meta.url);
const solcPath: string = require.resolve("solc/soljson.js");
const solcVersion: string = (require("solc/package.json") as { version: string }).version;

const compiler = { version: solcVersion, path: solcPath };

export default defineConfig({
  plugins: [hardhatToolboxMochaEthersPlugin],
  solidity: {
    profiles: {
      default: {
        ...compiler,
        settings: { optimizer: { enabled: true, runs: 10_000 }, evmVersion: "cancun" },
      },
      production: {
        ...compiler,
        settings: { optimizer: { enabled: true, runs: 10_000 }, evmVersion: "cancun" },
      },
    },
  },
  paths: {
    sources: "contracts",
    tests: { mocha: "test", solidity: "test/solidity" },
    ignition: "deploy",
  },
  test: {
    solidity: {
      fuzz: { runs: 256, seed: "0x7476786d" },
    },
  },
  networks: {
    hardhatMainnet: { type: "edr-simulated", chainType: "l1" },
    localhost: { type: "http", chainType: "l1", url: "http://127.0.0.1:8545" },
    mirror: { type: "http", chainType: "l1", url: "http://127.0.0.1:8546" },
    sepolia: {
      type: "http",
      chainType: "l1",
      url: configVariable("SEPOLIA_RPC_URL"),
      accounts: [configVariable("SEPOLIA_PRIVATE_KEY")],
    },
    holesky: {
      type: "http",
      chainType: "l1",
      url: configVariable("HOLESKY_RPC_URL"),
      accounts: [configVariable("HOLESKY_PRIVATE_KEY")],
    },
  },
});
