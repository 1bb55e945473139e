/**
 * A small hand-written ONNX protobuf encoder (ModelProto, GraphProto, NodeProto, TensorProto,
 * ValueInfoProto, AttributeProto) and a graph builder on top of it.
 *
 * Wire format: each field is a varint key `(field << 3) | wire type` followed by a varint
 * (type 0), 4 bytes (type 5) or a varint length and bytes (type 2). Repeated scalars are written
 * unpacked (valid for ONNX's proto2 schema). Field numbers follow onnx/onnx.proto.
 */

export const ONNX_OPSET = 17;
export const ONNX_IR_VERSION = 8;

/** TensorProto.DataType values used here. */
export const DT_FLOAT = 1;
export const DT_INT64 = 7;

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

class Writer {
  private chunks: Uint8Array[] = [];
  private buf = new Uint8Array(256);
  private pos = 0;
  private ensure(n: number) {
    if (this.pos + n <= this.buf.length) return;
    this.chunks.push(this.buf.subarray(0, this.pos));
    this.buf = new Uint8Array(Math.max(256, n));
    this.pos = 0;
  }
  varint(v: number | bigint) {
    let x = BigInt.asUintN(64, BigInt(v));
    this.ensure(10);
    while (x >= 0x80n) {
      this.buf[this.pos++] = Number(x & 0x7fn) | 0x80;
      x >>= 7n;
    }
    this.buf[this.pos++] = Number(x);
  }
  key(field: number, wire: number) {
    this.varint((field << 3) | wire);
  }
  bytes(field: number, data: Uint8Array) {
    this.key(field, 2);
    this.varint(data.length);
    this.ensure(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }
  string(field: number, s: string) {
    this.bytes(field, new TextEncoder().encode(s));
  }
  int(field: number, v: number | bigint) {
    this.key(field, 0);
    this.varint(v);
  }
  float(field: number, v: number) {
    this.key(field, 5);
    this.ensure(4);
    new DataView(this.buf.buffer, this.buf.byteOffset).setFloat32(this.pos, v, true);
    this.pos += 4;
  }
  finish(): Uint8Array {
    this.chunks.push(this.buf.subarray(0, this.pos));
    const total = this.chunks.reduce((a, c) => a + c.length, 0);
    const out = new Uint8Array(total);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    this.chunks = [];
    this.buf = new Uint8Array(256);
    this.pos = 0;
    return out;
  }
}

export type AttrValue = number | number[] | string | { float: number } | { floats: number[] };

export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, AttrValue>;
}

export interface OnnxInitializer {
  name: string;
  dims: number[];
  type: typeof DT_FLOAT | typeof DT_INT64;
  /** float32 values, or int64 values as numbers */
  data: Float32Array | number[];
}

/** A dimension: a fixed size or a symbolic name such as "T". */
export type Dim = number | string;

export interface OnnxValueInfo {
  name: string;
  type: number;
  /** absent: shape unknown */
  dims?: Dim[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxInitializer[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

function encodeTensor(t: OnnxInitializer): Uint8Array {
  const w = new Writer();
  for (const d of t.dims) w.int(1, d);
  w.int(2, t.type);
  w.string(8, t.name);
  let raw: Uint8Array;
  if (t.type === DT_FLOAT) {
    const f = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
    if (LITTLE_ENDIAN) raw = new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
    else {
      raw = new Uint8Array(f.length * 4);
      const v = new DataView(raw.buffer);
      for (let i = 0; i < f.length; i++) v.setFloat32(4 * i, f[i], true);
    }
  } else {
    raw = new Uint8Array(t.data.length * 8);
    const v = new DataView(raw.buffer);
    for (let i = 0; i < t.data.length; i++) v.setBigInt64(8 * i, BigInt(t.data[i]), true);
  }
  w.bytes(9, raw);
  return w.finish();
}

function encodeAttr(name: string, v: AttrValue): Uint8Array {
  const w = new Writer();
  w.string(1, name);
  if (typeof v === "number") {
    w.int(3, v);
    w.int(20, 2); // INT
  } else if (typeof v === "string") {
    w.bytes(4, new TextEncoder().encode(v));
    w.int(20, 3); // STRING
  } else if (Array.isArray(v)) {
    for (const x of v) w.int(8, x);
    w.int(20, 7); // INTS
  } else if ("float" in v) {
    w.float(2, v.float);
    w.int(20, 1); // FLOAT
  } else {
    for (const x of v.floats) w.float(7, x);
    w.int(20, 6); // FLOATS
  }
  return w.finish();
}

function encodeNode(n: OnnxNode, i: number): Uint8Array {
  const w = new Writer();
  for (const x of n.inputs) w.string(1, x);
  for (const x of n.outputs) w.string(2, x);
  w.string(3, `${n.op}_${i}`);
  w.string(4, n.op);
  for (const [k, v] of Object.entries(n.attrs ?? {})) w.bytes(5, encodeAttr(k, v));
  return w.finish();
}

function encodeValueInfo(v: OnnxValueInfo): Uint8Array {
  const tensorType = new Writer();
  tensorType.int(1, v.type);
  if (v.dims !== undefined) {
    const shape = new Writer();
    for (const d of v.dims) {
      const dim = new Writer();
      if (typeof d === "number") dim.int(1, d);
      else dim.string(2, d);
      shape.bytes(1, dim.finish());
    }
    tensorType.bytes(2, shape.finish());
  }
  const typeProto = new Writer();
  typeProto.bytes(1, tensorType.finish());
  const w = new Writer();
  w.string(1, v.name);
  w.bytes(2, typeProto.finish());
  return w.finish();
}

/** Encodes a graph as a complete ModelProto (opset 17, IR version 8). */
export function encodeModel(g: OnnxGraph): Uint8Array {
  const gw = new Writer();
  g.nodes.forEach((n, i) => gw.bytes(1, encodeNode(n, i)));
  gw.string(2, g.name);
  for (const t of g.initializers) gw.bytes(5, encodeTensor(t));
  for (const v of g.inputs) gw.bytes(11, encodeValueInfo(v));
  for (const v of g.outputs) gw.bytes(12, encodeValueInfo(v));
  const graph = gw.finish();
  const opset = new Writer();
  opset.string(1, "");
  opset.int(2, ONNX_OPSET);
  const mw = new Writer();
  mw.int(1, ONNX_IR_VERSION);
  mw.string(2, "zklora-escrow");
  mw.string(3, "0.1.0");
  mw.bytes(7, graph);
  mw.bytes(8, opset.finish());
  return mw.finish();
}
