/** Action of `zklora:infer`. */
import path from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { UsageError } from "../../src/app/errors.js";
import { inferStep, readTokenFile } from "../../src/app/steps.js";
import { STORIES260K_DIR, gpt2Tokenizer, greedyContinue, loadBaseModel } from "../../src/model/index.js";
import { loadDealContext } from "../../src/mpi/index.js";
import { connect, parsePositive, pickSigner, runTask, workspaceOf } from "./lib.js";

interface Args {
  workspace: string;
  from: string;
  url: string;
  model: string;
  tokens: string;
  text: string;
  greedy: string;
}

export default async function inferAction(args: Args, hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask("zklora:infer", async () => {
    const ws = workspaceOf(args.workspace);
    if (args.url === "")
      throw new UsageError("pass --url URL (the contributor's server, printed by zklora:serve)");
    const given = [args.tokens, args.text, args.greedy].filter((s) => s !== "").length;
    if (given !== 1) {
      throw new UsageError("pass exactly one of --tokens FILE, --text TEXT (GPT-2 models) or --greedy N");
    }
    const deal = await loadDealContext(ws.need(ws.deal, "zklora:propose (the contributor sends deal.json)"));
    const connection = await connect(hre);
    const signer = await pickSigner(connection, args.from, deal.buyer, 1);
    const model = await loadBaseModel(args.model === "" ? STORIES260K_DIR : path.resolve(args.model));
    try {
      let tokens: number[];
      if (args.tokens !== "") tokens = await readTokenFile(args.tokens);
      else if (args.text !== "") {
        if (model.family !== "gpt2") {
          throw new UsageError(
            `--text needs a GPT-2 family model (gpt-tokenizer); ${model.dir} is ${model.family}: pass token ids with --tokens FILE or use --greedy N`,
          );
        }
        tokens = gpt2Tokenizer().encode(args.text);
      } else {
        const bos = model.family === "gpt2" ? 50256 : 1;
        tokens = [bos, ...(await greedyContinue(model, [bos], parsePositive(args.greedy, "--greedy")))];
      }
      console.log(`evaluating ${tokens.length} tokens against ${args.url} (deal ${deal.dealId}) ...`);
      const { report } = await inferStep({ workspace: ws, signer, url: args.url, model, tokens });
      console.log(`tokens ${report.tokens}, remote calls ${report.calls}`);
      console.log(
        `without adapter: loss ${report.base.loss.toFixed(4)}  perplexity ${report.base.perplexity.toFixed(3)}`,
      );
      console.log(
        `with adapter:    loss ${report.adapted.loss.toFixed(4)}  perplexity ${report.adapted.perplexity.toFixed(3)}`,
      );
      console.log(
        `loss delta ${report.lossDelta >= 0 ? "+" : ""}${report.lossDelta.toFixed(4)} (negative: the adapter helps on this text)`,
      );
      console.log(`wrote ${ws.buyerCalls} and ${ws.evaluation}`);
    } finally {
      await model.close();
    }
  });
}
