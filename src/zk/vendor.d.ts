// Minimal typings for the untyped JavaScript packages src/zk uses (snarkjs 0.7.6, circomlibjs 0.1.7).
// Only what src/zk calls is declared.

declare module "snarkjs" {
  export interface SnarkjsLogger {
    /** powersoftau new calls `log` (not info) for its progress once the power reaches 16. */
    log(msg: string): void;
    debug(msg: string): void;
    info(msg: string): void;
    warn(msg: string): void;
    error(msg: string): void;
  }
  /** A file name, or an in-memory file `{ type: "mem", data? }`. */
  export type FileLike = string | { type: "mem"; data?: Uint8Array };
  export const groth16: {
    fullProve(
      input: Record<string, unknown>,
      wasm: FileLike,
      zkey: FileLike,
      logger?: SnarkjsLogger,
    ): Promise<{ proof: unknown; publicSignals: string[] }>;
    prove(
      zkey: FileLike,
      wtns: FileLike,
      logger?: SnarkjsLogger,
    ): Promise<{ proof: unknown; publicSignals: string[] }>;
    verify(vkey: unknown, publicSignals: string[], proof: unknown, logger?: SnarkjsLogger): Promise<boolean>;
  };
  export const wtns: {
    calculate(
      input: Record<string, unknown>,
      wasm: FileLike,
      wtns: FileLike,
      options?: unknown,
    ): Promise<void>;
    check(r1cs: FileLike, wtns: FileLike, logger?: SnarkjsLogger): Promise<boolean>;
  };
  export const zKey: {
    newZKey(r1cs: FileLike, ptau: FileLike, zkey: FileLike, logger?: SnarkjsLogger): Promise<unknown>;
    contribute(
      oldZkey: FileLike,
      newZkey: FileLike,
      name: string,
      entropy: string,
      logger?: SnarkjsLogger,
    ): Promise<Uint8Array | false>;
    beacon(
      oldZkey: FileLike,
      newZkey: FileLike,
      name: string,
      beaconHashHex: string,
      numIterationsExp: number,
      logger?: SnarkjsLogger,
    ): Promise<Uint8Array | false>;
    verifyFromR1cs(r1cs: FileLike, ptau: FileLike, zkey: FileLike, logger?: SnarkjsLogger): Promise<boolean>;
    exportVerificationKey(zkey: FileLike, logger?: SnarkjsLogger): Promise<Record<string, unknown>>;
    exportSolidityVerifier(
      zkey: FileLike,
      templates: Record<string, string>,
      logger?: SnarkjsLogger,
    ): Promise<string>;
  };
  export const powersOfTau: {
    newAccumulator(curve: unknown, power: number, file: FileLike, logger?: SnarkjsLogger): Promise<unknown>;
    beacon(
      oldPtau: FileLike,
      newPtau: FileLike,
      name: string,
      beaconHashHex: string,
      numIterationsExp: number,
      logger?: SnarkjsLogger,
    ): Promise<unknown>;
    preparePhase2(oldPtau: FileLike, newPtau: FileLike, logger?: SnarkjsLogger): Promise<unknown>;
    verify(ptau: FileLike, logger?: SnarkjsLogger): Promise<boolean>;
  };
  export const curves: {
    getCurveFromName(name: string, singleThread?: boolean): Promise<{ terminate(): Promise<void> }>;
  };
}

declare module "circomlibjs" {
  export interface PoseidonField {
    e(v: bigint | number | string): Uint8Array;
    toObject(v: Uint8Array): bigint;
  }
  export interface PoseidonOpt {
    (
      inputs: readonly (bigint | Uint8Array)[],
      initState?: bigint | Uint8Array,
      nOut?: number,
    ): Uint8Array & Uint8Array[];
    F: PoseidonField;
  }
  export function buildPoseidonOpt(): Promise<PoseidonOpt>;
  /** The same permutation compiled to WebAssembly (single-threaded, no workers left behind). */
  export function buildPoseidon(): Promise<PoseidonOpt>;
}

declare module "@iden3/binfileutils" {
  /** An open binary file (fastfile). */
  export interface BinFile {
    close(): Promise<void>;
  }
  /** Sections by id: each a list of { p: position, size } entries. */
  export type BinSections = ({ p: number; size: number }[] | undefined)[];
  export function readBinFile(
    fileName: string,
    type: string,
    maxVersion: number,
  ): Promise<{ fd: BinFile; sections: BinSections }>;
  export function readSection(fd: BinFile, sections: BinSections, idSection: number): Promise<Uint8Array>;
}
