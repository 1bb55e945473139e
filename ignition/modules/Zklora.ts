/**
 * The Hardhat Ignition module `zklora:deploy` runs: the core (registry + escrow, ./ZkloraCore.ts),
 * the key-wrap verifier (./ZkloraWrap.ts) and one module per shape (./ZkloraShape.ts), built for the
 * shapes of one run. Every run of a network goes to the same Ignition deployment (its journal in
 * `ignition/deployments/chain-<chain id>/`): what an earlier run executed is reconciled and skipped,
 * a run that stopped half-way resumes, and a shape added later deploys only its own module.
 *
 * Parameters (`zkloraParameters`): `ZkloraCore.owner` (the deployer), `ZkloraWrap.key` and
 * `ZkloraShape_<name>.key` (the verifiers' key structs, derived in code: they are large).
 */
import { buildModule } from "@nomicfoundation/ignition-core";
import type { DeploymentParameters } from "@nomicfoundation/ignition-core";
import ZkloraCore, { CORE_MODULE_ID } from "./ZkloraCore.js";
import { shapeModuleId, zkloraShapeModule } from "./ZkloraShape.js";
import ZkloraWrap, { WRAP_MODULE_ID } from "./ZkloraWrap.js";

export const ZKLORA_MODULE_ID = "Zklora";
export const REGISTRY_FUTURE_ID = `${CORE_MODULE_ID}#ShapeRegistryV2`;
export const ESCROW_FUTURE_ID = `${CORE_MODULE_ID}#LoraEscrowV2`;

/** What one run deploys besides the core: the shapes (by name) and whether the key-wrap verifier. */
export interface ZkloraModuleContent {
  shapes: readonly string[];
  wrap: boolean;
}

/** The top-level module of a run (it has no futures of its own: only its submodules'). */
export function zkloraModule(content: ZkloraModuleContent) {
  return buildModule(ZKLORA_MODULE_ID, (m) => {
    const { registry, escrow } = m.useModule(ZkloraCore);
    if (content.wrap) m.useModule(ZkloraWrap);
    for (const name of content.shapes) m.useModule(zkloraShapeModule(name));
    return { registry, escrow };
  });
}

/** The module parameters of a run: the registry owner and every included verifier's key struct. */
export function zkloraParameters(o: {
  owner: string;
  shapes: readonly { name: string; verifierArgs: unknown }[];
  wrap?: { verifierArgs: unknown };
}): DeploymentParameters {
  const params: DeploymentParameters = { [CORE_MODULE_ID]: { owner: o.owner } };
  if (o.wrap !== undefined) params[WRAP_MODULE_ID] = { key: o.wrap.verifierArgs as never };
  for (const s of o.shapes) params[shapeModuleId(s.name)] = { key: s.verifierArgs as never };
  return params;
}
