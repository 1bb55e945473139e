/** Circuit shapes and shape ids (ARCHITECTURE.md, "Shape id"). */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { AbiCoder, encodeBytes32String, keccak256 } from "ethers";
import { PROJECT_ROOT } from "../common/cache.js";
import { ShapeError } from "./errors.js";

/** One circuit shape: T rows of DIN inputs, LoRA rank R, DOUT outputs. */
export interface Shape {
  name: string;
  T: number;
  DIN: number;
  R: number;
  DOUT: number;
}

/** The shape id's variant: bytes32("zklora.lora-module.v1"). */
export const SHAPE_VARIANT = encodeBytes32String("zklora.lora-module.v1");

/** The circuits folder. */
export const CIRCUITS_DIR = path.join(PROJECT_ROOT, "circuits");
/** The shapes config. */
export const SHAPES_FILE = path.join(CIRCUITS_DIR, "shapes.json");

/** `keccak256(abi.encode(bytes32 variant, uint256 T, uint256 DIN, uint256 R, uint256 DOUT))`. */
export function shapeId(shape: Pick<Shape, "T" | "DIN" | "R" | "DOUT">): string {
  validateDims(shape);
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(
      ["bytes32", "uint256", "uint256", "uint256", "uint256"],
      [SHAPE_VARIANT, shape.T, shape.DIN, shape.R, shape.DOUT],
    ),
  );
}

function validateDims(s: Pick<Shape, "T" | "DIN" | "R" | "DOUT">): void {
  for (const k of ["T", "DIN", "R", "DOUT"] as const) {
    const v = s[k];
    if (!Number.isInteger(v) || v < 1)
      throw new ShapeError(`shape ${k} must be a positive integer, got ${v}`);
  }
}

/** Checks a shape's name and dimensions; returns it. */
export function validateShape(s: Shape): Shape {
  if (typeof s.name !== "string" || !/^[A-Za-z][A-Za-z0-9_]*$/.test(s.name)) {
    throw new ShapeError(
      `shape name ${JSON.stringify(s.name)} must match [A-Za-z][A-Za-z0-9_]* (a Solidity identifier)`,
    );
  }
  validateDims(s);
  return { name: s.name, T: s.T, DIN: s.DIN, R: s.R, DOUT: s.DOUT };
}

/** Reads circuits/shapes.json. */
export async function loadShapes(file: string = SHAPES_FILE): Promise<Shape[]> {
  const raw = JSON.parse(await readFile(file, "utf8")) as unknown;
  if (!Array.isArray(raw)) throw new ShapeError(`${file} must hold a JSON array of shapes`);
  const shapes = raw.map((s) => validateShape(s as Shape));
  const names = new Set<string>();
  for (const s of shapes) {
    if (names.has(s.name)) throw new ShapeError(`${file}: shape name ${s.name} appears twice`);
    names.add(s.name);
  }
  return shapes;
}

/** Finds a shape in circuits/shapes.json by name or by dimensions; throws ShapeError when absent. */
export async function findShape(
  nameOrDims: string | Pick<Shape, "T" | "DIN" | "R" | "DOUT">,
): Promise<Shape> {
  const shapes = await loadShapes();
  const found =
    typeof nameOrDims === "string"
      ? shapes.find((s) => s.name === nameOrDims)
      : shapes.find(
          (s) =>
            s.T === nameOrDims.T &&
            s.DIN === nameOrDims.DIN &&
            s.R === nameOrDims.R &&
            s.DOUT === nameOrDims.DOUT,
        );
  if (found === undefined) {
    const what = typeof nameOrDims === "string" ? nameOrDims : JSON.stringify(nameOrDims);
    throw new ShapeError(
      `no shape ${what} in circuits/shapes.json (have: ${shapes.map((s) => s.name).join(", ")}); add it there`,
    );
  }
  return found;
}

/** The generated main file's source for a shape. */
export function mainSource(shape: Shape): string {
  const s = validateShape(shape);
  return (
    `// Generated from circuits/shapes.json by src/zk (zklora:circuits). Do not edit.\n` +
    `pragma circom 2.1.0;\n\ninclude "../lora_module.circom";\n\n` +
    `component main {public [C_m, hX, rho, fY]} = LoraModule(${s.T}, ${s.DIN}, ${s.R}, ${s.DOUT});\n`
  );
}
