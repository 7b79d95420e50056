/**
 * A token bucket shared by every session of a node, so `--max-upload` / `--max-download` cap the
 * node as a whole, not each peer. Implemented as GCRA (a token bucket expressed as a theoretical
 * time): each `take(n)` books `n / rate` seconds of the link after every earlier booking, and
 * waits until its booking ends at most `burst` bytes ahead of the clock. Over any period T it
 * lets at most `rate × T + burst` bytes through. Waiters are served in the order they asked,
 * so blocks leave one after the other at the capped rate instead of all crawling at once;
 * {@link slices} lets a block out in slices, so the link sees the cap, not whole blocks at its
 * own speed followed by pauses.
 */

export interface TokenBucketInit {
  /** Bytes per second */
  rate: number
  /**
   * Bytes that may go out at once after an idle period. Small keeps the rate smooth over short
   * windows; it must not be zero.
   *
   * @default max(16 KiB, rate / 50) (20 ms worth)
   */
  burst?: number
  /** Clock in milliseconds, injectable for tests @default Date.now */
  now?: () => number
  /** Sleep, injectable for tests @default setTimeout-based */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
}

export class TokenBucket {
  readonly rate: number
  readonly burst: number
  private readonly now: () => number
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>
  /** Time (ms) at which everything booked so far has gone out at `rate` */
  private booked = -Infinity

  constructor (init: TokenBucketInit) {
    if (!(init.rate > 0) || !Number.isFinite(init.rate)) throw new RangeError(`rate must be a positive number of bytes per second, got ${init.rate}`)
    this.rate = init.rate
    this.burst = init.burst ?? Math.max(16 * 1024, init.rate / 50)
    if (!(this.burst > 0)) throw new RangeError('burst must be positive')
    this.now = init.now ?? Date.now
    this.sleep = init.sleep ?? defaultSleep
  }

  /** Wait until `bytes` may pass; resolves at once while under the rate */
  async take (bytes: number, signal?: AbortSignal): Promise<void> {
    const wait = this.book(bytes)
    if (wait > 0) await this.sleep(wait, signal)
  }

  /**
   * Pace `bytes` in slices of 100 ms at the rate (at least `burst`), yielding each slice's
   * `[start, end)` offsets when the rate lets it go. All the slices are booked at once, so they
   * stay together and later callers queue behind the whole lot: a block still leaves whole
   * before the next one starts, but as an even flow instead of all at once after a pause.
   * Slices of 100 ms keep any second within 10 % of the rate and cost a few writes a second.
   */
  async * slices (bytes: number, signal?: AbortSignal): AsyncGenerator<[number, number]> {
    const size = Math.max(1, Math.floor(Math.max(this.burst, this.rate / 10)))
    const bookedAt = this.now()
    const due: Array<[number, number, number]> = []
    for (let at = 0; at < bytes; at += size) {
      const end = Math.min(bytes, at + size)
      due.push([at, end, bookedAt + this.book(end - at)])
    }
    for (const [at, end, when] of due) {
      const wait = when - this.now()
      if (wait > 0) await this.sleep(wait, signal)
      yield [at, end]
    }
  }

  /**
   * Book `bytes` and return how many ms the caller must wait before sending them. The booking
   * is made now, so later callers queue behind it (FIFO) even before this one has waited.
   */
  book (bytes: number): number {
    const now = this.now()
    const burstMs = this.burst / this.rate * 1000
    this.booked = Math.max(this.booked, now) + bytes / this.rate * 1000
    return Math.max(0, this.booked - burstMs - now)
  }
}

async function defaultSleep (ms: number, signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    if (signal?.aborted === true) { reject(signal.reason); return }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
