/**
 * Typed errors of the multi-party inference layer. Every error has a stable `code` (the same
 * string the HTTP server puts in `{ error: code, reason }`) and a message that says what to fix.
 */

/** Base class of every src/mpi error. */
export class MpiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A request the server refuses: carries the HTTP status and the JSON error code. */
export class HttpRequestError extends MpiError {
  constructor(
    readonly status: number,
    code: string,
    reason: string,
  ) {
    super(code, reason);
  }
}

/** The commit step could not map an adapter module onto the base model or onto a circuit shape. */
export class CommitError extends MpiError {}

/** A file (manifest, secrets, transcript, deal) does not have the expected layout. */
export class FileFormatError extends MpiError {
  constructor(message: string) {
    super("bad_file", message);
  }
}

/** The contributor's server answered with an HTTP error (4xx/5xx). */
export class RemoteError extends MpiError {
  constructor(
    readonly status: number,
    code: string,
    readonly reason: string,
    readonly url: string,
  ) {
    super(code, `${url}: HTTP ${status} ${code}: ${reason}`);
  }
}

/** The contributor's answer is not well formed (missing fields, wrong shape, not integers). */
export class MalformedResponseError extends MpiError {
  constructor(message: string) {
    super("malformed_response", message);
  }
}

/** The digest of Y differs from the hY the contributor sent. */
export class OutputDigestMismatchError extends MpiError {
  constructor(
    readonly expected: string,
    readonly received: string,
  ) {
    super(
      "hy_mismatch",
      `outputDigestV2(Y) = ${expected} but the contributor sent hY = ${received}: Y was altered, refuse it`,
    );
  }
}

/** The InferenceResponse signature does not recover to the deal's contributor. */
export class ResponseSignatureError extends MpiError {
  constructor(message: string) {
    super("bad_response_signature", message);
  }
}
