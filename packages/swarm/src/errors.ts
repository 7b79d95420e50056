/** Error codes a Shoal node reports for bad input or an unusable environment */
export type ShoalErrorCode =
  | 'ERR_BAD_ADDRESS'
  | 'ERR_ADDRESS_IN_USE'
  | 'ERR_DATA_DIR'
  | 'ERR_OUTPUT_DIR'
  | 'ERR_BAD_OPTION'
  | 'ERR_NOT_STARTED'
  | 'ERR_INTERRUPTED'
  | 'ERR_TIMEOUT'

/** An error whose message is one line saying what is wrong and what to do */
export class ShoalError extends Error {
  readonly code: ShoalErrorCode

  constructor (code: ShoalErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ShoalError'
    this.code = code
  }
}
