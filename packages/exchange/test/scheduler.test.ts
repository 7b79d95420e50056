import { Bitfield } from '@shoal/content'
import { Scheduler } from '../src/scheduler.js'
import { bits, full, seeded } from './bitfields.js'
import type { SchedulerAction } from '../src/scheduler.js'

function requests (actions: SchedulerAction[], peer?: string): number[] {
  return actions.filter(a => a.type === 'request' && (peer == null || a.peer === peer)).map(a => (a as { index: number }).index)
}

describe('Scheduler', () => {
  it('fills a peer pipeline up to maxInflightPerPeer and never asks for a chunk the peer lacks', () => {
    const s = new Scheduler({ chunks: 20, minInflightPerPeer: 4, maxInflightPerPeer: 4, random: seeded(1) })
    const asked = requests(s.addPeer('a', bits(20, [1, 3, 5, 7, 9, 11]), 0))
    expect(asked).toHaveLength(4)
    for (const i of asked) expect([1, 3, 5, 7, 9, 11]).toContain(i)
    expect(new Set(asked).size).toBe(4)
  })

  it('asks each chunk of only one peer until endgame (no duplicate requests)', () => {
    const s = new Scheduler({ chunks: 32, minInflightPerPeer: 4, maxInflightPerPeer: 4, random: seeded(2) })
    const a = requests(s.addPeer('a', full(32), 0))
    const b = requests(s.addPeer('b', full(32), 0))
    const c = requests(s.addPeer('c', full(32), 0))
    const all = [...a, ...b, ...c]
    expect(all).toHaveLength(12)
    expect(new Set(all).size).toBe(12)
  })

  it('picks the rarest chunk first once past the random first chunks', () => {
    const s = new Scheduler({ chunks: 6, minInflightPerPeer: 1, maxInflightPerPeer: 1, randomFirst: 0, random: seeded(3) })
    s.addPeer('x', bits(6, [0, 1, 2, 3]), 0) // takes one chunk
    const taken = s.inflightAt('x')[0]
    s.addPeer('y', bits(6, [0, 1, 2, 3, 4]), 0)
    // chunk 4 is held only by y (availability 1), the others by x and y
    expect(s.inflightAt('y')).toEqual([4])
    expect(taken).not.toBe(4)
  })

  it('picks the first chunks at random, then rarest-first', () => {
    // chunk 0 is held only by p, so it is the rarest
    const firstPick = (randomFirst: number, seed: number): number => {
      const s = new Scheduler({ chunks: 10, minInflightPerPeer: 1, maxInflightPerPeer: 1, randomFirst, random: seeded(seed) })
      s.addPeer('other', bits(10, [1, 2, 3, 4, 5, 6, 7, 8, 9]), 0)
      return requests(s.addPeer('p', full(10), 0), 'p')[0]
    }
    const random = new Set<number>()
    const rarest = new Set<number>()
    for (let seed = 1; seed < 30; seed++) {
      random.add(firstPick(4, seed))
      rarest.add(firstPick(0, seed))
    }
    expect(random.size).toBeGreaterThan(3)
    expect([...rarest]).toEqual([0])
  })

  it('sends have for every verified block and reports completion once', () => {
    const s = new Scheduler({ chunks: 3, minInflightPerPeer: 8, maxInflightPerPeer: 8 })
    const asked = requests(s.addPeer('a', full(3), 0))
    expect(asked.sort()).toEqual([0, 1, 2])
    const out: SchedulerAction[] = []
    for (const i of asked) out.push(...s.onBlock('a', i, true, 1))
    expect(out.filter(a => a.type === 'have').map(a => (a as { index: number }).index).sort()).toEqual([0, 1, 2])
    expect(out.filter(a => a.type === 'complete')).toHaveLength(1)
    expect(s.isComplete).toBe(true)
    expect(s.onBlock('a', 1, true, 2)).toEqual([])
  })

  it('re-asks an invalid block from another peer', () => {
    const s = new Scheduler({ chunks: 1, minInflightPerPeer: 1, maxInflightPerPeer: 1 })
    s.addPeer('bad', full(1), 0)
    s.addPeer('good', full(1), 0)
    const first = s.inflightAt('bad').length === 1 ? 'bad' : 'good'
    const other = first === 'bad' ? 'good' : 'bad'
    const next = s.onBlock(first, 0, false, 1)
    expect(s.has(0)).toBe(false)
    // endgame may have asked the other peer already; either way it is now asked
    expect([...requests(next, other), ...s.inflightAt(other)]).toContain(0)
  })

  it('enters strict endgame: duplicates the last requests, then cancels the losers', () => {
    const s = new Scheduler({ chunks: 2, minInflightPerPeer: 4, maxInflightPerPeer: 4, endgameDuplicates: 2, endgameThreshold: 2, random: seeded(5) })
    const a = requests(s.addPeer('a', full(2), 0))
    expect(a.sort()).toEqual([0, 1])
    // every missing chunk is in flight, so a new peer may duplicate them
    const b = requests(s.addPeer('b', full(2), 0))
    expect(b.sort()).toEqual([0, 1])
    const actions = s.onBlock('b', 0, true, 1)
    expect(actions).toContainEqual({ type: 'cancel', peer: 'a', index: 0 })
    expect(actions).toContainEqual({ type: 'have', index: 0 })
    expect(s.inflightAt('a')).toEqual([1])
  })

  it('waits for the last few chunks before entering endgame', () => {
    const s = new Scheduler({ chunks: 10, minInflightPerPeer: 10, maxInflightPerPeer: 10, endgameThreshold: 4 })
    expect(requests(s.addPeer('a', full(10), 0))).toHaveLength(10)
    // all 10 are requested, but 10 > 4 missing: no duplicates yet
    expect(requests(s.addPeer('b', full(10), 0))).toEqual([])
    for (let i = 0; i < 6; i++) s.onBlock('a', i, true, 1)
    // 4 missing now: b may duplicate them
    expect(s.inflightAt('b').sort()).toEqual([6, 7, 8, 9])
  })

  it('by default duplicates only the very last chunk', () => {
    const s = new Scheduler({ chunks: 3, minInflightPerPeer: 3, maxInflightPerPeer: 3 })
    expect(requests(s.addPeer('a', full(3), 0))).toHaveLength(3)
    // two missing, both in flight at a: not endgame yet
    s.onBlock('a', 0, true, 1)
    expect(requests(s.addPeer('b', full(3), 0))).toEqual([])
    // one missing: b may duplicate it
    s.onBlock('a', 1, true, 2)
    expect(s.inflightAt('b')).toEqual([2])
  })

  it('does not duplicate requests while unrequested chunks remain (not yet endgame)', () => {
    const s = new Scheduler({ chunks: 10, minInflightPerPeer: 2, maxInflightPerPeer: 2, random: seeded(6) })
    s.addPeer('a', full(10), 0)
    // b holds only what a already has in flight
    const inflightA = s.inflightAt('a')
    const b = requests(s.addPeer('b', bits(10, inflightA), 0))
    expect(b).toEqual([])
  })

  it('times out a request and re-issues it to another peer, shrinking the slow peer\'s pipeline', () => {
    const s = new Scheduler({ chunks: 1, minInflightPerPeer: 4, maxInflightPerPeer: 4, requestTimeoutMs: 1000, endgameDuplicates: 1 })
    s.addPeer('slow', full(1), 0)
    expect(s.inflightAt('slow')).toEqual([0])
    expect(requests(s.addPeer('fast', full(1), 10))).toEqual([])
    const actions = s.tick(1500)
    expect(actions).toContainEqual({ type: 'cancel', peer: 'slow', index: 0 })
    expect(actions.some(a => a.type === 'request' && a.index === 0)).toBe(true)
  })

  it('waits for a peer that is still sending, and re-issues once it goes quiet (or after ten timeouts)', () => {
    const s = new Scheduler({ chunks: 1, minInflightPerPeer: 1, maxInflightPerPeer: 1, requestTimeoutMs: 1000, endgameDuplicates: 1 })
    s.addPeer('thin', full(1), 0)
    expect(s.inflightAt('thin')).toEqual([0])
    s.addPeer('other', full(1), 10)
    expect(s.tick(500)).toEqual([])
    // Block bytes keep coming from "thin" (2 kB a second): its one block is slow, not lost.
    s.onBytes('thin', 2000)
    expect(s.tick(1500)).toEqual([])
    s.onBytes('thin', 2000)
    expect(s.tick(2500)).toEqual([])
    // A few dozen bytes a second (haves) are not a block on its way.
    s.onBytes('thin', 40)
    // Quiet for a whole timeout: given up and asked of the other peer.
    const quiet = s.tick(3500)
    expect(quiet).toContainEqual({ type: 'cancel', peer: 'thin', index: 0 })
    expect(requests(quiet)).toEqual([0])
    const holder = s.inflightAt('other').length > 0 ? 'other' : 'thin'
    // Progress never keeps a request alive past ten timeouts.
    for (let t = 4000; t < 13_500; t += 500) {
      s.onBytes(holder, 1000)
      expect(s.tick(t)).toEqual([])
    }
    expect(s.tick(13_500)).toContainEqual({ type: 'cancel', peer: holder, index: 0 })
  })

  it('moves a departed peer\'s requests to the remaining peers', () => {
    const s = new Scheduler({ chunks: 4, minInflightPerPeer: 4, maxInflightPerPeer: 4, endgameDuplicates: 1 })
    s.addPeer('a', full(4), 0)
    expect(s.inflightAt('a')).toHaveLength(4)
    s.addPeer('b', full(4), 0)
    expect(s.inflightAt('b')).toHaveLength(0)
    const actions = s.removePeer('a', 1)
    expect(requests(actions, 'b').sort()).toEqual([0, 1, 2, 3])
  })

  it('learns of new chunks from have messages and requests them', () => {
    const s = new Scheduler({ chunks: 4 })
    expect(requests(s.addPeer('a', new Bitfield(4), 0))).toEqual([])
    expect(requests(s.onHave('a', 2, 1))).toEqual([2])
  })

  it('treats a reject as "peer lacks it" and asks elsewhere', () => {
    const s = new Scheduler({ chunks: 1, endgameDuplicates: 1 })
    s.addPeer('a', full(1), 0)
    s.addPeer('b', full(1), 0)
    const asked = s.inflightAt('a').length > 0 ? 'a' : 'b'
    const other = asked === 'a' ? 'b' : 'a'
    expect(requests(s.onReject(asked, 0, 1))).toEqual([0])
    expect(s.inflightAt(other)).toEqual([0])
  })

  it('pauses (disk full): cancels every outstanding request, asks nothing, then resumes', () => {
    const s = new Scheduler({ chunks: 16, minInflightPerPeer: 3, maxInflightPerPeer: 3, random: seeded(7) })
    const a = requests(s.addPeer('a', full(16), 0))
    const b = requests(s.addPeer('b', full(16), 0))
    const paused = s.pause()
    expect(s.isPaused).toBe(true)
    expect(paused.filter(x => x.type === 'cancel').map(x => (x as { index: number }).index).sort((x, y) => x - y))
      .toEqual([...a, ...b].sort((x, y) => x - y))
    expect(s.inflightCount).toBe(0)
    // Nothing is asked while paused, whatever happens.
    expect(requests(s.addPeer('c', full(16), 1))).toEqual([])
    expect(requests(s.onHave('c', 3, 2))).toEqual([])
    expect(requests(s.tick(60_000))).toEqual([])
    // A block already on the wire when we paused is still taken.
    expect(s.onBlock('a', a[0], true, 3).some(x => x.type === 'have')).toBe(true)
    const resumed = requests(s.resume(4))
    expect(s.isPaused).toBe(false)
    expect(resumed).toHaveLength(9)
    expect(resumed).not.toContain(a[0])
    expect(new Set(resumed).size).toBe(9)
  })

  it('fetches again a chunk it held that was lost (found corrupt on disk)', () => {
    const s = new Scheduler({ chunks: 4, have: bits(4, [0, 1, 2]), minInflightPerPeer: 2, maxInflightPerPeer: 2, random: seeded(8) })
    expect(requests(s.addPeer('a', full(4), 0))).toEqual([3])
    expect(s.onBlock('a', 3, true, 1).some(x => x.type === 'complete')).toBe(true)
    expect(requests(s.onLost(1, 2))).toEqual([1])
    expect(s.has(1)).toBe(false)
    expect(s.onLost(1, 3)).toEqual([]) // already missing
    expect(s.onBlock('a', 1, true, 4).some(x => x.type === 'complete')).toBe(true)
  })

  it('starts complete with a full have-bitfield and requests nothing', () => {
    const s = new Scheduler({ chunks: 3, have: full(3) })
    expect(s.isComplete).toBe(true)
    expect(s.addPeer('a', full(3), 0)).toEqual([])
  })

  it('downloads a whole artifact from a few peers with no duplicate blocks', () => {
    const n = 200
    const s = new Scheduler({ chunks: n, minInflightPerPeer: 5, maxInflightPerPeer: 5, random: seeded(9) })
    const queue: Array<{ peer: string, index: number }> = []
    const enqueue = (acts: SchedulerAction[]): void => {
      for (const a of acts) if (a.type === 'request') queue.push({ peer: a.peer, index: a.index })
    }
    for (const p of ['a', 'b', 'c']) enqueue(s.addPeer(p, full(n), 0))
    let delivered = 0
    let t = 0
    while (queue.length > 0) {
      const r = queue.shift() as { peer: string, index: number }
      if (!s.inflightAt(r.peer).includes(r.index)) continue // cancelled
      delivered++
      enqueue(s.onBlock(r.peer, r.index, true, ++t))
    }
    expect(s.isComplete).toBe(true)
    expect(delivered).toBe(n)
  })

  it('announces a chunk the moment it is verified, so peers can fetch it from us at once', () => {
    const s = new Scheduler({ chunks: 4, random: seeded(10) })
    const [first] = requests(s.addPeer('a', full(4), 0))
    const actions = s.onBlock('a', first, true, 5)
    expect(actions[0]).toEqual({ type: 'have', index: first })
  })

  it('sizes each peer\'s pipeline to its bandwidth × delay', () => {
    const chunkSize = 1 << 20
    // A peer that serves one chunk per 10 ms, 100 ms round trip away, and one next door.
    const depthAfterWarmup = (oneWayMs: number): { depth: number, busy: number } => {
      const s = new Scheduler({ chunks: 2000, chunkSize, random: seeded(11) })
      const serviceMs = 10
      let peerFreeAt = 0
      let served = 0
      const events: Array<{ at: number, index: number }> = []
      const send = (acts: SchedulerAction[], now: number): void => {
        for (const index of requests(acts, 'p')) {
          const start = Math.max(now + oneWayMs, peerFreeAt)
          peerFreeAt = start + serviceMs
          events.push({ at: peerFreeAt + oneWayMs, index })
        }
      }
      send(s.addPeer('p', full(2000), 0), 0)
      let now = 0
      while (now < 3000 && events.length > 0) {
        events.sort((x, y) => x.at - y.at)
        const e = events.shift() as { at: number, index: number }
        now = e.at
        if (now > 1000) served++
        send(s.onBlock('p', e.index, true, now), now)
      }
      return { depth: s.pipelineDepth('p'), busy: served * serviceMs / (now - 1000) }
    }
    const far = depthAfterWarmup(50)
    const near = depthAfterWarmup(0)
    // 100 ms round trip + 10 ms transfer at 1 chunk / 10 ms ≈ 11 chunks, plus one queued.
    expect(far.depth).toBeGreaterThanOrEqual(11)
    expect(far.depth).toBeLessThanOrEqual(14)
    expect(near.depth).toBeLessThanOrEqual(3)
    // Either way the peer's link never waits for our requests.
    expect(far.busy).toBeGreaterThan(0.95)
    expect(near.busy).toBeGreaterThan(0.95)
  })

  it('keeps one request per peer while many peers serve us, two while few do', () => {
    const s = new Scheduler({ chunks: 100, random: seeded(13) })
    s.addPeer('a', full(100), 0)
    // alone: one in service and one queued behind it, so the peer never waits on our next request
    expect(s.inflightAt('a')).toHaveLength(2)
    for (const p of ['b', 'c', 'd', 'e', 'f']) s.addPeer(p, full(100), 0)
    // four or more peers busy: the others fill our link while one's next request travels, and a
    // second request would only queue at the peer, ahead of the rarer chunk we will want next
    expect(s.pipelineDepth('f')).toBe(1)
    expect(s.inflightAt('f')).toHaveLength(1)
    const [first, second] = s.inflightAt('a')
    expect(requests(s.onBlock('a', first, true, 10))).toEqual([])
    expect(requests(s.onBlock('a', second, true, 20), 'a')).toHaveLength(1)
    // back to two peers: two requests each again
    for (const p of ['c', 'd', 'e', 'f']) s.removePeer(p, 30)
    expect(s.pipelineDepth('a')).toBe(2)
    expect(s.inflightAt('a')).toHaveLength(2)
    expect(s.inflightAt('b')).toHaveLength(2)
  })

  it('keeps its fastest peers busy and leaves a slow one to others while enough are busy', () => {
    const s = new Scheduler({ chunks: 100, minInflightPerPeer: 1, maxInflightPerPeer: 1, maxBusyPeers: 2, random: seeded(14) })
    const common = [...Array(90).keys()]
    for (const p of ['a', 'b', 'c']) s.addPeer(p, bits(100, common), 0)
    // "o" holds chunks no one else has, like a super-seeding origin's reveals
    s.addPeer('o', bits(100, [90, 91, 92, 93, 94, 95, 96, 97, 98, 99]), 0)
    const [a1] = s.inflightAt('a')
    const [b1] = s.inflightAt('b')
    const [c1] = s.inflightAt('c')
    const [o1] = s.inflightAt('o')
    // a and b deliver in 10 and 12 ms and are asked again; c and o take 100 ms
    expect(requests(s.onBlock('a', a1, true, 10), 'a')).toHaveLength(1)
    expect(requests(s.onBlock('b', b1, true, 12), 'b')).toHaveLength(1)
    expect(requests(s.onBlock('c', c1, true, 100))).toEqual([])
    expect(s.inflightAt('c')).toEqual([])
    // o is as slow, but what it offers is to be had nowhere else
    expect(requests(s.onBlock('o', o1, true, 100), 'o')).toHaveLength(1)
    // fewer than two fast ones busy: the slow peer is better than none
    expect(requests(s.removePeer('b', 110), 'c')).toHaveLength(1)
  })

  it('tries a slow peer again once its measured rate is stale, so its uplink is not left idle for good', () => {
    const s = new Scheduler({ chunks: 100, minInflightPerPeer: 1, maxInflightPerPeer: 1, maxBusyPeers: 2, rateStaleMs: 5000, random: seeded(15) })
    for (const p of ['a', 'b', 'c']) s.addPeer(p, full(100), 0)
    expect(requests(s.onBlock('a', s.inflightAt('a')[0], true, 10), 'a')).toHaveLength(1)
    expect(requests(s.onBlock('b', s.inflightAt('b')[0], true, 12), 'b')).toHaveLength(1)
    // c was slow when a and b were fast: left to others while they are busy
    expect(requests(s.onBlock('c', s.inflightAt('c')[0], true, 100))).toEqual([])
    expect(requests(s.tick(5000), 'c')).toEqual([])
    expect(s.inflightAt('c')).toEqual([])
    // a and b still busy, but c's measurement is 5 s old: it is tried again
    expect(requests(s.tick(5101), 'c')).toHaveLength(1)
    expect(s.inflightAt('a')).toHaveLength(1)
    expect(s.inflightAt('b')).toHaveLength(1)
  })

  it('asks an idle peer for a chunk it announces without waiting for anything else', () => {
    const s = new Scheduler({ chunks: 100, random: seeded(12) })
    s.addPeer('a', full(100), 0)
    s.addPeer('b', new Bitfield(100), 0)
    // "b" has nothing; the moment it announces a chunk no one is fetching, we ask it.
    const free = [...Array(100).keys()].find(i => !s.inflightAt('a').includes(i)) as number
    expect(requests(s.onHave('b', free, 1), 'b')).toEqual([free])
    // A chunk already being fetched from "a" is not duplicated outside endgame.
    expect(requests(s.onHave('b', s.inflightAt('a')[0], 2))).toEqual([])
  })

  it('counts the chunks each peer could ask us for: ours it is not known to hold', () => {
    const s = new Scheduler({ chunks: 8, have: bits(8, [0, 1, 2]), random: seeded(13) })
    s.addPeer('a', bits(8, [1, 5]), 0)
    s.addPeer('b', full(8), 0)
    expect(s.peerLacks('a')).toBe(2) // 0 and 2
    expect(s.peerLacks('b')).toBe(0)
    expect(s.peerLacks('nobody')).toBe(0)
    s.onBlock('a', 5, true, 1) // a chunk "a" holds already: nothing new for it
    expect(s.peerLacks('a')).toBe(2)
    const asked = s.inflightAt('b').find(i => i !== 5 && i > 2) as number
    s.onBlock('b', asked, true, 2) // one "a" lacks
    expect(s.peerLacks('a')).toBe(3)
    s.onHave('a', 0, 3)
    s.onHave('a', 0, 3) // told twice, counted once
    expect(s.peerLacks('a')).toBe(2)
    s.onReject('a', 1, 4) // it no longer holds 1 after all
    expect(s.peerLacks('a')).toBe(3)
    s.onLost(2, 5) // we no longer hold 2
    expect(s.peerLacks('a')).toBe(2)
    s.addPeer('a', full(8), 6) // a fresh bitfield replaces the count
    expect(s.peerLacks('a')).toBe(0)
  })
})
