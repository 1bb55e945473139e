/** Typed errors of the key wrap (src/zk/wrap). */
import { ZkError } from "../errors.js";

/** A buyer's wrap key (pk or sk) or a posted E is not usable: off the curve, the identity, of small order, out of range. */
export class WrapKeyError extends ZkError {
  constructor(message: string) {
    super("WRAP_KEY", message);
  }
}

/** An unwrapped delivery key does not hash to the hK stored for its module. */
export class UnwrapError extends ZkError {
  constructor(
    message: string,
    /** The module whose key did not unwrap. */
    readonly module: number,
  ) {
    super("UNWRAP", message);
  }
}
