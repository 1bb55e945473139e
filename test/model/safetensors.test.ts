import { expect } from "chai";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import {
  parseSafetensors,
  readSafetensors,
  serializeSafetensors,
  writeSafetensors,
  type TensorMap,
} from "../../src/model/index.js";
import { expectModelError, tempDir } from "./helpers.js";

/** Builds a safetensors file by hand (independent of the writer). */
function handmade(
  entries: { name: string; dtype: string; shape: number[]; bytes: Uint8Array }[],
): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let off = 0;
  for (const e of entries) {
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [off, off + e.bytes.length] };
    off += e.bytes.length;
  }
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  let p = 8 + h.length;
  for (const e of entries) {
    out.set(e.bytes, p);
    p += e.bytes.length;
  }
  return out;
}

describe("# safetensors", () => {
  it("Should round-trip float32 tensors and metadata through a file", async () => {
    const { dir, cleanup } = await tempDir("st");
    try {
      const t: TensorMap = new Map([
        ["b.weight", { shape: [2, 3], data: Float32Array.of(1, -2, 3.5, 1e-30, -0, 7) }],
        ["a", { shape: [], data: Float32Array.of(42) }],
        ["z.empty", { shape: [0, 4], data: new Float32Array(0) }],
      ]);
      const file = path.join(dir, "x.safetensors");
      await writeSafetensors(file, t, { format: "pt" });
      const back = await readSafetensors(file);
      expect(back.metadata).to.deep.equal({ format: "pt" });
      expect([...back.tensors.keys()].sort()).to.deep.equal(["a", "b.weight", "z.empty"]);
      for (const [k, v] of t) {
        expect(back.tensors.get(k)!.shape).to.deep.equal(v.shape);
        expect(Array.from(back.tensors.get(k)!.data)).to.deep.equal(Array.from(v.data));
      }
      // header length is a multiple of 8 (alignment of the data buffer)
      const bytes = serializeSafetensors(t);
      expect(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8).to.equal(0);
    } finally {
      await cleanup();
    }
  });

  it("Should read F16, BF16 and F64 tensors as float32", () => {
    const f16 = new Uint8Array(8);
    const v16 = new DataView(f16.buffer);
    [0x3c00, 0xc000, 0x3555, 0x0001].forEach((h, i) => v16.setUint16(2 * i, h, true)); // 1, -2, ~0.33325, 2^-24
    const bf = new Uint8Array(4);
    const vb = new DataView(bf.buffer);
    [0x3f80, 0xc0a0].forEach((h, i) => vb.setUint16(2 * i, h, true)); // 1, -5
    const f64 = new Uint8Array(16);
    const v64 = new DataView(f64.buffer);
    v64.setFloat64(0, Math.PI, true);
    v64.setFloat64(8, -0.125, true);
    const { tensors } = parseSafetensors(
      handmade([
        { name: "h", dtype: "F16", shape: [4], bytes: f16 },
        { name: "b", dtype: "BF16", shape: [2], bytes: bf },
        { name: "d", dtype: "F64", shape: [2, 1], bytes: f64 },
      ]),
    );
    expect(Array.from(tensors.get("h")!.data)).to.deep.equal([
      1,
      -2,
      Math.fround(0.333251953125),
      Math.fround(2 ** -24),
    ]);
    expect(Array.from(tensors.get("b")!.data)).to.deep.equal([1, -5]);
    expect(Array.from(tensors.get("d")!.data)).to.deep.equal([Math.fround(Math.PI), -0.125]);
  });

  it("Should reject truncated, malformed and unsupported files with typed errors", async () => {
    await expectModelError(() => parseSafetensors(new Uint8Array(3), "f"), "BAD_SAFETENSORS", "f", "8-byte");
    const tooLong = new Uint8Array(16);
    new DataView(tooLong.buffer).setBigUint64(0, 1000n, true);
    await expectModelError(() => parseSafetensors(tooLong), "BAD_SAFETENSORS", "header length");
    const notJson = new Uint8Array(12);
    new DataView(notJson.buffer).setBigUint64(0, 4n, true);
    notJson.set(new TextEncoder().encode("{{{{"), 8);
    await expectModelError(() => parseSafetensors(notJson), "BAD_SAFETENSORS", "not JSON");
    await expectModelError(
      () => parseSafetensors(handmade([{ name: "w", dtype: "F32", shape: [3], bytes: new Uint8Array(8) }])),
      "BAD_SAFETENSORS",
      "w",
      "data_offsets",
    );
    await expectModelError(
      () => parseSafetensors(handmade([{ name: "i", dtype: "I64", shape: [1], bytes: new Uint8Array(8) }])),
      "UNSUPPORTED",
      "I64",
    );
    await expectModelError(
      readSafetensors("/nonexistent/model.safetensors"),
      "MISSING_FILE",
      "/nonexistent/model.safetensors",
    );
    const { dir, cleanup } = await tempDir("st-bad");
    try {
      await writeFile(path.join(dir, "bad.safetensors"), "garbage");
      await expectModelError(
        readSafetensors(path.join(dir, "bad.safetensors")),
        "BAD_SAFETENSORS",
        "bad.safetensors",
      );
      await expectModelError(
        writeSafetensors(
          path.join(dir, "w.safetensors"),
          new Map([["x", { shape: [2, 2], data: new Float32Array(3) }]]),
        ),
        "BAD_SHAPE",
        "x",
      );
    } finally {
      await cleanup();
    }
  });
});
