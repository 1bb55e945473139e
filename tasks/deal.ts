/**
 * The deal tasks (contributor and buyer), one per protocol step. Each task's action lives in
 * tasks/actions/<step>.ts and is imported only when the task runs. A deal's files live in a
 * workspace folder (--workspace, e.g. deals/<name>; see src/app/workspace.ts for its files).
 */
import { task } from "hardhat/config";
import { ArgumentType } from "hardhat/types/arguments";

/*
 * Option types: numbers are INT or BIGINT (Hardhat refuses a malformed value before the action
 * runs); paths are FILE; an option without a fixed default is *_WITHOUT_DEFAULT (undefined when
 * absent; the action says what to pass when it is required: Hardhat 3 has no required options,
 * so their descriptions end in "(required)"). INT options whose default depends on the input use
 * 0 for it.
 */

const WORKSPACE_DESCRIPTION =
  "The deal's folder (e.g. deals/my-deal) holding manifest, secrets, deal.json, call logs, keys, proofs";
const WORKSPACE = {
  name: "workspace",
  description: `${WORKSPACE_DESCRIPTION} (required)`,
  type: ArgumentType.FILE_WITHOUT_DEFAULT,
  defaultValue: undefined,
} as const;
/** --workspace of the tasks that also work from --deal alone. */
const OPTIONAL_WORKSPACE = {
  name: "workspace",
  description: `${WORKSPACE_DESCRIPTION}; default: the project folder`,
  type: ArgumentType.FILE_WITHOUT_DEFAULT,
  defaultValue: undefined,
} as const;
const DEPLOYMENT = {
  name: "deployment",
  description: "Deployment record to use (default: deployments/<network>.json)",
  type: ArgumentType.FILE_WITHOUT_DEFAULT,
  defaultValue: undefined,
} as const;
const FROM = (who: string) =>
  ({
    name: "from",
    description: `Account (index or address among the network's accounts; default: ${who})`,
    type: ArgumentType.STRING_WITHOUT_DEFAULT,
    defaultValue: undefined,
  }) as const;

const PTAU = {
  name: "ptau",
  description:
    "The public powers-of-tau file the shapes' keys come from (powersOfTau28_hez_final_NN.ptau); default the FORGEABLE development ptau",
  type: ArgumentType.FILE_WITHOUT_DEFAULT,
  defaultValue: undefined,
} as const;

/**
 * --verbose of the tasks that derive keys or prove: snarkjs's own log lines; without it, each long
 * step shows one progress line with its elapsed time.
 */
export const VERBOSE = {
  name: "verbose",
  description:
    "Print snarkjs's own log lines of key setups, contributions and proofs (default: one progress line per step)",
} as const;

/** --deal: a deal id; 0 (the default) takes it from <workspace>/deal.json. */
const DEAL = (what: string) =>
  ({
    name: "deal",
    description: `${what}; 0: the one in <workspace>/deal.json`,
    type: ArgumentType.BIGINT,
    defaultValue: 0n,
  }) as const;

export const commitTask = task(
  "zklora:commit",
  "Contributor: quantize a PEFT adapter for a base model and commit to each module: W_m over its shape key's bases and a proof of knowledge of the opening, bound to this network's escrow and your account (shape keys are derived from the adapter and set up on demand, cached by content). In: --model DIR, --adapter DIR. Out: <workspace>/manifest.json (public) and <workspace>/secrets.json (private weights + salts, mode 0600)",
)
  .addOption(WORKSPACE)
  .addOption(DEPLOYMENT)
  .addOption(FROM("account #0; it must propose the deal"))
  .addOption({
    name: "model",
    description: "Base model folder (config.json + weights) (required)",
    type: ArgumentType.FILE_WITHOUT_DEFAULT,
    defaultValue: undefined,
  })
  .addOption({
    name: "adapter",
    description: "PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors) (required)",
    type: ArgumentType.FILE_WITHOUT_DEFAULT,
    defaultValue: undefined,
  })
  .addOption(PTAU)
  .addFlag(VERBOSE)
  .setAction(() => import("./actions/commit.js"))
  .build();

const DELIVERY_KEYS = {
  name: "deliveryKeys",
  description:
    "Ceremony key files of the delivery circuits NAME=FILE,... (public ceremonies; default: the FORGEABLE development keys)",
  type: ArgumentType.STRING_WITHOUT_DEFAULT,
  defaultValue: undefined,
} as const;

export const deliverTask = task(
  "zklora:deliver",
  "Contributor, once per adapter (after zklora:commit, before zklora:propose --deliver): encrypt each module's quantized weights under a fresh key (Poseidon cipher; every weight range-checked to its bit width), prove each chunk with the delivery circuit's ceremony key and link it to W_m (Okamoto proof of equal openings); everything verified as the buyer will. Out: <workspace>/delivery.json (public: send it with manifest.json) and <workspace>/delivery-secrets.json (private keys, mode 0600)",
)
  .addOption(WORKSPACE)
  .addOption(PTAU)
  .addOption(DELIVERY_KEYS)
  .addOption({
    name: "jobs",
    description:
      "Prover processes for the chunk proofs (0: one per two cores, at most 4); each proof runs in its own process and memory",
    type: ArgumentType.INT,
    defaultValue: 0,
  })
  .addFlag(VERBOSE)
  .setAction(() => import("./actions/deliver.js"))
  .build();

export const proposeTask = task(
  "zklora:propose",
  "Contributor: propose the deal on-chain from <workspace>/manifest.json (shape and W_m per module); a shape the registry lacks is registered first when you own the registry. In: --price, --buyer, [--token], [--window]. Out: the deal id, written with the deal's context into <workspace>/deal.json (send it and manifest.json to the buyer)",
)
  .addOption(WORKSPACE)
  .addOption(DEPLOYMENT)
  .addOption(FROM("account #0"))
  .addOption({
    name: "price",
    description: "Price in whole units of ETH or of the token, a decimal number (e.g. 0.01) (required)",
    type: ArgumentType.STRING_WITHOUT_DEFAULT,
    defaultValue: undefined,
  })
  .addOption({
    name: "token",
    description: "ERC-20 address to be paid in (default: ETH)",
    type: ArgumentType.STRING_WITHOUT_DEFAULT,
    defaultValue: undefined,
  })
  .addOption({
    name: "buyer",
    description:
      "The buyer: an address or an account index (default: none, an open deal; the server then needs --buyer)",
    type: ArgumentType.STRING_WITHOUT_DEFAULT,
    defaultValue: undefined,
  })
  .addOption({
    name: "window",
    description: "Proving window in seconds after funding",
    type: ArgumentType.INT,
    defaultValue: 86400,
  })
  .addOption(PTAU)
  .addFlag({
    name: "deliver",
    description:
      "A delivery deal: commit to the delivery keys of <workspace>/delivery.json (zklora:deliver); it settles only with the keys wrapped for the buyer",
  })
  .addFlag(VERBOSE)
  .setAction(() => import("./actions/propose.js"))
  .build();

export const serveTask = task(
  "zklora:serve",
  "Contributor: serve the adapter's contribution for <workspace>/deal.json over HTTP (multi-party inference): every answered call is committed to the server's SQLite database before the reply, the row budget counts every deal of the adapter, and the buyer uploads its deal keys here. Prints its URL; runs until Ctrl-C. With --export-calls FILE: writes the deal's answered calls as a JSON-lines transcript (the buyer's call-log format) and exits. Out: <workspace>/server.sqlite, <workspace>/server-keys/",
)
  .addOption(WORKSPACE)
  .addOption(DEPLOYMENT)
  .addOption(FROM("the deal's contributor"))
  .addOption({
    name: "host",
    description: "Interface to bind",
    type: ArgumentType.STRING,
    defaultValue: "127.0.0.1",
  })
  .addOption({
    name: "port",
    description: "Port, 0..65535 (0: an ephemeral port)",
    type: ArgumentType.INT,
    defaultValue: 0,
  })
  .addOption({
    name: "buyer",
    description: "Accept requests signed by this buyer (default: the deal's buyer)",
    type: ArgumentType.STRING_WITHOUT_DEFAULT,
    defaultValue: undefined,
  })
  .addOption({
    name: "rowBudget",
    description: "Rows per adapter module over all deals and buyers (0: floor(DIN/4), the leakage bound)",
    type: ArgumentType.INT,
    defaultValue: 0,
  })
  .addOption({
    name: "corsOrigins",
    description:
      "Browser origins (comma-separated, or *) allowed to call the server from a web page (default: none)",
    type: ArgumentType.STRING_WITHOUT_DEFAULT,
    defaultValue: undefined,
  })
  .addOption({
    name: "sync",
    description:
      "How each commit of answered calls reaches the disk before the reply: full (synced: survives a power loss) or normal (written, synced at checkpoints: survives a killed server, not a power loss; faster on slow disks)",
    type: ArgumentType.STRING,
    defaultValue: "full",
  })
  .addOption({
    name: "exportCalls",
    description:
      "Write the deal's answered calls from the database to FILE (JSON lines, the buyer's call-log format) and exit",
    type: ArgumentType.FILE_WITHOUT_DEFAULT,
    defaultValue: undefined,
  })
  .addOption(PTAU)
  .addFlag(VERBOSE)
  .setAction(() => import("./actions/serve.js"))
  .build();

export const inferTask = task(
  "zklora:infer",
  "Buyer: run the base model locally with the adapter's modules served remotely on an evaluation text; print loss/perplexity with and without the adapter. In: --url, --model, one of --tokens/--text/--greedy. Out: <workspace>/buyer-calls.jsonl, <workspace>/evaluation.json",
)
  .addOption(WORKSPACE)
  .addOption(FROM("the deal's buyer"))
  .addOption({
    name: "url",
    description: "The contributor server's URL (printed by zklora:serve) (required)",
    type: ArgumentType.STRING_WITHOUT_DEFAULT,
    defaultValue: undefined,
  })
  .addOption({
    name: "model",
    description: "Base model folder (default: models/stories260k, shipped in the repository)",
    type: ArgumentType.FILE_WITHOUT_DEFAULT,
    defaultValue: undefined,
  })
  .addOption({
    name: "tokens",
    description:
      "File of evaluation token ids (JSON array or whitespace separated; e.g. for stories260k); one of --tokens, --text, --greedy",
    type: ArgumentType.FILE_WITHOUT_DEFAULT,
    defaultValue: undefined,
  })
  .addOption({
    name: "text",
    description:
      "Evaluation text, tokenized with the model folder's tokenizer.json (any family), or gpt-tokenizer for a GPT-2 folder without one",
    type: ArgumentType.STRING_WITHOUT_DEFAULT,
    defaultValue: undefined,
  })
  .addOption({
    name: "greedy",
    description:
      "Evaluate on BOS + this many greedy tokens of the base model (a quick self-made text; 0: not used)",
    type: ArgumentType.INT,
    defaultValue: 0,
  })
  .setAction(() => import("./actions/infer.js"))
  .build();

export const fundTask = task(
  "zklora:fund",
  "Buyer: check the offer (every module's W_m against the chain and its proof of knowledge; every shape's registered verifier against the key derived here; no FORGEABLE keys off a local chain), make its own deal key per shape (newZKey + a fresh contribution, secret never stored), fold the recorded rows of each module into one entry (hX, hY, D_X, fY), deposit the price (ETH, or ERC-20 after approve) with δ' per shape and the entries, and upload the deal keys to the contributor's server. With --prepare FILE it sends nothing and writes the fund request for the web page; --upload then hands the keys over. In: <workspace>/buyer-calls.jsonl. Out: the funding transaction, <workspace>/buyer-keys/, <workspace>/buyer-fund.json",
)
  .addOption(WORKSPACE)
  .addOption(DEPLOYMENT)
  .addOption(FROM("the deal's buyer"))
  .addOption({
    name: "url",
    description:
      "The contributor server's URL, to upload the deal keys to (default: none; hand the files over yourself); required with --upload",
    type: ArgumentType.STRING_WITHOUT_DEFAULT,
    defaultValue: undefined,
  })
  .addOption({
    name: "prepare",
    description:
      "Do every check and make the deal keys and entries, but send nothing: write the fund request (the fund transaction's arguments, JSON) to FILE for the web page's \"Fund from a prepared file\"; then zklora:fund --upload",
    type: ArgumentType.FILE_WITHOUT_DEFAULT,
    defaultValue: undefined,
  })
  .addFlag({
    name: "upload",
    description:
      "After the deal was funded from a prepared request (the web page): check it is Funded with the prepared keys' δ' and upload them to --url",
  })
  .addOption(PTAU)
  .addOption(DELIVERY_KEYS)
  .addOption({
    name: "trust",
    description:
      "Delivery deals: contribution hashes (comma-separated, as zklora:contribute prints them) of which each delivery ceremony must contain one, e.g. your own",
    type: ArgumentType.STRING_WITHOUT_DEFAULT,
    defaultValue: undefined,
  })
  .addFlag({
    name: "forgeableKeys",
    description:
      "Accept shape keys from the FORGEABLE development ptau off a local chain: throwaway tests only",
  })
  .addFlag(VERBOSE)
  .setAction(() => import("./actions/fund.js"))
  .build();

export const proveTask = task(
  "zklora:prove",
  "Contributor: accept each of the buyer's deal keys after the full δ check (against the initial key derived here and δ' on-chain), recompute every module's entry from the server's calls in <workspace>/server.sqlite and refuse on any difference, prove each unproven module once (all its rows folded) as a durable job (retried when a prover dies, resumed by a rerun, never proved twice; --redis: by zklora:worker processes) and verify the proof locally. Out: <workspace>/proofs/module-<m>.json",
)
  .addOption(WORKSPACE)
  .addOption(DEPLOYMENT)
  .addOption({
    name: "jobs",
    description:
      "Proofs at a time, each in its own prover process (the native prover when built, else snarkjs; 0: one per two cores, at most 4)",
    type: ArgumentType.INT,
    defaultValue: 0,
  })
  .addOption({
    name: "keys",
    description: "Deal key files SHAPE_ID=FILE,... (default: the ones the buyer uploaded to zklora:serve)",
    type: ArgumentType.STRING_WITHOUT_DEFAULT,
    defaultValue: undefined,
  })
  .addOption({
    name: "redis",
    description:
      "Queue the proof jobs in Redis (redis://host:port) for zklora:worker processes on any machine (default: the embedded queue in <workspace>/server.sqlite, proved here)",
    type: ArgumentType.STRING_WITHOUT_DEFAULT,
    defaultValue: undefined,
  })
  .addOption({
    name: "attempts",
    description: "Starts per proof job before it fails (a prover that dies mid-proof uses one)",
    type: ArgumentType.INT,
    defaultValue: 3,
  })
  .addOption(PTAU)
  .addFlag(VERBOSE)
  .setAction(() => import("./actions/prove.js"))
  .build();

export const submitTask = task(
  "zklora:submit",
  "Submit the proofs in <workspace>/proofs/ for the deal's unproven modules: per shape, several per transaction (submitBatch: one batched pairing check; modules proven meanwhile are skipped), one alone through submit. Out: transactions with method and gas",
)
  .addOption(WORKSPACE)
  .addOption(DEPLOYMENT)
  .addOption(FROM("the deal's contributor"))
  .addOption({
    name: "batch",
    description: "Proofs per transaction (at least 1)",
    type: ArgumentType.INT,
    defaultValue: 16,
  })
  .setAction(() => import("./actions/submit.js"))
  .build();

export const settleTask = task(
  "zklora:settle",
  "Pay the contributor once every module is proven. A delivery deal settles with its delivery keys: the contributor checks the buyer's key-wrap key (δ update, δ' on-chain, public key in the subgroup), wraps each key for the buyer, proves it and calls settleWithKeys (within the window). In: <workspace>/deal.json (and delivery-secrets.json, server-keys/). Out: the transaction and the amount paid",
)
  .addOption(OPTIONAL_WORKSPACE)
  .addOption(DEPLOYMENT)
  .addOption(FROM("the deal's contributor"))
  .addOption(DEAL("Deal id of a plain deal without a workspace"))
  .addOption({
    name: "wrapKey",
    description:
      "The buyer's key-wrap key file of a delivery deal (default: the one it uploaded to zklora:serve)",
    type: ArgumentType.FILE_WITHOUT_DEFAULT,
    defaultValue: undefined,
  })
  .addOption(PTAU)
  .addFlag(VERBOSE)
  .setAction(() => import("./actions/settle.js"))
  .build();

export const decryptTask = task(
  "zklora:decrypt",
  "Buyer, after a delivery deal is settled: unwrap the delivery keys from the KeysDelivered event with your Baby Jubjub secret (<workspace>/buyer-wrap.json), decrypt every module of <workspace>/delivery.json, check the weights reproduce every row you evaluated (Y = X·A·B exactly), write the PEFT adapter. Out: <workspace>/delivered-adapter/ (or --out)",
)
  .addOption(WORKSPACE)
  .addOption(DEPLOYMENT)
  .addOption({
    name: "out",
    description: "Folder for the PEFT adapter (default <workspace>/delivered-adapter)",
    type: ArgumentType.FILE_WITHOUT_DEFAULT,
    defaultValue: undefined,
  })
  .setAction(() => import("./actions/decrypt.js"))
  .build();

export const refundTask = task(
  "zklora:refund",
  "Return the deposit to the buyer after the proving window ended with a module unproven (anyone may call). In: --deal or <workspace>/deal.json. Out: the transaction and the amount refunded",
)
  .addOption(OPTIONAL_WORKSPACE)
  .addOption(DEPLOYMENT)
  .addOption(FROM("the deal's buyer"))
  .addOption(DEAL("Deal id"))
  .setAction(() => import("./actions/refund.js"))
  .build();

export const statusTask = task(
  "zklora:status",
  "Show a deal's state: parties, price, status, deadline, per module its shape, W_m, entry and proof status. In: --deal or <workspace>/deal.json (or --all). Out: text, or JSON with --json",
)
  .addOption(OPTIONAL_WORKSPACE)
  .addOption(DEPLOYMENT)
  .addOption(DEAL("Deal id"))
  .addFlag({ name: "all", description: "Every deal of the escrow, one line each" })
  .addFlag({ name: "json", description: "Print JSON" })
  .setAction(() => import("./actions/status.js"))
  .build();

export const dealTasks = [
  commitTask,
  deliverTask,
  proposeTask,
  serveTask,
  inferTask,
  fundTask,
  proveTask,
  submitTask,
  settleTask,
  decryptTask,
  refundTask,
  statusTask,
];
