/** Action of `zklora:deploy`: parses arguments, calls src/chain's deploy, prints the result. */
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { forgeableShapes, refuseForgeableKeys } from "../../src/app/forgeable.js";
import { runTask } from "./lib.js";
import { collectZkloraArtifacts, deployZklora } from "../../src/chain/deploy.js";
import { writeDeployment } from "../../src/chain/deployments.js";
import { loadShapes } from "../../src/zk/shape.js";
import { loadDeliveryShapes } from "../../src/zk/delivery-build.js";
import { loadChunkedShapes } from "../../src/zk/chunk-build.js";
import { linkStart } from "../../src/zk/chunked.js";

interface DeployTaskArguments {
  shapes: string;
  registryOwner: string;
  noWrite: boolean;
  forgeableKeys: boolean;
}

export default async function deployAction(
  args: DeployTaskArguments,
  hre: HardhatRuntimeEnvironment,
): Promise<void> {
  await runTask("zklora:deploy", async () => {
    await hre.tasks.getTask("build").run({ quiet: true, noTests: true });
    const connection = await hre.network.getOrCreate();
    const [signer] = await connection.ethers.getSigners();
    if (signer === undefined)
      throw new Error(`network ${connection.networkName} has no account to deploy from`);
    const { chainId } = await connection.ethers.provider.getNetwork();
    refuseForgeableKeys({
      chainId,
      network: connection.networkName,
      forgeable: await forgeableShapes(),
      allow: args.forgeableKeys,
      action: "deploy",
    });
    const only = args.shapes === "" ? undefined : args.shapes.split(",").map((s) => s.trim());
    const { artifacts, missing } = await collectZkloraArtifacts(hre.artifacts, await loadShapes(), {
      only,
      deliveryShapes: await loadDeliveryShapes(),
      chunkedShapes: await Promise.all(
        (await loadChunkedShapes()).map(async (s) => ({ ...s, linkStart: await linkStart(s.R) })),
      ),
    });
    for (const name of missing) {
      console.log(
        `skipping shape ${name}: its generated verifiers are missing (run \`npm run circuits\` or \`npm run circuits:chunk\` first)`,
      );
    }
    const deployment = await deployZklora(signer, artifacts, {
      network: connection.networkName,
      registryOwner: args.registryOwner === "" ? undefined : args.registryOwner,
      log: (m) => console.log(m),
    });
    if (!args.noWrite) {
      const file = await writeDeployment(connection.networkName, deployment.record, {
        abis: deployment.abis,
      });
      console.log(`wrote ${file}`);
    }
    const r = deployment.record;
    console.log(
      `deployed on ${r.network} (chain ${r.chainId}): registry ${r.contracts.VerifierRegistry.address}, ` +
        `escrow ${r.contracts.LoraEscrow.address}, ${r.shapes.length} shape verifier(s), ` +
        `${r.deliveryShapes?.length ?? 0} delivery verifier(s)` +
        (args.noWrite ? " (record not written: --no-write)" : ""),
    );
  });
}
