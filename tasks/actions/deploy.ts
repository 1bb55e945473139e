/** Action of `zklora:deploy`: parses arguments, derives the shape keys, calls src/chain's deploy, prints the result. */
import path from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { UsageError } from "../../src/app/errors.js";
import { forgeableShapes, refuseForgeableKeys } from "../../src/app/forgeable.js";
import { shapeSpec, wrapSpec } from "../../src/app/steps.js";
import {
  deployZklora,
  readZkloraArtifacts,
  registerShapes,
  registerWrapVerifier,
} from "../../src/chain/deploy.js";
import { buildWrapKey } from "../../src/zk/wrap/index.js";
import { writeDeployment } from "../../src/chain/deployments.js";
import { loadBaseModel, loadPeftAdapter } from "../../src/model/index.js";
import { buildShapeKey, type V2Shape } from "../../src/zk/v2/index.js";
import { fileOf, given, networkDeployment, runTask } from "./lib.js";

interface Args {
  shapes: string | undefined;
  adapter: string | undefined;
  model: string | undefined;
  ptau: string | undefined;
  register: boolean;
  noWrite: boolean;
  forgeableKeys: boolean;
}

async function shapesOf(args: Args): Promise<V2Shape[]> {
  const out: V2Shape[] = [];
  const add = (s: V2Shape) => {
    if (!out.some((x) => x.DIN === s.DIN && x.R === s.R && x.DOUT === s.DOUT)) out.push(s);
  };
  for (const part of (args.shapes ?? "")
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x !== "")) {
    const m = /^([1-9][0-9]*)x([1-9][0-9]*)x([1-9][0-9]*)$/.exec(part);
    if (m === null) throw new UsageError(`--shapes takes DINxRxDOUT entries (e.g. 64x8x64), got ${part}`);
    add({ DIN: Number(m[1]), R: Number(m[2]), DOUT: Number(m[3]) });
  }
  if (given(args.adapter)) {
    if (!given(args.model))
      throw new UsageError("--adapter needs --model (the base model the adapter is for)");
    const model = await loadBaseModel(path.resolve(args.model));
    try {
      const adapter = await loadPeftAdapter(path.resolve(args.adapter));
      for (const t of model.targets(adapter.config.target_modules)) {
        const am = adapter.modules.find(
          (m) => m.name === t.name || m.name.endsWith(`.${t.name}`) || t.name.endsWith(`.${m.name}`),
        );
        if (am !== undefined) add({ DIN: am.DIN, R: am.R, DOUT: am.DOUT });
      }
    } finally {
      await model.close();
    }
  }
  return out;
}

export default async function deployAction(args: Args, hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask("zklora:deploy", async () => {
    await hre.tasks.getTask("build").run({ quiet: true, noTests: true });
    const connection = await hre.network.getOrCreate();
    const [signer] = await connection.ethers.getSigners();
    if (signer === undefined)
      throw new UsageError(`network ${connection.networkName} has no account to deploy from`);
    const { chainId } = await connection.ethers.provider.getNetwork();
    const shapes = await shapesOf(args);
    const ptau = fileOf(args.ptau);
    refuseForgeableKeys({
      chainId,
      network: connection.networkName,
      forgeable:
        ptau === undefined
          ? forgeableShapes(shapes.map((s) => ({ name: `${s.DIN}x${s.R}x${s.DOUT}`, ptau: "dev" })))
          : [],
      allow: args.forgeableKeys,
      action: "deploy",
    });
    const specs = [];
    for (const s of shapes) {
      console.log(
        `shape ${s.DIN}x${s.R}x${s.DOUT}: deriving its key (cached by content after the first time)`,
      );
      specs.push(shapeSpec(await buildShapeKey(s, { ptau })));
    }
    console.log(
      "key-wrap circuit (delivery deals): deriving its key (cached by content after the first time)",
    );
    const wrap = wrapSpec(await buildWrapKey({ ptau }));
    const artifacts = await readZkloraArtifacts(hre.artifacts);
    const log = (m: string) => console.log(m);
    const record = args.register
      ? await registerWrapVerifier(
          signer,
          await registerShapes(
            signer,
            await networkDeployment(connection.networkName),
            specs,
            artifacts,
            log,
          ),
          wrap,
          artifacts,
          log,
        )
      : await deployZklora(signer, specs, artifacts, { network: connection.networkName, log, wrap });
    if (!args.noWrite) {
      const abis = Object.fromEntries(
        [artifacts.registry, artifacts.escrow, artifacts.verifier, artifacts.wrapVerifier].map((a) => [
          a.contractName,
          a.abi,
        ]),
      );
      console.log(`wrote ${await writeDeployment(connection.networkName, record, { abis })}`);
    }
    console.log(
      `${args.register ? "updated" : "deployed"} on ${record.network} (chain ${record.chainId}): registry ${record.contracts.ShapeRegistryV2.address}, ` +
        `escrow ${record.contracts.LoraEscrowV2.address}, ${record.shapes.length} shape verifier(s), key-wrap verifier ${record.wrap?.verifier.address ?? "none"}` +
        (args.noWrite ? " (record not written: --no-write)" : ""),
    );
  });
}
