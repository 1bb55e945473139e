/**
 * Typed errors of the model layer. Every error carries a machine-readable `code` and a message
 * that names the offending file, tensor or value and says what to fix.
 */
export type ModelErrorCode =
  | "MISSING_FILE"
  | "BAD_CONFIG"
  | "UNKNOWN_MODEL_TYPE"
  | "UNSUPPORTED"
  | "BAD_SAFETENSORS"
  | "MISSING_TENSOR"
  | "BAD_SHAPE"
  | "BAD_TOKEN"
  | "BAD_TOKENIZER"
  | "CONTEXT_TOO_LONG"
  | "BAD_TARGET"
  | "BAD_ADAPTER"
  | "BAD_HOOK_OUTPUT"
  | "CLOSED";

export class ModelError extends Error {
  override readonly name = "ModelError";
  constructor(
    readonly code: ModelErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}
