/** Action of `zklora:serve`: runs the contributor's MPI server until Ctrl-C (SIGINT) or SIGTERM. */
import { isAddress } from "ethers";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import path from "node:path";
import { exportCallLog, loadDealContext, type CommitSync } from "../../src/mpi/index.js";
import { startServe } from "../../src/app/steps.js";
import { UsageError } from "../../src/app/errors.js";
import { clientOf, connect, fileOf, given, intOption, pickSigner, runTask, workspaceOf } from "./lib.js";

interface Args {
  workspace: string | undefined;
  deployment: string | undefined;
  from: string | undefined;
  host: string;
  port: number;
  buyer: string | undefined;
  rowBudget: number;
  corsOrigins: string | undefined;
  exportCalls: string | undefined;
  sync: string;
  ptau: string | undefined;
  verbose?: boolean;
}

export default async function serveAction(args: Args, hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask({ name: "zklora:serve", verbose: args.verbose }, async (progress) => {
    const ws = workspaceOf(args.workspace);
    const port = intOption(args.port, "--port", 0, 65535, "0: an ephemeral port");
    const rowBudget = intOption(args.rowBudget, "--row-budget", 0, Number.MAX_SAFE_INTEGER, "0: the default");
    if (given(args.buyer) && !isAddress(args.buyer))
      throw new UsageError(`--buyer must be the buyer's address, got ${args.buyer}`);
    if (args.sync !== "full" && args.sync !== "normal")
      throw new UsageError(`--sync must be full or normal, got ${args.sync}`);
    const sync: CommitSync = args.sync;
    const deal = await loadDealContext(ws.need(ws.deal, "zklora:propose"));
    if (given(args.exportCalls)) {
      const n = await exportCallLog(
        ws.need(ws.serverDb, "zklora:serve"),
        path.resolve(args.exportCalls),
        deal,
      );
      console.log(`${n} answered calls of deal ${deal.dealId} written to ${path.resolve(args.exportCalls)}`);
      return;
    }
    const connection = await connect(hre);
    const signer = await pickSigner(connection, args.from, deal.contributor);
    let client;
    try {
      client = await clientOf(connection, args.deployment, signer);
    } catch {
      client = undefined; // serving works off-chain; only an open deal's buyer needs the chain
    }
    const { server, url } = await startServe({
      workspace: ws,
      signer,
      client,
      buyer: args.buyer,
      host: args.host,
      port,
      rowBudget: rowBudget === 0 ? undefined : rowBudget,
      corsOrigins: (args.corsOrigins ?? "")
        .split(",")
        .map((o) => o.trim())
        .filter((o) => o !== ""),
      ptau: fileOf(args.ptau),
      sync,
      progress,
    });
    console.log(`zklora server for deal ${deal.dealId} listening on ${url}`);
    console.log(
      `database (answered calls, budgets): ${ws.serverDb}; uploaded deal keys: ${ws.serverKeys}; Ctrl-C to stop`,
    );
    await new Promise<void>((resolve) => {
      process.once("SIGINT", () => resolve());
      process.once("SIGTERM", () => resolve());
    });
    console.log("stopping ...");
    await server.close();
    console.log("stopped");
  });
}
