/** Action of `zklora:propose`. */
import { getAddress, isAddress } from "ethers";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { UsageError } from "../../src/app/errors.js";
import { proposeStep } from "../../src/app/steps.js";
import { formatAmount } from "../../src/app/format.js";
import { readZkloraArtifacts } from "../../src/chain/deploy.js";
import { writeDeployment } from "../../src/chain/deployments.js";
import {
  clientOf,
  connect,
  deploymentOf,
  fileOf,
  given,
  intOption,
  parseAmount,
  pickSigner,
  runTask,
  workspaceOf,
} from "./lib.js";

interface Args {
  workspace: string | undefined;
  deployment: string | undefined;
  from: string | undefined;
  price: string | undefined;
  token: string | undefined;
  buyer: string | undefined;
  window: number;
  ptau: string | undefined;
  deliver?: boolean;
  verbose?: boolean;
}

export default async function proposeAction(args: Args, hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask({ name: "zklora:propose", verbose: args.verbose }, async (progress) => {
    const ws = workspaceOf(args.workspace);
    const amount = args.price;
    if (!given(amount)) throw new UsageError("pass --price AMOUNT (whole ETH or token units, e.g. 0.01)");
    const window = intOption(args.window, "--window", 1, Number.MAX_SAFE_INTEGER, "seconds");
    const connection = await connect(hre);
    const signer = await pickSigner(connection, args.from);
    const client = await clientOf(connection, args.deployment, signer);
    let buyer: string | null = null;
    if (given(args.buyer)) {
      if (/^[0-9]+$/.test(args.buyer)) buyer = await (await pickSigner(connection, args.buyer)).getAddress();
      else if (isAddress(args.buyer)) buyer = getAddress(args.buyer);
      else throw new UsageError(`--buyer must be an address or an account index, got ${args.buyer}`);
    }
    if (given(args.token) && !isAddress(args.token))
      throw new UsageError(`--token must be an ERC-20 address, got ${args.token}`);
    const token = given(args.token) ? getAddress(args.token) : null;
    const info = await client.tokenInfo(token);
    const price = parseAmount(amount, info.decimals);
    const record = await deploymentOf(connection, args.deployment);
    const {
      dealId,
      tx,
      record: updated,
    } = await proposeStep({
      workspace: ws,
      client,
      price,
      token,
      buyer,
      provingWindow: window,
      delivery: args.deliver === true,
      register: {
        record,
        artifacts: await readZkloraArtifacts(hre.artifacts),
        ptau: fileOf(args.ptau),
      },
      progress,
    });
    if (updated !== undefined && updated !== record && !given(args.deployment)) {
      console.log(`wrote ${await writeDeployment(connection.networkName, updated)}`);
    }
    console.log(
      `proposed deal ${dealId} on ${connection.networkName}: price ${formatAmount(price, info)}, buyer ${buyer ?? "open"}, window ${window} s`,
    );
    console.log(`tx ${tx.hash} (block ${tx.blockNumber}, gas ${tx.gasUsed})`);
    console.log(
      `wrote ${ws.deal}: send it and manifest.json${args.deliver === true ? " and delivery.json" : ""} to the buyer`,
    );
  });
}
