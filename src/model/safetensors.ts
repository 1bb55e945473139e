/**
 * safetensors reader and writer.
 *
 * Format: 8-byte little-endian header length N, N bytes of JSON header
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: {string: string} }`,
 * then the data buffer (offsets relative to its start). Tensors are little-endian, row-major.
 * Reading converts F32/F16/BF16/F64 to Float32Array; writing emits F32.
 */
import { readFile, writeFile, stat } from "node:fs/promises";
import { ModelError } from "./errors.js";

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

export type TensorMap = Map<string, Tensor>;

export interface SafetensorsFile {
  tensors: TensorMap;
  metadata: Record<string, string>;
}

const DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m === 0 ? s * Infinity : NaN;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Parses safetensors bytes; `source` names the file in errors. */
export function parseSafetensors(buf: Uint8Array, source = "<buffer>"): SafetensorsFile {
  const bad = (why: string) =>
    new ModelError("BAD_SAFETENSORS", `${source}: ${why}; re-export the file with safetensors' save_file`);
  if (buf.length < 8) throw bad("file shorter than the 8-byte header length");
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n <= 0 || 8 + n > buf.length)
    throw bad(`header length ${n} does not fit the file (${buf.length} bytes)`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + n))) as Record<string, unknown>;
  } catch (e) {
    throw bad(`header is not JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header))
    throw bad("header is not a JSON object");
  const dataStart = 8 + n;
  const dataLen = buf.length - dataStart;
  const tensors: TensorMap = new Map();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = (raw ?? {}) as Record<string, string>;
      continue;
    }
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = String(info?.dtype);
    const width = DTYPE_BYTES[dtype];
    if (width === undefined)
      throw new ModelError(
        "UNSUPPORTED",
        `${source}: tensor ${name} has dtype ${dtype}; supported are F32, F16, BF16, F64 (convert the checkpoint to one of them)`,
      );
    if (!Array.isArray(info.shape) || !info.shape.every((d) => Number.isInteger(d) && d >= 0))
      throw bad(`tensor ${name} has an invalid shape ${JSON.stringify(info.shape)}`);
    const shape = info.shape as number[];
    const offs = info.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2)
      throw bad(`tensor ${name} has no data_offsets [begin, end]`);
    const [b, e] = offs as number[];
    const count = shape.reduce((a, d) => a * d, 1);
    if (!(Number.isInteger(b) && Number.isInteger(e) && b >= 0 && e <= dataLen && e - b === count * width))
      throw bad(
        `tensor ${name}: data_offsets [${b}, ${e}] do not match shape [${shape}] of ${dtype} within ${dataLen} data bytes`,
      );
    const out = new Float32Array(count);
    const base = dataStart + b;
    if (dtype === "F32") {
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(base + 4 * i, true);
    } else if (dtype === "F64") {
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(base + 8 * i, true);
    } else if (dtype === "F16") {
      for (let i = 0; i < count; i++) out[i] = f16ToF32(view.getUint16(base + 2 * i, true));
    } else {
      const tmp = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < count; i++) {
        tmp.setUint32(0, view.getUint16(base + 2 * i, true) << 16, true);
        out[i] = tmp.getFloat32(0, true);
      }
    }
    tensors.set(name, { shape, data: out });
  }
  return { tensors, metadata };
}

/** Reads a .safetensors file into float32 tensors. */
export async function readSafetensors(file: string): Promise<SafetensorsFile> {
  try {
    await stat(file);
  } catch {
    throw new ModelError("MISSING_FILE", `${file} does not exist; expected a safetensors weights file there`);
  }
  return parseSafetensors(new Uint8Array(await readFile(file)), file);
}

/** Serialises float32 tensors (names sorted) to safetensors bytes. */
export function serializeSafetensors(tensors: TensorMap, metadata?: Record<string, string>): Uint8Array {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (metadata !== undefined && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let off = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const count = t.shape.reduce((a, d) => a * d, 1);
    if (count !== t.data.length)
      throw new ModelError(
        "BAD_SHAPE",
        `tensor ${name}: shape [${t.shape}] has ${count} elements but data has ${t.data.length}`,
      );
    header[name] = { dtype: "F32", shape: t.shape, data_offsets: [off, off + 4 * count] };
    off += 4 * count;
  }
  const raw = new TextEncoder().encode(JSON.stringify(header));
  const hbytes = new Uint8Array(Math.ceil(raw.length / 8) * 8).fill(0x20);
  hbytes.set(raw);
  const out = new Uint8Array(8 + hbytes.length + off);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(hbytes.length), true);
  out.set(hbytes, 8);
  let p = 8 + hbytes.length;
  for (const name of names) {
    const d = tensors.get(name)!.data;
    for (let i = 0; i < d.length; i++, p += 4) view.setFloat32(p, d[i], true);
  }
  return out;
}

/** Writes float32 tensors to a .safetensors file. */
export async function writeSafetensors(
  file: string,
  tensors: TensorMap,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFile(file, serializeSafetensors(tensors, metadata));
}
