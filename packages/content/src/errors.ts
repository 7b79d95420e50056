/**
 * Typed errors thrown by `@shoal/content`. Every message is one line that says what is
 * wrong and what to do about it, so apps can print it as-is.
 */

/** Error codes used by {@link ContentError}. */
export type ContentErrorCode =
  | 'ERR_NOT_FOUND'
  | 'ERR_IS_DIRECTORY'
  | 'ERR_NOT_A_FILE'
  | 'ERR_UNREADABLE'
  | 'ERR_FILE_CHANGED'
  | 'ERR_INVALID_CHUNK_SIZE'
  | 'ERR_INVALID_NAME'
  | 'ERR_BAD_MANIFEST'
  | 'ERR_BAD_ARTIFACT_ID'
  | 'ERR_ABORTED'

/** Base class of every error thrown by this package; switch on `code`, not on the message. */
export class ContentError extends Error {
  /** Machine-readable reason, e.g. `'ERR_NOT_FOUND'`. */
  readonly code: ContentErrorCode | (string & {})

  constructor (message: string, code: ContentErrorCode | (string & {}), options?: ErrorOptions) {
    super(message, options)
    this.name = 'ContentError'
    this.code = code
  }
}

/** A manifest failed validation or did not match its id. Always has code `'ERR_BAD_MANIFEST'`. */
export class ManifestError extends ContentError {
  constructor (message: string, options?: ErrorOptions) {
    super(message, 'ERR_BAD_MANIFEST', options)
    this.name = 'ManifestError'
  }
}
