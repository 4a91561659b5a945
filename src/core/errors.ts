/**
 * Errors that reach a user name what was wrong and where (file, chunk, field, row).
 * `where` is the file/URL/chunk/field; `expected` says what was expected there.
 */
export class WiringError extends Error {
  constructor(
    message: string,
    readonly where?: string,
    options?: { cause?: unknown },
  ) {
    super(where ? `${where}: ${message}` : message, options);
    this.name = 'WiringError';
  }
}

/** Input data that does not follow its format (corrupt chunk, bad header, wrong dtype...). */
export class FormatError extends WiringError {
  constructor(message: string, where?: string, options?: { cause?: unknown }) {
    super(message, where, options);
    this.name = 'FormatError';
  }
}

/** A command-line or API argument that is malformed. */
export class UsageError extends WiringError {
  constructor(message: string, where?: string) {
    super(message, where);
    this.name = 'UsageError';
  }
}

export function assert(condition: unknown, message: string, where?: string): asserts condition {
  if (!condition) throw new WiringError(message, where);
}
