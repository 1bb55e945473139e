/**
 * The deal tasks (contributor and buyer), one per protocol step. Each task's action lives in
 * tasks/actions/<step>.ts and is imported only when the task runs. A deal's files live in a
 * workspace folder (--workspace, e.g. deals/<name>; see src/app/workspace.ts for its files).
 */
import { task } from "hardhat/config";

const WORKSPACE = {
  name: "workspace",
  description:
    "The deal's folder (e.g. deals/my-deal) holding manifest, secrets, deal.json, transcripts, proofs",
  defaultValue: "",
} as const;
const DEPLOYMENT = {
  name: "deployment",
  description: "Deployment record to use (default: deployments/<network>.json)",
  defaultValue: "",
} as const;
const FROM = (who: string) =>
  ({
    name: "from",
    description: `Account (index or address among the network's accounts; default: ${who})`,
    defaultValue: "",
  }) as const;

export const commitTask = task(
  "zklora:commit",
  "Contributor: quantize a PEFT adapter for a base model and commit to it (v1 shapes; chunked with --chunked/--chunked-modules or when no v1 shape fits). In: --model DIR, --adapter DIR. Out: <workspace>/manifest.json (public: C_m per module) and <workspace>/secrets.json (private weights + salts, mode 0600)",
)
  .addOption(WORKSPACE)
  .addOption({
    name: "model",
    description: "Base model folder (config.json + model.safetensors)",
    defaultValue: "",
  })
  .addOption({
    name: "adapter",
    description: "PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors)",
    defaultValue: "",
  })
  .addOption({
    name: "rows",
    description:
      "Rows (tokens) per proof: picks the circuit shape with this T when several fit (default: the first that fits)",
    defaultValue: "",
  })
  .addFlag({
    name: "chunked",
    description:
      "Commit every module to a chunked shape (circuits/chunk-shapes.json): each entry is then proven by a chain of small chunk proofs and submitted with submitChunked. Without it, a module is chunked only when no v1 shape fits its dims. No --deliver for chunked modules",
  })
  .addOption({
    name: "chunkedModules",
    description:
      "Commit only these modules to a chunked shape: comma-separated targets or short module names (e.g. q_proj); the others stay v1",
    defaultValue: "",
  })
  .setAction(() => import("./actions/commit.js"))
  .build();

export const proposeTask = task(
  "zklora:propose",
  "Contributor: propose the deal on-chain from <workspace>/manifest.json. In: --price, --buyer, [--token], [--window]. Out: the deal id, written with the deal's context into <workspace>/deal.json (send it and manifest.json to the buyer)",
)
  .addOption(WORKSPACE)
  .addOption(DEPLOYMENT)
  .addOption(FROM("account #0"))
  .addOption({
    name: "price",
    description: "Price in whole units of ETH or of the token (e.g. 0.01)",
    defaultValue: "",
  })
  .addOption({ name: "token", description: "ERC-20 address to be paid in (default: ETH)", defaultValue: "" })
  .addOption({
    name: "buyer",
    description:
      "The buyer: an address or an account index (default: none, an open deal; the server then needs --buyer)",
    defaultValue: "",
  })
  .addOption({
    name: "window",
    description: "Proving window in seconds after funding (default 86400)",
    defaultValue: "86400",
  })
  .addFlag({
    name: "deliver",
    description:
      "Deliver the weights with the payment (zero-knowledge contingent payment): zklora:deliver before funding, zklora:reveal to settle. Not for a manifest with a chunked module (refused before any transaction)",
  })
  .setAction(() => import("./actions/propose.js"))
  .build();

export const serveTask = task(
  "zklora:serve",
  "Contributor: serve the adapter's contribution for <workspace>/deal.json over HTTP (multi-party inference), proving each call in the background. Prints its URL; runs until Ctrl-C. Out: <workspace>/server-transcript.json, <workspace>/server-proofs/",
)
  .addOption(WORKSPACE)
  .addOption(DEPLOYMENT)
  .addOption(FROM("the deal's contributor"))
  .addOption({
    name: "host",
    description: "Interface to bind (default 127.0.0.1)",
    defaultValue: "127.0.0.1",
  })
  .addOption({ name: "port", description: "Port (default 0: an ephemeral port)", defaultValue: "0" })
  .addOption({
    name: "buyer",
    description: "Accept requests signed by this buyer (default: the deal's buyer)",
    defaultValue: "",
  })
  .addOption({
    name: "rowBudget",
    description: "Rows a buyer may send per module (default floor(DIN/4), the leakage bound)",
    defaultValue: "",
  })
  .addOption({
    name: "provers",
    description: "Background proofs at a time; 0 disables (default 1)",
    defaultValue: "1",
  })
  .setAction(() => import("./actions/serve.js"))
  .build();

export const inferTask = task(
  "zklora:infer",
  "Buyer: run the base model locally with the adapter's modules served remotely on an evaluation text; print loss/perplexity with and without the adapter. In: --url, --model, one of --tokens/--text/--greedy. Out: <workspace>/buyer-transcript.json, <workspace>/evaluation.json",
)
  .addOption(WORKSPACE)
  .addOption(FROM("the deal's buyer"))
  .addOption({
    name: "url",
    description: "The contributor server's URL (printed by zklora:serve)",
    defaultValue: "",
  })
  .addOption({
    name: "model",
    description: "Base model folder (default: models/stories260k, shipped in the repository)",
    defaultValue: "",
  })
  .addOption({
    name: "tokens",
    description: "File of evaluation token ids (JSON array or whitespace separated; e.g. for stories260k)",
    defaultValue: "",
  })
  .addOption({
    name: "text",
    description: "Evaluation text (GPT-2 family models: tokenized with gpt-tokenizer)",
    defaultValue: "",
  })
  .addOption({
    name: "greedy",
    description: "Evaluate on BOS + this many greedy tokens of the base model (a quick self-made text)",
    defaultValue: "",
  })
  .setAction(() => import("./actions/infer.js"))
  .build();

export const fundTask = task(
  "zklora:fund",
  "Buyer: check the transcript's manifest (each module's shape id, so its v1/chunked variant, and C_m) against the deal on chain, then deposit the price (ETH, or ERC-20 after approve) and register the transcript entries to be proven (at least one per module). In: <workspace>/buyer-transcript.json. Out: the funding transaction and the proving deadline",
)
  .addOption(WORKSPACE)
  .addOption(DEPLOYMENT)
  .addOption(FROM("the deal's buyer"))
  .addOption({
    name: "entries",
    description: "all: every call of the transcript; first: the first call per module (default all)",
    defaultValue: "all",
  })
  .setAction(() => import("./actions/fund.js"))
  .build();

export const proveTask = task(
  "zklora:prove",
  "Contributor: a Groth16 proof per registered entry of the funded deal (a chunked module's entry: its chain of chunk proofs), from <workspace>/server-transcript.json and secrets.json (reusing the server's background proofs when valid). Out: <workspace>/proofs/entry-<i>.json",
)
  .addOption(WORKSPACE)
  .addOption(DEPLOYMENT)
  .addOption({
    name: "jobs",
    description: "Proofs at a time (default: by cores and free memory)",
    defaultValue: "",
  })
  .addFlag({ name: "fresh", description: "Prove again even when a background proof exists" })
  .setAction(() => import("./actions/prove.js"))
  .build();

export const submitTask = task(
  "zklora:submit",
  "Submit the proofs in <workspace>/proofs/ for the deal's unproven entries: several per transaction through the shape's batch verifier (submitBatch, else submitMany), one alone through submit, a chunked module's entry alone through submitChunked (its whole chain). Out: transactions with method and gas",
)
  .addOption(WORKSPACE)
  .addOption(DEPLOYMENT)
  .addOption(FROM("the deal's contributor"))
  .addOption({ name: "batch", description: "Proofs per transaction (default 16)", defaultValue: "16" })
  .setAction(() => import("./actions/submit.js"))
  .build();

export const settleTask = task(
  "zklora:settle",
  "Pay the contributor once every registered entry is proven (anyone may call). In: --deal or <workspace>/deal.json. Out: the transaction and the amount paid",
)
  .addOption(WORKSPACE)
  .addOption(DEPLOYMENT)
  .addOption(FROM("the deal's contributor"))
  .addOption({ name: "deal", description: "Deal id (default: <workspace>/deal.json's)", defaultValue: "" })
  .setAction(() => import("./actions/settle.js"))
  .build();

export const refundTask = task(
  "zklora:refund",
  "Return the deposit to the buyer after the proving window ended with an entry unproven (anyone may call). In: --deal or <workspace>/deal.json. Out: the transaction and the amount refunded",
)
  .addOption(WORKSPACE)
  .addOption(DEPLOYMENT)
  .addOption(FROM("the deal's buyer"))
  .addOption({ name: "deal", description: "Deal id (default: <workspace>/deal.json's)", defaultValue: "" })
  .setAction(() => import("./actions/refund.js"))
  .build();

export const statusTask = task(
  "zklora:status",
  "Show a deal's state: parties, price, status, deadline, per module its target/shape/commitment/verifier, per entry its proof status. In: --deal or <workspace>/deal.json (or --all). Out: text, or JSON with --json",
)
  .addOption(WORKSPACE)
  .addOption(DEPLOYMENT)
  .addOption({ name: "deal", description: "Deal id (default: <workspace>/deal.json's)", defaultValue: "" })
  .addFlag({ name: "all", description: "Every deal of the escrow, one line each" })
  .addFlag({ name: "json", description: "Print JSON" })
  .setAction(() => import("./actions/status.js"))
  .build();

export const dealTasks = [
  commitTask,
  proposeTask,
  serveTask,
  inferTask,
  fundTask,
  proveTask,
  submitTask,
  settleTask,
  refundTask,
  statusTask,
];
