/** Typed errors of the weight-delivery proofs (src/zk/delivery). */
import { ZkError } from "../errors.js";

/** A weight is outside the delivery's signed BITS-bit range (or a plan/shape parameter is invalid). */
export class DeliveryRangeError extends ZkError {
  constructor(message: string) {
    super("DELIVERY_RANGE", message);
  }
}

/** A ciphertext does not decrypt under the key (authentication tag) or to valid packed weights. */
export class DeliveryDecryptError extends ZkError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("DELIVERY_DECRYPT", message, options);
  }
}

/** A delivery proving key is unusable or not trusted (see checkDeliveryKey). */
export class DeliveryKeyError extends ZkError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("DELIVERY_KEY", message, options);
  }
}

/** A module's delivery does not verify; names the module and, when one is at fault, the chunk. */
export class DeliveryCheckError extends ZkError {
  constructor(
    message: string,
    readonly module: number,
    readonly chunk?: number,
  ) {
    super("DELIVERY_CHECK", message);
  }
}

/** A serialised delivery is malformed. */
export class DeliveryFormatError extends ZkError {
  constructor(message: string) {
    super("DELIVERY_FORMAT", message);
  }
}
