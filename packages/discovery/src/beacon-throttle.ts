import type { HolderBeacon } from './messages.js'

/**
 * Rate-limits holder beacons per artifact: at most one per `intervalMs`, the
 * first sent at once and the newest of any that arrive too soon sent when the
 * interval ends (so the last progress is never lost). A `complete` beacon is
 * sent at once and replaces anything pending.
 */
export class BeaconThrottle {
  private readonly intervalMs: number
  private readonly send: (b: HolderBeacon) => Promise<void>
  private readonly lastSent = new Map<string, number>()
  private readonly pending = new Map<string, { beacon: HolderBeacon, timer: ReturnType<typeof setTimeout> }>()

  /**
   * @param intervalMs - minimum time between two beacons for the same artifact
   * @param send - publishes a beacon; its errors are the caller's to handle
   */
  constructor (intervalMs: number, send: (b: HolderBeacon) => Promise<void>) {
    this.intervalMs = intervalMs
    this.send = send
  }

  /** Send `b` now, or schedule it if a beacon for the same artifact went out too recently. */
  async push (b: HolderBeacon): Promise<void> {
    const now = Date.now()
    const last = this.lastSent.get(b.id) ?? -Infinity
    const queued = this.pending.get(b.id)

    if (b.complete || now - last >= this.intervalMs) {
      if (queued != null) {
        clearTimeout(queued.timer)
        this.pending.delete(b.id)
      }
      this.lastSent.set(b.id, now)
      await this.send(b)
      return
    }

    if (queued != null) {
      queued.beacon = b // keep the timer, send the newest
      return
    }
    const timer = setTimeout(() => {
      const entry = this.pending.get(b.id)
      this.pending.delete(b.id)
      if (entry == null) return
      this.lastSent.set(b.id, Date.now())
      this.send(entry.beacon).catch(() => {})
    }, last + this.intervalMs - now)
    timer.unref?.()
    this.pending.set(b.id, { beacon: b, timer })
  }

  /** Drop every pending beacon and forget send times. */
  clear (): void {
    for (const { timer } of this.pending.values()) clearTimeout(timer)
    this.pending.clear()
    this.lastSent.clear()
  }
}
