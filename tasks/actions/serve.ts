/** Action of `zklora:serve`: runs the contributor's MPI server until Ctrl-C (SIGINT) or SIGTERM. */
import path from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { loadDealContext } from "../../src/mpi/index.js";
import { startServe } from "../../src/app/steps.js";
import { UsageError } from "../../src/app/errors.js";
import { clientOf, connect, pickSigner, runTask, workspaceOf } from "./lib.js";

interface Args {
  workspace: string;
  deployment: string;
  from: string;
  host: string;
  port: string;
  buyer: string;
  rowBudget: string;
  corsOrigins: string;
  ptau: string;
}

export default async function serveAction(args: Args, hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask("zklora:serve", async () => {
    const ws = workspaceOf(args.workspace);
    const deal = await loadDealContext(ws.need(ws.deal, "zklora:propose"));
    if (!/^[0-9]+$/.test(args.port) || Number(args.port) > 65535)
      throw new UsageError(`--port must be 0..65535, got ${args.port}`);
    if (args.rowBudget !== "" && !/^[1-9][0-9]*$/.test(args.rowBudget)) {
      throw new UsageError(`--row-budget must be a positive integer, got ${args.rowBudget}`);
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
      port: Number(args.port),
      rowBudget: args.rowBudget === "" ? undefined : Number(args.rowBudget),
      corsOrigins: args.corsOrigins
        .split(",")
        .map((o) => o.trim())
        .filter((o) => o !== ""),
      ptau: args.ptau === "" ? undefined : path.resolve(args.ptau),
      log: (m) => console.error(m),
    });
    console.log(`zklora server for deal ${deal.dealId} listening on ${url}`);
    console.log(`call log: ${ws.serverCalls}; uploaded deal keys: ${ws.serverKeys}; Ctrl-C to stop`);
    await new Promise<void>((resolve) => {
      process.once("SIGINT", () => resolve());
      process.once("SIGTERM", () => resolve());
    });
    console.log("stopping ...");
    await server.close();
    console.log("stopped");
  });
}
