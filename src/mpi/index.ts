/**
 * src/mpi: multi-party inference over HTTP (protocol v2): the contributor's server, the buyer's
 * client hook, their signed messages, the durable call log, the commit step and the proof jobs
 * (`./jobs-redis.ts`, BullMQ over Redis, is imported on its own when used).
 */
export * from "./errors.js";
export * from "./types.js";
export * from "./eip712.js";
export * from "./wire.js";
export * from "./log.js";
export * from "./db.js";
export * from "./store.js";
export * from "./commit.js";
export * from "./server.js";
export * from "./client.js";
export * from "./evaluate.js";
export * from "./jobs.js";
