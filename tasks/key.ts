/**
 * Phase-2 key tasks: contribute a secret δ to a Groth16 key on this machine, close a ceremony with a
 * public beacon, and verify a key's
 * chain of contributions against one's own initial key. A key passes from party to party as a file;
 * every contribution's hash is printed so each party can find its own in the final key.
 */
import { task } from "hardhat/config";

export const contributeTask = task(
  "zklora:contribute",
  "Contribute a fresh secret δ (entropy from the OS, never stored) to a Groth16 key file, e.g. the buyer's per-deal key of protocol v2. Prints the contribution hash (find it again in the final key with zklora:verify-key) and the new [δ]₂",
)
  .addOption({ name: "key", description: "The key to contribute to (.zkey)", defaultValue: "" })
  .addOption({ name: "out", description: "Where to write the new key (.zkey)", defaultValue: "" })
  .addOption({
    name: "name",
    description: "A name recorded with the contribution (at most 64 characters)",
    defaultValue: "zklora contribution",
  })
  .setAction(() => import("./actions/contribute.js"))
  .build();

export const beaconTask = task(
  "zklora:beacon",
  "Close a multi-party phase 2 with a public beacon (snarkjs zkey beacon): the last contribution's secret comes from a public value announced in advance (e.g. a future block hash), iterated 2^N times, so no earlier contributor could choose it; zklora:verify-key checks it is the one the beacon derives",
)
  .addOption({ name: "key", description: "The key to close (.zkey)", defaultValue: "" })
  .addOption({ name: "out", description: "Where to write the new key (.zkey)", defaultValue: "" })
  .addOption({ name: "hash", description: "The public beacon value, hex", defaultValue: "" })
  .addOption({
    name: "iterations",
    description: "sha256 rounds as an exponent N (2^N, 10..63), default 10",
    defaultValue: "10",
  })
  .addOption({ name: "name", description: "A name recorded with the beacon", defaultValue: "zklora beacon" })
  .setAction(() => import("./actions/beacon.js"))
  .build();

export const verifyKeyTask = task(
  "zklora:verify-key",
  "Verify a Groth16 key's chain of phase-2 contributions (each proof of knowledge, each δ step, each beacon's key against its hash) and, with --initial, that it is that initial key with only δ, L and H changed. Lists every contribution with its hash",
)
  .addOption({ name: "key", description: "The key to verify (.zkey)", defaultValue: "" })
  .addOption({
    name: "initial",
    description: "Your own initial key of the same circuit (never a file from the other party)",
    defaultValue: "",
  })
  .setAction(() => import("./actions/verify-key.js"))
  .build();
