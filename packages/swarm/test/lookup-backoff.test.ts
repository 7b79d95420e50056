import { LookupBackoff } from '../src/lookup-backoff.js'

describe('LookupBackoff', () => {
  it('lets the first lookup for an artifact run at once', () => {
    expect(new LookupBackoff(3_000, 60_000).due('a', 0)).toBe(true)
  })

  it('doubles the wait after each lookup that found nobody new, up to the limit', () => {
    const b = new LookupBackoff(3_000, 20_000)
    const waits: number[] = []
    let now = 0
    for (let i = 0; i < 6; i++) {
      b.done('a', [], now)
      let wait = 0
      while (!b.due('a', now + wait)) wait += 500
      waits.push(wait)
      now += wait
    }
    expect(waits).toEqual([3_000, 6_000, 12_000, 20_000, 20_000, 20_000])
  })

  it('goes back to the base interval when a lookup finds a holder not seen before', () => {
    const b = new LookupBackoff(3_000, 60_000)
    b.done('a', [], 0)
    b.done('a', [], 3_000)
    b.done('a', ['p1'], 9_000)
    expect(b.due('a', 11_999)).toBe(false)
    expect(b.due('a', 12_000)).toBe(true)
  })

  it('counts a holder found again, or one the caller already knows, as nothing new', () => {
    const b = new LookupBackoff(3_000, 60_000)
    expect(b.done('a', ['p1'], 0)).toBe(true)
    expect(b.done('a', ['p1'], 3_000)).toBe(false)
    expect(b.done('a', ['p2'], 6_000, p => p === 'p2')).toBe(false)
    // two fruitless lookups in a row: the wait has grown past the base
    expect(b.due('a', 6_000 + 6_000)).toBe(true)
    expect(b.due('a', 6_000 + 5_999)).toBe(false)
  })

  it('holds lookups for a download back for a while, without shortening a longer wait', () => {
    const b = new LookupBackoff(3_000, 60_000)
    b.hold('a', 0, 10_000)
    expect(b.due('a', 9_999)).toBe(false)
    expect(b.due('a', 10_000)).toBe(true)
    b.done('a', [], 10_000)
    b.done('a', [], 13_000) // next at 19 s
    b.hold('a', 13_000, 1_000)
    expect(b.due('a', 18_999)).toBe(false)
    expect(b.due('a', 19_000)).toBe(true)
  })

  it('keeps each artifact apart, and forgets one whose download ended', () => {
    const b = new LookupBackoff(3_000, 60_000)
    b.done('a', [], 0)
    expect(b.due('a', 1_000)).toBe(false)
    expect(b.due('b', 1_000)).toBe(true)
    b.forget('a')
    expect(b.due('a', 1_000)).toBe(true)
  })
})
