/**
 * Typed errors thrown by `@shoal/store`. Messages are one line: what is wrong, what to do.
 */

/** Error codes used by {@link StoreError}. */
export type StoreErrorCode =
  | 'ERR_DATA_DIR'
  | 'ERR_CLOSED'
  | 'ERR_MISSING_CHUNK'
  | 'ERR_INCOMPLETE'
  | 'ERR_ALREADY_COMPLETE'
  | 'ERR_NOT_FOUND'
  | 'ERR_SIZE_MISMATCH'
  | 'ERR_FILE_CHANGED'
  | 'ERR_CORRUPT_CHUNK'
  | 'ERR_NO_SPACE'
  | 'ERR_NOT_ARCHIVABLE'

/** Error thrown by the store; switch on `code`, not on the message. */
export class StoreError extends Error {
  /** Machine-readable reason, e.g. `'ERR_MISSING_CHUNK'`. */
  readonly code: StoreErrorCode | (string & {})

  constructor (message: string, code: StoreErrorCode | (string & {}), options?: ErrorOptions) {
    super(message, options)
    this.name = 'StoreError'
    this.code = code
  }
}
