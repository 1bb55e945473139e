/** Typed errors of src/zk. Each says what went wrong and what to fix. */

/** Base class of every src/zk error; `code` is stable for programmatic handling. */
export class ZkError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A real number could not be quantized (NaN, infinite, or too large for the scale). */
export class QuantizationError extends ZkError {
  constructor(message: string) {
    super("QUANTIZATION", message);
  }
}

/** Matrices, vectors or a shape have the wrong dimensions or values. */
export class ShapeError extends ZkError {
  constructor(message: string) {
    super("SHAPE", message);
  }
}

/** A value is not usable as a field element or hash input. */
export class FieldError extends ZkError {
  constructor(message: string) {
    super("FIELD", message);
  }
}

/** A powers-of-tau file is missing, too small, or does not have the expected hash. */
export class PtauError extends ZkError {
  constructor(message: string) {
    super("PTAU", message);
  }
}

/** The circuit compiler failed. */
export class CompileError extends ZkError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("COMPILE", message, options);
  }
}

/** The trusted-setup ceremony failed or produced a key that does not verify. */
export class CeremonyError extends ZkError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("CEREMONY", message, options);
  }
}

/** The witness does not satisfy the circuit (the statement is false for these inputs). */
export class WitnessError extends ZkError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("WITNESS", message, options);
  }
}
