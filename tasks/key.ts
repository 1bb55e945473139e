/**
 * Phase-2 key tasks: contribute a secret δ to a Groth16 key on this machine, close a ceremony with a
 * public beacon, and verify a key's
 * chain of contributions against one's own initial key. A key passes from party to party as a file;
 * every contribution's hash is printed so each party can find its own in the final key.
 */
import { task } from "hardhat/config";
import { ArgumentType } from "hardhat/types/arguments";

/** A .zkey file option (FILE_WITHOUT_DEFAULT: the action says what to pass when it is required). */
const zkey = <N extends string>(name: N, description: string) =>
  ({ name, description, type: ArgumentType.FILE_WITHOUT_DEFAULT, defaultValue: undefined }) as const;

export const contributeTask = task(
  "zklora:contribute",
  "Contribute a fresh secret δ (entropy from the OS, never stored) to a Groth16 key file, e.g. the buyer's per-deal key of protocol v2. Prints the contribution hash (find it again in the final key with zklora:verify-key) and the new [δ]₂",
)
  .addOption(zkey("key", "The key to contribute to (.zkey) (required)"))
  .addOption(zkey("out", "Where to write the new key (.zkey, a new file) (required)"))
  .addOption({
    name: "name",
    description: "A name recorded with the contribution (at most 64 characters)",
    type: ArgumentType.STRING,
    defaultValue: "zklora contribution",
  })
  .setAction(() => import("./actions/contribute.js"))
  .build();

export const beaconTask = task(
  "zklora:beacon",
  "Close a multi-party phase 2 with a public beacon (snarkjs zkey beacon): the last contribution's secret comes from a public value announced in advance (e.g. a future block hash), iterated 2^N times, so no earlier contributor could choose it; zklora:verify-key checks it is the one the beacon derives",
)
  .addOption(zkey("key", "The key to close (.zkey) (required)"))
  .addOption(zkey("out", "Where to write the new key (.zkey, a new file) (required)"))
  .addOption({
    name: "hash",
    description: "The public beacon value, hex (required)",
    type: ArgumentType.STRING_WITHOUT_DEFAULT,
    defaultValue: undefined,
  })
  .addOption({
    name: "iterations",
    description: "sha256 rounds as an exponent N (2^N, 10..63)",
    type: ArgumentType.INT,
    defaultValue: 10,
  })
  .addOption({
    name: "name",
    description: "A name recorded with the beacon",
    type: ArgumentType.STRING,
    defaultValue: "zklora beacon",
  })
  .setAction(() => import("./actions/beacon.js"))
  .build();

export const verifyKeyTask = task(
  "zklora:verify-key",
  "Verify a Groth16 key's chain of phase-2 contributions (each proof of knowledge, each δ step, each beacon's key against its hash) and, with --initial, that it is that initial key with only δ, L and H changed. Lists every contribution with its hash",
)
  .addOption(zkey("key", "The key to verify (.zkey) (required)"))
  .addOption(zkey("initial", "Your own initial key of the same circuit (never a file from the other party)"))
  .setAction(() => import("./actions/verify-key.js"))
  .build();
