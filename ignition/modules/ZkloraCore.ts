/**
 * Hardhat Ignition module of a zklora instance's core (protocol v2): the append-only shape registry,
 * owned by the deployer (parameter `owner`, default account #0, Ignition's default sender), and the
 * escrow over it. Future ids: `ZkloraCore#ShapeRegistryV2`, `ZkloraCore#LoraEscrowV2`.
 *
 * `zklora:deploy` deploys it together with the key-wrap module and a module per shape (see
 * ./Zklora.ts); on its own: `npx hardhat ignition deploy ignition/modules/ZkloraCore.ts --network …`.
 */
import { buildModule } from "@nomicfoundation/ignition-core";

export const CORE_MODULE_ID = "ZkloraCore";

export default buildModule(CORE_MODULE_ID, (m) => {
  const owner = m.getParameter("owner", m.getAccount(0));
  const registry = m.contract("ShapeRegistryV2", [owner]);
  const escrow = m.contract("LoraEscrowV2", [registry]);
  return { registry, escrow };
});
