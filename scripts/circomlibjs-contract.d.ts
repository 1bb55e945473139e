// Typings for circomlibjs 0.1.7's Poseidon contract generator (merged into src/zk/vendor.d.ts's
// ambient module): used by scripts/gen-poseidon.ts and its drift test only.
declare module "circomlibjs" {
  export const poseidonContract: {
    createCode(nInputs: number): string;
    generateABI(nInputs: number): unknown[];
  };
}
