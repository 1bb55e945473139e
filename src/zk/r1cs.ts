/** Reads the header of a circom .r1cs file (binary format v1) without loading the constraints. */
import { open } from "node:fs/promises";
import { CompileError } from "./errors.js";

/** Counts from an r1cs header. */
export interface R1csInfo {
  nWires: number;
  nPubOut: number;
  nPubIn: number;
  nPrvIn: number;
  nLabels: number;
  nConstraints: number;
}

/** Reads the header section (type 1) of an r1cs file. */
export async function readR1csInfo(file: string): Promise<R1csInfo> {
  const fh = await open(file, "r");
  try {
    const head = Buffer.alloc(12);
    await fh.read(head, 0, 12, 0);
    if (head.toString("ascii", 0, 4) !== "r1cs") throw new CompileError(`${file} is not an r1cs file`);
    const nSections = head.readUInt32LE(8);
    let pos = 12;
    for (let s = 0; s < nSections; s++) {
      const sh = Buffer.alloc(12);
      await fh.read(sh, 0, 12, pos);
      const type = sh.readUInt32LE(0);
      const size = Number(sh.readBigUInt64LE(4));
      pos += 12;
      if (type === 1) {
        const body = Buffer.alloc(size);
        await fh.read(body, 0, size, pos);
        const n8 = body.readUInt32LE(0);
        let o = 4 + n8;
        const nWires = body.readUInt32LE(o);
        const nPubOut = body.readUInt32LE(o + 4);
        const nPubIn = body.readUInt32LE(o + 8);
        const nPrvIn = body.readUInt32LE(o + 12);
        const nLabels = Number(body.readBigUInt64LE(o + 16));
        o += 24;
        const nConstraints = body.readUInt32LE(o);
        return { nWires, nPubOut, nPubIn, nPrvIn, nLabels, nConstraints };
      }
      pos += size;
    }
    throw new CompileError(`${file} has no r1cs header section`);
  } finally {
    await fh.close();
  }
}
