import { TokenBucket } from '../src/rate-limit.js'

/** A virtual clock: sleeping advances it, so ten seconds of pacing take no real time */
function virtualClock (): { now: () => number, sleep: (ms: number) => Promise<void> } {
  let t = 1_000_000
  const sleepers: Array<{ at: number, wake: () => void }> = []
  return {
    now: () => t,
    sleep: async (ms) => {
      await new Promise<void>(resolve => {
        sleepers.push({ at: t + ms, wake: resolve })
        sleepers.sort((a, b) => a.at - b.at)
        // Wake the earliest sleeper once everyone runnable has had a turn.
        setImmediate(() => {
          const next = sleepers.shift()
          if (next == null) return
          t = Math.max(t, next.at)
          next.wake()
        })
      })
    }
  }
}

describe('TokenBucket', () => {
  it('holds several concurrent senders to the rate within 5 % over 10 s', async () => {
    const clock = virtualClock()
    const rate = 5_000_000
    const bucket = new TokenBucket({ rate, ...clock })
    const start = clock.now()
    let sent = 0
    const sender = async (size: number): Promise<void> => {
      while (clock.now() - start < 10_000) {
        await bucket.take(size)
        if (clock.now() - start <= 10_000) sent += size
      }
    }
    await Promise.all([sender(262_144), sender(65_536), sender(1_048_576)])
    const measured = sent / 10
    expect(measured / rate).toBeGreaterThan(0.95)
    expect(measured / rate).toBeLessThan(1.05)
  })

  it('lets a burst through at once after idling, then paces', () => {
    let now = 0
    const bucket = new TokenBucket({ rate: 1_000_000, burst: 100_000, now: () => now })
    expect(bucket.book(100_000)).toBe(0)
    expect(bucket.book(100_000)).toBeCloseTo(100, 5)
    now = 10_000 // a long idle period does not bank more than one burst
    expect(bucket.book(100_000)).toBe(0)
    expect(bucket.book(50_000)).toBeCloseTo(50, 5)
  })

  it('lets a block out in slices of 100 ms at the rate, and a later caller after all of it', async () => {
    const clock = virtualClock()
    const bucket = new TokenBucket({ rate: 160_000, burst: 16_000, ...clock })
    const start = clock.now()
    const first: Array<[number, number, number]> = []
    const second: number[] = []
    await Promise.all([
      (async () => { for await (const [from, to] of bucket.slices(64_000)) first.push([from, to, clock.now() - start]) })(),
      (async () => { await bucket.take(16_000); second.push(clock.now() - start) })()
    ])
    expect(first).toEqual([[0, 16_000, 0], [16_000, 32_000, 100], [32_000, 48_000, 200], [48_000, 64_000, 300]])
    expect(second).toEqual([400])
  })

  it('serves waiters in the order they asked', async () => {
    const bucket = new TokenBucket({ rate: 10_000_000, burst: 1 })
    const order: number[] = []
    await Promise.all([1, 2, 3, 4].map(async i => {
      await bucket.take(20_000)
      order.push(i)
    }))
    expect(order).toEqual([1, 2, 3, 4])
  })

  it('stops waiting when the signal aborts', async () => {
    const bucket = new TokenBucket({ rate: 1000, burst: 1 })
    const controller = new AbortController()
    const waiting = bucket.take(1_000_000, controller.signal)
    controller.abort(new Error('session closed'))
    await expect(waiting).rejects.toThrow('session closed')
  })

  it('refuses a rate that is not a positive number', () => {
    expect(() => new TokenBucket({ rate: 0 })).toThrow(/positive/)
    expect(() => new TokenBucket({ rate: Number.NaN })).toThrow(/positive/)
  })
})
