/** Errors of the orchestration layer. */

/** The user asked for something that cannot work as given; the message says what to fix. */
export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * A deal that delivers its weights (`--deliver`) cannot include a chunked module: delivery proofs
 * bind the v1 commitment, so the registry has no delivery verifier for a chunked shape (the escrow
 * would revert `UnregisteredDeliveryShape`). Names the module.
 */
export class ChunkedDeliveryError extends UsageError {
  override name = "ChunkedDeliveryError";
  constructor(
    readonly module: number,
    readonly target: string,
    readonly shape: string,
  ) {
    super(
      `module ${module} (${target}) is committed to the chunked shape ${shape}, which has no weight delivery ` +
        `(delivery proofs bind the v1 commitment): propose without --deliver, or commit that module to a v1 shape (zklora:commit without --chunked)`,
    );
  }
}
