import type { HolderBeacon } from './messages.js'

/** Holders remembered per artifact, to size the interval; beyond this the swarm is "huge" */
const MAX_HOLDERS_TRACKED = 100_000

export interface BeaconThrottleInit {
  /**
   * Beacons per artifact the whole swarm aims at per interval. A node that has heard n other
   * holders waits (n + 1) / perInterval intervals between its beacons (at least one).
   *
   * @default 8
   */
  perInterval?: number
  /** Random source in [0, 1), for the first beacon's phase; injectable for tests @default Math.random */
  random?: () => number
}

/**
 * Rate-limits holder beacons per artifact, sized to the swarm. Every node receives every
 * beacon of the swarm (each from several mesh peers), so a fixed interval makes each node's
 * beacon traffic grow with the swarm: at 48 nodes it took a tenth of a 384 kbit/s link. Here a
 * node waits longer the more holders it has heard, so the swarm as a whole sends about
 * `perInterval` beacons per artifact per interval however large it grows.
 *
 * A node's first beacon for an artifact goes out at a random moment within its interval, so a
 * swarm that starts together does not beacon together; the newest of any that arrive too
 * soon goes out when the interval ends (the last progress is never lost). The first
 * `complete` beacon goes out at once and replaces anything pending: replica counts wait on it.
 * Repeats of it wait their turn like any other.
 */
export class BeaconThrottle {
  private readonly intervalMs: number
  private readonly perInterval: number
  private readonly random: () => number
  private readonly send: (b: HolderBeacon) => Promise<void>
  private readonly lastSent = new Map<string, number>()
  private readonly completeSent = new Set<string>()
  private readonly holders = new Map<string, Set<string>>()
  private readonly pending = new Map<string, { beacon: HolderBeacon, timer: ReturnType<typeof setTimeout> }>()

  /**
   * @param intervalMs - time between two beacons for the same artifact in a swarm of at most
   * `perInterval` holders; 0 sends every beacon at once
   * @param send - publishes a beacon; its errors are the caller's to handle
   */
  constructor (intervalMs: number, send: (b: HolderBeacon) => Promise<void>, init: BeaconThrottleInit = {}) {
    this.intervalMs = intervalMs
    this.perInterval = Math.max(1, init.perInterval ?? 8)
    this.random = init.random ?? Math.random
    this.send = send
  }

  /** Another holder's beacon arrived: it counts toward the swarm's size */
  heard (b: HolderBeacon): void {
    let set = this.holders.get(b.id)
    if (set == null) this.holders.set(b.id, set = new Set())
    if (set.size < MAX_HOLDERS_TRACKED) set.add(b.peer)
  }

  /** The time between this node's beacons for artifact `id` now */
  intervalFor (id: string): number {
    const holders = (this.holders.get(id)?.size ?? 0) + 1
    return this.intervalMs * Math.max(1, holders / this.perInterval)
  }

  /** Send `b` now, or schedule it for when its interval ends. */
  async push (b: HolderBeacon): Promise<void> {
    const now = Date.now()
    const interval = this.intervalFor(b.id)
    const firstComplete = b.complete && !this.completeSent.has(b.id)
    // No beacon yet: pretend one went out at a random moment of the last interval.
    let last = this.lastSent.get(b.id)
    if (last == null && interval > 0 && !firstComplete) {
      last = now - this.random() * interval
      this.lastSent.set(b.id, last)
    }
    const queued = this.pending.get(b.id)

    if (firstComplete || now - (last ?? -Infinity) >= interval) {
      if (queued != null) {
        clearTimeout(queued.timer)
        this.pending.delete(b.id)
      }
      await this.sendNow(b, now)
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
      this.sendNow(entry.beacon, Date.now()).catch(() => {})
    }, (last ?? now) + interval - now)
    timer.unref?.()
    this.pending.set(b.id, { beacon: b, timer })
  }

  /** Drop every pending beacon and forget send times and holders. */
  clear (): void {
    for (const { timer } of this.pending.values()) clearTimeout(timer)
    this.pending.clear()
    this.lastSent.clear()
    this.completeSent.clear()
    this.holders.clear()
  }

  private async sendNow (b: HolderBeacon, now: number): Promise<void> {
    this.lastSent.set(b.id, now)
    if (b.complete) this.completeSent.add(b.id)
    await this.send(b)
  }
}
