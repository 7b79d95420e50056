/**
 * When a download short of peers may ask the DHT again. A lookup contacts about twenty peers,
 * and in a swarm that has just heard of an artifact the DHT knows no holder the node does not
 * already know: the publisher provides after a delay and downloaders only once complete. So a
 * lookup that found nobody new waits twice as long before the next one (up to a limit), and one
 * that found a new holder brings the wait back to the base interval. Without this, every node of
 * a large swarm looked up every few seconds at its busiest moment: at 48 nodes on 2 cores the
 * DHT was a quarter of all CPU in the first 10 s after an announcement. Sans-IO: the caller
 * passes the time.
 */

/** Holders remembered per artifact, to tell a new one from one found before */
const MAX_SEEN = 1024

interface LookupState {
  /** Earliest time (epoch ms) the next lookup may start */
  nextAt: number
  /** Wait after the next fruitless lookup */
  waitMs: number
  /** Holders lookups have returned so far */
  seen: Set<string>
}

export class LookupBackoff {
  private readonly baseMs: number
  private readonly maxMs: number
  private readonly state = new Map<string, LookupState>()

  /**
   * @param baseMs - wait after a lookup that found a new holder (and after the first fruitless one)
   * @param maxMs - the longest wait between two lookups
   */
  constructor (baseMs: number, maxMs: number) {
    this.baseMs = baseMs
    this.maxMs = Math.max(baseMs, maxMs)
  }

  /**
   * No lookup for `key` before `now + ms`: a download that starts from an announcement has the
   * publisher and, through it, peer exchange; the DHT has nothing newer to say at that moment.
   */
  hold (key: string, now: number, ms: number): void {
    const s = this.stateOf(key)
    s.nextAt = Math.max(s.nextAt, now + ms)
  }

  /** Whether a lookup for `key` may start at `now` */
  due (key: string, now: number): boolean {
    return now >= (this.state.get(key)?.nextAt ?? 0)
  }

  /**
   * A lookup for `key` ended at `now`, returning `holders` (peer ids). It counts as fruitful if
   * it returned one no earlier lookup for `key` did and `isKnown` does not already know (say,
   * a peer we trade with).
   *
   * @returns whether it found a new holder
   */
  done (key: string, holders: Iterable<string>, now: number, isKnown: (peer: string) => boolean = () => false): boolean {
    const s = this.stateOf(key)
    let found = false
    for (const h of holders) {
      if (s.seen.has(h)) continue
      if (s.seen.size < MAX_SEEN) s.seen.add(h)
      if (!isKnown(h)) found = true
    }
    if (found) s.waitMs = this.baseMs
    s.nextAt = now + s.waitMs
    if (!found) s.waitMs = Math.min(s.waitMs * 2, this.maxMs)
    return found
  }

  /** The download of `key` ended: forget its lookups */
  forget (key: string): void {
    this.state.delete(key)
  }

  private stateOf (key: string): LookupState {
    let s = this.state.get(key)
    if (s == null) this.state.set(key, s = { nextAt: 0, waitMs: this.baseMs, seen: new Set() })
    return s
  }
}
