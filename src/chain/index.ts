/**
 * src/chain: the typed ethers v6 client of a zklora deployment (escrow + verifier registry), its
 * typed errors and the deployment record types. Browser-safe: ethers, the committed TypeChain
 * types and pure helpers only (the record's file I/O in ./deployments.ts is a lazy node import).
 * Deploying (./deploy.ts) is exported separately.
 */
export * from "./client.js";
export * from "./errors.js";
export { parseDeployment, DeploymentRecordError } from "./deployments.js";
export type { DeploymentRecord, DeployedContract, DeployedShape } from "./deployments.js";
export * from "./typechain/index.js";
