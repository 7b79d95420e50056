import { simulate, lowerBound } from '../src/index.js'
import type { SimInit } from '../src/index.js'

const MiB = 1024 * 1024
/** 100 MB/s both ways: a 1 MiB chunk takes 10.5 ms on an idle link */
const LINK = { up: 1e8, down: 1e8 }

function run (init: Partial<SimInit> & Pick<SimInit, 'nodes' | 'size'>): ReturnType<typeof simulate> {
  return simulate({ chunkSize: MiB, link: LINK, dtMs: 1, ...init })
}

describe('simulate', () => {
  it('one node and a seed with equal links: about F/u, never less', () => {
    const size = 32 * MiB
    const r = run({ nodes: 1, size, latencyMs: [10, 10], publisherMode: 'seed' })
    const ideal = size / LINK.up
    expect(r.lowerBound).toBeCloseTo(ideal, 9)
    expect(r.completed).toBe(1)
    expect(r.max).toBeGreaterThanOrEqual(ideal)
    // handshake, first request and last block each cost a latency; allow a little pipeline warm-up
    expect(r.max).toBeLessThan(ideal + 3 * 0.010 + 0.030)
    expect(r.publisherEgressOverSize).toBeCloseTo(1, 6)
    expect(r.duplicateBytes).toBe(0)
  })

  it.each(['seed', 'super-seed'] as const)('a %s serving nodes that do not trade takes about N·F/u', mode => {
    const nodes = 4
    const size = 8 * MiB
    const r = run({ nodes, size, latencyMs: [5, 5], maxPeers: 0, publisherPeers: nodes, publisherMode: mode })
    const serverBound = nodes * size / LINK.up
    expect(r.completed).toBe(nodes)
    expect(r.fromPeersFraction).toBe(0)
    expect(r.publisherEgressOverSize).toBeCloseTo(nodes, 6)
    expect(r.max).toBeGreaterThanOrEqual(serverBound)
    // a plain seed keeps its link busy; the super-seeder idles a round trip per reveal
    expect(r.max).toBeLessThan(serverBound * (mode === 'seed' ? 1.15 : 1.6))
  })

  it('a swarm of 20 finishes with every chunk everywhere, no faster than T*', () => {
    const size = 24 * MiB
    const r = run({ nodes: 20, size, maxPeers: 6, seed: 3 })
    expect(r.completed).toBe(20)
    expect(r.consistent).toBe(true)
    expect(r.stalled).toBe(false)
    expect(r.lowerBound).toBeCloseTo(size / LINK.up, 9)
    expect(r.p50).toBeGreaterThanOrEqual(r.lowerBound)
    expect(r.max).toBeGreaterThanOrEqual(r.lowerBound)
    // it is a swarm: most bytes come from other nodes, and the publisher sends far less than N·F
    expect(r.fromPeersFraction).toBeGreaterThan(0.7)
    expect(r.publisherEgressOverSize).toBeLessThan(5)
    expect(r.max).toBeLessThan(5 * r.lowerBound)
  })

  it('never exceeds any node\'s caps, nor beats T*, on uneven links', () => {
    const link = (i: number, random: () => number): { up: number, down: number } => ({
      up: (i % 3 === 0 ? 2e7 : 5e7) * (0.5 + random()),
      down: 8e7 * (0.5 + random())
    })
    for (const reallocatePasses of [0, 1, 3]) {
      for (const uploadSlots of [1, 4, Infinity]) {
        const r = simulate({ nodes: 15, size: 16 * MiB, chunkSize: MiB, link, publisherLink: { up: 1e8, down: 1e8 }, dtMs: 2, maxPeers: 5, reallocatePasses, uploadSlots, seed: 11 })
        expect(r.completed).toBe(15)
        expect(r.maxUpUtilization).toBeLessThanOrEqual(1 + 1e-9)
        expect(r.maxDownUtilization).toBeLessThanOrEqual(1 + 1e-9)
        expect(r.maxSlotUtilization).toBeLessThanOrEqual(1)
        expect(r.max).toBeGreaterThanOrEqual(r.lowerBound)
      }
    }
  })

  it('reports its upload slots (none by default, as the exchange); 0 and Infinity mean no limit', () => {
    const a = run({ nodes: 6, size: 4 * MiB, maxPeers: 3, uploadSlots: 0 })
    const b = run({ nodes: 6, size: 4 * MiB, maxPeers: 3, uploadSlots: Infinity })
    expect(a.uploadSlots).toBe(Infinity)
    expect(a.completion).toEqual(b.completion)
    expect(a.maxSlotUtilization).toBe(0)
    const c = run({ nodes: 6, size: 4 * MiB, maxPeers: 3, uploadSlots: 2, publisherUploadSlots: 3 })
    expect([c.uploadSlots, c.publisherUploadSlots]).toEqual([2, 3])
    expect(c.maxSlotUtilization).toBe(1)
    expect(run({ nodes: 6, size: 4 * MiB, maxPeers: 3 }).uploadSlots).toBe(Infinity)
  })

  it('is deterministic for a seed', () => {
    const init = { nodes: 12, size: 10 * MiB, maxPeers: 4 }
    const a = run({ ...init, seed: 5 })
    const b = run({ ...init, seed: 5 })
    const c = run({ ...init, seed: 6 })
    expect(b.completion).toEqual(a.completion)
    expect(b.messages).toBe(a.messages)
    expect(c.completion).not.toEqual(a.completion)
  })

  it('reports progress and honours maxTimeMs', () => {
    const seen: number[] = []
    const r = run({ nodes: 10, size: 64 * MiB, maxPeers: 4, maxTimeMs: 100, onProgress: p => seen.push(p.timeMs), progressIntervalMs: 0 })
    expect(r.timedOut).toBe(true)
    expect(r.completed).toBe(0)
    expect(r.max).toBe(Infinity)
    expect(seen.length).toBeGreaterThan(0)
  })

  it('rejects nonsense', () => {
    expect(() => simulate({ nodes: 0, size: 1 })).toThrow(RangeError)
    expect(() => simulate({ nodes: 1, size: 10, link: { up: 0, down: 1 } })).toThrow(RangeError)
    expect(() => simulate({ nodes: 1, size: 10, latencyMs: [5, 1] })).toThrow(RangeError)
    expect(() => simulate({ nodes: 1, size: 10, uploadSlots: -1 })).toThrow(RangeError)
    expect(() => simulate({ nodes: 1, size: 10, uploadSlots: 2.5 })).toThrow(RangeError)
    expect(() => simulate({ nodes: 1, size: 10, publisherUploadSlots: NaN })).toThrow(RangeError)
    expect(() => simulate({ nodes: 20, size: 10, maxPeers: 8, acceptPeers: 4 })).toThrow(RangeError)
  })
})

describe('lowerBound', () => {
  it('is the Kumar–Ross bound', () => {
    // equal links: F/u whatever N is
    expect(lowerBound(100, 10, [10, 10, 10], [10, 10, 10], 3)).toBe(10)
    // a slow downloader
    expect(lowerBound(100, 10, [10, 10], [10, 4], 2)).toBe(25)
    // weak uplinks: N·F / (u_s + Σu_i) = 4·100 / (10 + 4·2.5)
    expect(lowerBound(100, 10, [2.5, 2.5, 2.5, 2.5], [100, 100, 100, 100], 4)).toBe(20)
  })
})
