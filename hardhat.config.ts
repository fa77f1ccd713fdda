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
  // Contract verification (hardhat-verify, in the toolbox): Etherscan's v2 API takes one key for every chain above;
  // Blockscout and Sourcify need none.
  verify: {
    etherscan: { apiKey: configVariable("ETHERSCAN_API_KEY") },
  },
  networks: {
    hardhatMainnet: { type: "edr-simulated", chainType: "l1" },
    localhost: { type: "http", chainType: "l1", url: "http://127.0.0.1:8545" },
    mirror: { type: "http", chainType: "l1", url: "http://127.0.0.1:8546" },
    // Public networks: the RPC URL and the deployer key are configuration variables (the hardhat-keystore or an
    // environment variable of the same name), never committed; the chain ids make Hardhat refuse a URL of another
    // chain. Holesky is retired: Hoodi replaced it. docs/contracts.md "Deployment" has the steps.
    sepolia: {
      type: "http",
      chainType: "l1",
      chainId: 11_155_111,
      url: configVariable("SEPOLIA_RPC_URL"),
      accounts: [configVariable("SEPOLIA_PRIVATE_KEY")],
    },
    hoodi: {
      type: "http",
      chainType: "l1",
      chainId: 560_048,
      url: configVariable("HOODI_RPC_URL"),
      accounts: [configVariable("HOODI_PRIVATE_KEY")],
    },
    // An OP Stack L2 testnet: chain type "op" gives the L1 data fee its due (Hardhat's OP chain descriptors).
    opSepolia: {
      type: "http",
      chainType: "op",
      chainId: 11_155_420,
      url: configVariable("OP_SEPOLIA_RPC_URL"),
      accounts: [configVariable("OP_SEPOLIA_PRIVATE_KEY")],
    },
  },
});
