/**
 * Multi-party inference (PROTOCOL.md flow steps 1 and 3): the commit step, EIP-712 messages, the
 * contributor's HTTP server, the buyer's checking client, transcripts and the buyer's evaluation.
 */
export * from "./errors.js";
export * from "./types.js";
export * from "./eip712.js";
export * from "./wire.js";
export * from "./commit.js";
export * from "./transcript.js";
export * from "./hashcache.js";
export * from "./prover.js";
export * from "./server.js";
export * from "./client.js";
export * from "./evaluate.js";
export * from "./delivery.js";
