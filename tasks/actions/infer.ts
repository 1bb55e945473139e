/** Action of `zklora:infer`. */
import path from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { UsageError } from "../../src/app/errors.js";
import { inferStep, readTokenFile } from "../../src/app/steps.js";
import { STORIES260K_DIR, greedyContinue, loadBaseModel, tokenizeText } from "../../src/model/index.js";
import { loadDealContext } from "../../src/mpi/index.js";
import { connect, given, intOption, pickSigner, runTask, workspaceOf } from "./lib.js";

interface Args {
  workspace: string | undefined;
  from: string | undefined;
  url: string | undefined;
  model: string | undefined;
  tokens: string | undefined;
  text: string | undefined;
  greedy: number;
}

export default async function inferAction(args: Args, hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask("zklora:infer", async () => {
    const ws = workspaceOf(args.workspace);
    const url = args.url;
    if (!given(url))
      throw new UsageError("pass --url URL (the contributor's server, printed by zklora:serve)");
    const greedy = intOption(args.greedy, "--greedy", 0, Number.MAX_SAFE_INTEGER, "0: not used");
    const inputs = [given(args.tokens), given(args.text), greedy > 0].filter((x) => x).length;
    if (inputs !== 1) {
      throw new UsageError(
        "pass exactly one of --tokens FILE, --text TEXT (tokenized with the model folder's tokenizer) or --greedy N",
      );
    }
    const deal = await loadDealContext(ws.need(ws.deal, "zklora:propose (the contributor sends deal.json)"));
    const connection = await connect(hre);
    const signer = await pickSigner(connection, args.from, deal.buyer, 1);
    const model = await loadBaseModel(given(args.model) ? path.resolve(args.model) : STORIES260K_DIR);
    try {
      let tokens: number[];
      if (given(args.tokens)) tokens = await readTokenFile(args.tokens);
      else if (given(args.text)) tokens = await tokenizeText(model, args.text);
      else {
        const bos = model.family === "gpt2" ? 50256 : 1;
        tokens = [bos, ...(await greedyContinue(model, [bos], greedy))];
      }
      console.log(`evaluating ${tokens.length} tokens against ${url} (deal ${deal.dealId}) ...`);
      const { report } = await inferStep({ workspace: ws, signer, url, model, tokens });
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
