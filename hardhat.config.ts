import { createRequire } from "node:module";
import path from "node:path";
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

/**
 * Hardhat Ignition's folder: its journals go to `<it>/deployments/<deployment id>/`.
 * `$ZKLORA_IGNITION_DIR` when set; else, when `$ZKLORA_DEPLOYMENTS_DIR` moves the deployment
 * records elsewhere (the end-to-end tests: a temp folder), `<that folder>/ignition`, so the journals
 * go with the records; else `ignition/` (the modules live in ignition/modules/).
 */
function ignitionDir(): string {
  const own = process.env.ZKLORA_IGNITION_DIR;
  if (own !== undefined && own !== "") return path.resolve(own);
  const records = process.env.ZKLORA_DEPLOYMENTS_DIR;
  if (records !== undefined && records !== "") return path.join(path.resolve(records), "ignition");
  return "ignition";
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
    ignition: ignitionDir(),
  },
  test: {
    mocha: { timeout: 600_000 },
  },
  // One TypeChain output: the committed src/chain/typechain (npm run abi, checked for drift by
  // npm run abi:check), which the client, the package and the tests use; the toolbox's own
  // generation into types/ on every build stays off.
  typechain: { dontOverrideCompile: true },
  // `zklora:deploy --verify` (every contract, with its constructor arguments) or
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
