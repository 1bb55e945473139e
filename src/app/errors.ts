/** Errors of the orchestration layer. */

/** The user asked for something that cannot work as given; the message says what to fix. */
export class UsageError extends Error {
  override name = "UsageError";
}
