import { Bitfield } from '@shoal/content'
import { SuperSeeder } from '../src/super-seeder.js'
import { bits, seeded } from './bitfields.js'
import type { RevealAction } from '../src/super-seeder.js'

function revealed (actions: RevealAction[], peer?: string): number[] {
  return actions.filter(a => peer == null || a.peer === peer).map(a => a.index)
}

describe('SuperSeeder', () => {
  it('reveals each chunk to one peer before revealing any chunk twice', () => {
    const chunks = 12
    const seeder = new SuperSeeder({ chunks, minOutstanding: 1, random: seeded(1) })
    const peers = ['a', 'b', 'c']
    const shown: number[] = []
    for (const p of peers) shown.push(...revealed(seeder.addPeer(p, new Bitfield(chunks))))
    // Each peer confirms what it was shown (it fetched it from us); we reveal the next.
    for (let round = 0; shown.length < chunks; round++) {
      for (const p of peers) {
        for (const i of seeder.outstandingAt(p)) {
          shown.push(...revealed(seeder.onSent(p, i)))
          shown.push(...revealed(seeder.onHave(p, i)))
        }
      }
      if (round > chunks) throw new Error('reveals stalled')
    }
    const firstPass = shown.slice(0, chunks)
    expect(new Set(firstPass).size).toBe(chunks)
    for (let i = 0; i < chunks; i++) expect(seeder.sentCount(i)).toBeLessThanOrEqual(1)
  })

  it('keeps one chunk outstanding per peer when there are many peers', () => {
    const seeder = new SuperSeeder({ chunks: 100, minOutstanding: 4, random: seeded(2) })
    for (const p of ['a', 'b', 'c', 'd', 'e', 'f']) seeder.addPeer(p, new Bitfield(100))
    for (const p of ['d', 'e', 'f']) expect(seeder.outstandingAt(p)).toHaveLength(1)
    // The first were shown more while they were few; once they confirm those, one each.
    for (const p of ['a', 'b', 'c']) {
      for (const i of seeder.outstandingAt(p)) {
        seeder.onSent(p, i)
        seeder.onHave(p, i)
      }
      expect(seeder.outstandingAt(p)).toHaveLength(1)
    }
  })

  it('reveals the next chunk as soon as the last one is sent, so the origin never waits on a round trip', () => {
    const seeder = new SuperSeeder({ chunks: 10, minOutstanding: 1, random: seeded(8) })
    const [first] = revealed(seeder.addPeer('a', new Bitfield(10)))
    const next = revealed(seeder.onSent('a', first))
    expect(next).toHaveLength(1)
    expect(next[0]).not.toBe(first)
    // The peer's later `have` for the sent chunk frees nothing more.
    expect(seeder.onHave('a', first)).toEqual([])
  })

  it('reveals more per peer when there are few, so the link stays busy', () => {
    const seeder = new SuperSeeder({ chunks: 100, minOutstanding: 4, random: seeded(3) })
    expect(revealed(seeder.addPeer('a', new Bitfield(100)))).toHaveLength(4)
  })

  it('never reveals a chunk the peer already holds', () => {
    const seeder = new SuperSeeder({ chunks: 8, minOutstanding: 8, random: seeded(4) })
    const shown = revealed(seeder.addPeer('a', bits(8, [0, 1, 2, 3, 4])))
    expect(shown.sort()).toEqual([5, 6, 7])
  })

  it('replaces a revealed chunk the peer got elsewhere, and offers that chunk to others later', () => {
    const seeder = new SuperSeeder({ chunks: 4, minOutstanding: 1, random: seeded(5) })
    const [first] = revealed(seeder.addPeer('a', new Bitfield(4)))
    // "a" got it from another peer before asking us: its slot moves to a fresh chunk.
    const next = revealed(seeder.onHave('a', first))
    expect(next).toHaveLength(1)
    expect(next[0]).not.toBe(first)
    expect(seeder.sentCount(first)).toBe(0)
  })

  it('counts chunks peers already hold as gone out once, then prefers the rarest', () => {
    const seeder = new SuperSeeder({ chunks: 3, minOutstanding: 1, random: seeded(6) })
    expect(revealed(seeder.addPeer('x', bits(3, [0, 1])))).toEqual([2])
    // "y" lacks 1 and 2: 2 is on its way to "x" only, 1 is held by "x" already: equal, 2 rarer.
    expect(revealed(seeder.addPeer('y', bits(3, [0])), 'y')).toEqual([2])
    // "z" lacks all: 0 is held twice, 1 once, 2 revealed twice: 1 it is.
    expect(revealed(seeder.addPeer('z', new Bitfield(3)), 'z')).toEqual([1])
  })

  it('returns a departed peer\'s unsent reveals to the pool', () => {
    const seeder = new SuperSeeder({ chunks: 2, minOutstanding: 1, random: seeded(7) })
    const [shownToA] = revealed(seeder.addPeer('a', new Bitfield(2)))
    seeder.addPeer('b', new Bitfield(2))
    const shownToB = seeder.outstandingAt('b')
    expect(shownToB).not.toContain(shownToA)
    seeder.removePeer('a')
    // With "a" gone, the chunk it never received is first in line for "b".
    for (const i of shownToB) {
      expect(revealed(seeder.onSent('b', i), 'b')).toEqual([shownToA])
    }
  })
})
