/**
 * Hardhat Ignition module of the key-wrap verifier of delivery deals: LoraKeyWrapVerifierV2
 * (constructor argument: the WrapKey struct, `solidityWrapKey(await buildWrapKey({ ptau }))` of
 * src/zk/wrap, passed as the module parameter `key`) and its registration in the core's registry
 * (`registerWrapVerifier(verifier)`, permanent). Futures `ZkloraWrap#LoraKeyWrapVerifierV2` and
 * `ZkloraWrap#registerWrapVerifier`.
 */
import { buildModule } from "@nomicfoundation/ignition-core";
import ZkloraCore from "./ZkloraCore.js";

export const WRAP_MODULE_ID = "ZkloraWrap";
export const WRAP_VERIFIER_FUTURE_ID = `${WRAP_MODULE_ID}#LoraKeyWrapVerifierV2`;
export const WRAP_REGISTER_FUTURE_ID = `${WRAP_MODULE_ID}#registerWrapVerifier`;

export default buildModule(WRAP_MODULE_ID, (m) => {
  const { registry } = m.useModule(ZkloraCore);
  const verifier = m.contract("LoraKeyWrapVerifierV2", [m.getParameter("key")]);
  m.call(registry, "registerWrapVerifier", [verifier], { id: "registerWrapVerifier" });
  return { verifier };
});
