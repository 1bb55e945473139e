// Minimal typings for the untyped JavaScript packages src/zk uses (snarkjs 0.7.6,
// @iden3/binfileutils 0.0.12). Only what src/zk and its tests call is declared.

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
    prove(
      zkey: FileLike,
      wtns: FileLike,
      logger?: SnarkjsLogger,
    ): Promise<{ proof: unknown; publicSignals: string[] }>;
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
