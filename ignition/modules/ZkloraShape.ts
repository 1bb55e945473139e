/**
 * Hardhat Ignition module of one v2 shape: its LoraModuleVerifierV2 (constructor argument: the shape's
 * ShapeKey struct, `solidityShapeKey(await buildShapeKey(shape, { ptau }))` of src/zk/v2, passed as the
 * module parameter `key`) and its registration in the core's registry (`register(verifier)`).
 *
 * One module per shape, named after it: `ZkloraShape_<shape name>` (e.g. `ZkloraShape_v2_i8_r2_o8`),
 * futures `<module>#LoraModuleVerifierV2` and `<module>#register`. Ignition's journal compares the
 * key of a shape deployed earlier with the one given now: another ptau is a reconciliation error,
 * never a second verifier.
 */
import { buildModule } from "@nomicfoundation/ignition-core";
import ZkloraCore from "./ZkloraCore.js";

/** The id of a shape's module: `ZkloraShape_<name>`, the name being `v2_i<DIN>_r<R>_o<DOUT>`. */
export function shapeModuleId(shapeName: string): string {
  if (!/^[A-Za-z0-9_]+$/.test(shapeName)) throw new Error(`shape name ${shapeName} is not an Ignition id`);
  return `ZkloraShape_${shapeName}`;
}

/** The future id of a shape's verifier deployment. */
export function shapeVerifierFutureId(shapeName: string): string {
  return `${shapeModuleId(shapeName)}#LoraModuleVerifierV2`;
}

/** The future id of a shape's registration call. */
export function shapeRegisterFutureId(shapeName: string): string {
  return `${shapeModuleId(shapeName)}#register`;
}

const modules = new Map<string, ReturnType<typeof build>>();

function build(shapeName: string) {
  return buildModule(shapeModuleId(shapeName), (m) => {
    const { registry } = m.useModule(ZkloraCore);
    const verifier = m.contract("LoraModuleVerifierV2", [m.getParameter("key")]);
    m.call(registry, "register", [verifier], { id: "register" });
    return { verifier };
  });
}

/** The module of a shape (one object per name: Ignition refuses two modules with one id). */
export function zkloraShapeModule(shapeName: string) {
  let mod = modules.get(shapeName);
  if (mod === undefined) {
    mod = build(shapeName);
    modules.set(shapeName, mod);
  }
  return mod;
}
