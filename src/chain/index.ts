/**
 * src/chain: the typed ethers v6 client of a zklora deployment (protocol v2: escrow + shape
 * registry), its typed errors and the deployment record types. Browser-safe: ethers, the committed
 * TypeChain types and pure helpers only (deployment records are read and written by the Node-only
 * ./deployments.ts). Deploying (./deploy.ts) is exported separately.
 */
export * from "./client.js";
export * from "./errors.js";
export * from "./format.js";
export * from "./fund-request.js";
// Types only: ./deployments.ts also holds the records' file I/O (node:fs), which a browser bundle must
// not pull in. A dApp fetches deployments/<network>.json itself and passes it to `addressesOf`.
export type { DeploymentRecord, DeployedContract, DeployedShape } from "./deployments.js";
export * from "./typechain/index.js";
