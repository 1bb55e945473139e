import { createRequire } from "node:module";
import hardhatToolboxMochaEthers from "@nomicfoundation/hardhat-toolbox-mocha-ethers";
import { configVariable, defineConfig } from "hardhat/config";
import { zkloraTasks } from "./tasks/index.js";

const require = createRequire(import.meta.url);

/** The Solidity version; it must equal the npm `solc` package's version (checked below). */
export const SOLC_VERSION = "0.8.28";
const solcPackage = require("solc/package.json") as { version: string };
if (solcPackage.version !== SOLC_VERSION) {
  throw new Error(
    `npm solc is ${solcPackage.version} but hardhat.config.ts compiles with ${SOLC_VERSION}: run npm ci`,
  );
}

export default defineConfig({
  plugins: [hardhatToolboxMochaEthers],
  tasks: zkloraTasks,
  solidity: {
    profiles: {
      default: {
        version: SOLC_VERSION,
        // The local soljson.js from npm: Hardhat never downloads a compiler.
        path: require.resolve("solc/soljson.js"),
        settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun" },
      },
      production: {
        version: SOLC_VERSION,
        path: require.resolve("solc/soljson.js"),
        settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun" },
      },
    },
  },
  paths: {
    tests: { mocha: "test", solidity: "contracts" },
  },
  test: {
    mocha: { timeout: 600_000 },
  },
  // `npx hardhat verify --network sepolia ADDRESS ARGS…` (hardhat-verify); the key is read only when used.
  verify: { etherscan: { apiKey: configVariable("ETHERSCAN_API_KEY") } },
  networks: {
    hardhatMainnet: { type: "edr-simulated", chainType: "l1" },
    // ZKLORA_LOCALHOST_URL: a `hardhat node` on another port (the end-to-end test starts one on a free port).
    localhost: {
      type: "http",
      chainType: "l1",
      url: process.env.ZKLORA_LOCALHOST_URL ?? "http://127.0.0.1:8545",
    },
    sepolia: {
      type: "http",
      chainType: "l1",
      url: configVariable("SEPOLIA_RPC_URL"),
      accounts: [configVariable("SEPOLIA_PRIVATE_KEY")],
    },
  },
});
