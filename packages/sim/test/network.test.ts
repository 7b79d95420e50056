import { Network } from '../src/network.js'
import type { NetworkSink } from '../src/network.js'
import { buildTopology } from '../src/topology.js'
import { seededRandom } from '../src/random.js'
import { parseRate, parseSize, formatSize } from '../src/units.js'

const MiB = 1024 * 1024

/** Node 0 and node 1 both connected to the "publisher" (node 2), not to each other */
function star (up: number[], down: number[], reallocatePasses = 1): { net: Network, toNode: (n: number) => number, sent: Array<[number, number, number]> } {
  const topology = buildTopology({ nodes: 2, maxPeers: 0, publisherPeers: 2, latencyMs: [0, 0], random: seededRandom(1) })
  const net = new Network({
    topology,
    up: Float64Array.from(up),
    down: Float64Array.from(down),
    chunks: 4,
    chunkSize: MiB,
    size: 4 * MiB,
    maxQueued: 8,
    reallocatePasses
  })
  const toNode = (n: number): number => {
    for (let c = 0; c < topology.src.length; c++) if (topology.src[c] === 2 && topology.dst[c] === n) return c
    throw new Error('no such connection')
  }
  return { net, toNode, sent: [] }
}

function sink (sent: Array<[number, number, number]>): NetworkSink {
  return { held: () => true, sent: (conn, index, at) => { sent.push([conn, index, at]) }, unheld: () => {} }
}

describe('Network', () => {
  it('splits an uplink evenly between two downloads', () => {
    const { net, toNode, sent } = star([1e8, 1e8, 1e8], [1e8, 1e8, 1e8])
    net.enqueue(toNode(0), 0)
    net.enqueue(toNode(1), 1)
    for (let t = 0; sent.length < 2; t += 1) net.step(t, 1, sink(sent))
    // each gets 50 MB/s: 1 MiB in 20.97 ms, both at once
    expect(sent[0][2]).toBeCloseTo(MiB / 5e4, 6)
    expect(sent[1][2]).toBeCloseTo(MiB / 5e4, 6)
    expect(net.maxUpUtilization).toBeLessThanOrEqual(1 + 1e-12)
  })

  it('gives a slow downloader its cap and the rest of the uplink to the other', () => {
    for (const passes of [0, 1]) {
      const { net, toNode, sent } = star([1e8, 1e8, 1e8], [1e7, 1e8, 1e8], passes)
      net.enqueue(toNode(0), 0)
      net.enqueue(toNode(1), 1)
      for (let t = 0; sent.length < 2; t += 1) net.step(t, 1, sink(sent))
      const fast = sent.find(s => s[0] === toNode(1)) as [number, number, number]
      // without reallocation the fast one gets half the uplink; with it, the 90 % left over
      expect(fast[2]).toBeCloseTo(MiB / (passes === 0 ? 5e4 : 9e4), 0)
      expect(net.maxDownUtilization).toBeLessThanOrEqual(1 + 1e-12)
      expect(net.maxUpUtilization).toBeLessThanOrEqual(1 + 1e-12)
    }
  })

  it('sends a connection\'s queue back to back, one block at a time, and honours cancels of queued blocks', () => {
    const { net, toNode, sent } = star([1e8, 1e8, 1e8], [1e8, 1e8, 1e8])
    const c = toNode(0)
    for (const i of [0, 1, 2, 3]) net.enqueue(c, i)
    net.step(0, 1, sink(sent))
    net.cancel(c, 0) // already being sent: goes on
    net.cancel(c, 2) // still queued: dropped
    for (let t = 1; net.busy > 0; t += 1) net.step(t, 1, sink(sent))
    expect(sent.map(s => s[1])).toEqual([0, 1, 3])
    const chunkMs = MiB / 1e5
    sent.forEach(([, , at], k) => { expect(at).toBeCloseTo(chunkMs * (k + 1), 6) })
  })

  it('refuses requests beyond the queue bound', () => {
    const { net, toNode } = star([1e8, 1e8, 1e8], [1e8, 1e8, 1e8])
    for (let i = 0; i < 8; i++) expect(net.enqueue(toNode(0), i % 4)).toBe(true)
    expect(net.enqueue(toNode(0), 0)).toBe(false)
  })
})

/** Node 3 serves nodes 0, 1 and 2 (not connected to each other) with `slots` upload slots */
function fan (slots: number, rate = 1e8): { net: Network, toNode: (n: number) => number, sent: Array<[number, number, number]> } {
  const topology = buildTopology({ nodes: 3, maxPeers: 0, publisherPeers: 3, latencyMs: [0, 0], random: seededRandom(1) })
  const net = new Network({
    topology,
    up: Float64Array.from([rate, rate, rate, rate]),
    down: Float64Array.from([rate, rate, rate, rate]),
    chunks: 8,
    chunkSize: MiB,
    size: 8 * MiB,
    maxQueued: 8,
    reallocatePasses: 1,
    uploadSlots: slots
  })
  const toNode = (n: number): number => {
    for (let c = 0; c < topology.src.length; c++) if (topology.src[c] === 3 && topology.dst[c] === n) return c
    throw new Error('no such connection')
  }
  return { net, toNode, sent: [] }
}

describe('upload slots', () => {
  const chunkMs = MiB / 1e5 // one block at the full 100 MB/s

  it('with one slot, serves three busy clients one block at a time in turn, at the full rate', () => {
    const { net, toNode, sent } = fan(1)
    const conns = [0, 1, 2].map(toNode)
    for (const c of conns) { net.enqueue(c, 0); net.enqueue(c, 1) }
    let steps = 0
    for (let t = 0; net.busy > 0; t += 1, steps++) {
      net.step(t, 1, sink(sent))
      // never more than one connection sending, and the uplink never over its cap
      expect(conns.filter(c => net.sending(c)).length).toBeLessThanOrEqual(1)
      expect(net.slotsInUse(3)).toBeLessThanOrEqual(1)
    }
    expect(sent.map(([c, i]) => [conns.indexOf(c), i])).toEqual([[0, 0], [1, 0], [2, 0], [0, 1], [1, 1], [2, 1]])
    // back to back: the slot passes on mid-step, so the k-th block ends at k block-times
    sent.forEach(([, , at], k) => { expect(at).toBeCloseTo(chunkMs * (k + 1), 6) })
    expect(net.maxUpUtilization).toBeLessThanOrEqual(1 + 1e-12)
    expect(net.maxDownUtilization).toBeLessThanOrEqual(1 + 1e-12)
    expect(net.maxSlotUtilization).toBe(1)
    expect(net.bytesUp[3]).toBeCloseTo(6 * MiB, 3)
  })

  it('with two slots, splits the uplink between two blocks while the third client waits', () => {
    const { net, toNode, sent } = fan(2)
    const conns = [0, 1, 2].map(toNode)
    for (const c of conns) net.enqueue(c, 0)
    net.step(0, 1, sink(sent))
    expect(conns.map(c => net.sending(c))).toEqual([true, true, false])
    for (let t = 1; net.busy > 0; t += 1) {
      net.step(t, 1, sink(sent))
      expect(net.slotsInUse(3)).toBeLessThanOrEqual(2)
    }
    // the first two share the uplink (2 block-times each); the third then has it alone (from the
    // next step: until then it goes on at the share of the slot it took over)
    expect(sent.map(([c]) => conns.indexOf(c))).toEqual([0, 1, 2])
    expect(sent[0][2]).toBeCloseTo(2 * chunkMs, 6)
    expect(sent[1][2]).toBeCloseTo(2 * chunkMs, 6)
    expect(sent[2][2]).toBeGreaterThanOrEqual(3 * chunkMs)
    expect(sent[2][2]).toBeLessThan(3 * chunkMs + 1)
    expect(net.maxUpUtilization).toBeLessThanOrEqual(1 + 1e-12)
  })

  it('puts a connection whose queue was empty at the back of the line, behind one that had its turn', () => {
    const { net, toNode, sent } = fan(1)
    const [a, b] = [0, 1].map(toNode)
    net.enqueue(a, 0)
    net.enqueue(a, 1)
    net.step(0, 1, sink(sent))
    net.enqueue(b, 2) // arrives while a's first block is on the wire
    for (let t = 1; net.busy > 0; t += 1) net.step(t, 1, sink(sent))
    expect(sent.map(([c, i]) => [c === a ? 'a' : 'b', i])).toEqual([['a', 0], ['b', 2], ['a', 1]])
  })

  it('cancels a waiting request, and rejects a request for a chunk not held when its turn comes', () => {
    const { net, toNode, sent } = fan(1)
    const [a, b, c] = [0, 1, 2].map(toNode)
    const unheld: number[] = []
    const s: NetworkSink = { held: (_node, index) => index !== 5, sent: (conn, index, at) => { sent.push([conn, index, at]) }, unheld: (_conn, index) => { unheld.push(index) } }
    net.enqueue(a, 0)
    net.enqueue(b, 1)
    net.enqueue(c, 5)
    net.enqueue(c, 2)
    net.step(0, 1, s)
    net.cancel(b, 1) // waiting, not started: dropped
    for (let t = 1; net.busy > 0; t += 1) net.step(t, 1, s)
    expect(sent.map(([conn, i]) => [conn === a ? 'a' : conn === b ? 'b' : 'c', i])).toEqual([['a', 0], ['c', 2]])
    expect(unheld).toEqual([5])
  })

  it('with no limit (0 or Infinity), every busy connection sends at once', () => {
    for (const slots of [0, Infinity]) {
      const { net, toNode, sent } = fan(slots)
      const conns = [0, 1, 2].map(toNode)
      for (const c of conns) net.enqueue(c, 0)
      net.step(0, 1, sink(sent))
      expect(conns.every(c => net.sending(c))).toBe(true)
      for (let t = 1; net.busy > 0; t += 1) net.step(t, 1, sink(sent))
      for (const [, , at] of sent) expect(at).toBeCloseTo(3 * chunkMs, 6)
    }
  })

  it('refuses a slot count that is not a non-negative integer', () => {
    expect(() => fan(-1)).toThrow(RangeError)
    expect(() => fan(1.5)).toThrow(RangeError)
  })
})

describe('topology', () => {
  it('gives every node at least maxPeers and at most acceptPeers (maxPeers + 2 unless set)', () => {
    for (const acceptPeers of [undefined, 16]) {
      const t = buildTopology({ nodes: 300, maxPeers: 8, acceptPeers, publisherPeers: 16, latencyMs: [5, 50], random: seededRandom(2) })
      let most = 0
      for (let v = 0; v < 300; v++) {
        const degree = t.outStart[v + 1] - t.outStart[v]
        expect(degree).toBeGreaterThanOrEqual(8)
        most = Math.max(most, degree)
      }
      expect(most).toBe(acceptPeers ?? 10)
    }
    const t = buildTopology({ nodes: 300, maxPeers: 8, publisherPeers: 16, latencyMs: [5, 50], random: seededRandom(2) })
    expect(t.outStart[301] - t.outStart[300]).toBe(16)
    for (let c = 0; c < t.src.length; c++) {
      expect(t.src[c ^ 1]).toBe(t.dst[c])
      expect(t.latencyMs[c]).toBeGreaterThanOrEqual(5)
      expect(t.latencyMs[c]).toBeLessThanOrEqual(50)
    }
  })
})

describe('units', () => {
  it('parses sizes and rates', () => {
    expect(parseSize('5GB')).toBe(5e9)
    expect(parseSize('5e9')).toBe(5e9)
    expect(parseSize('4MiB')).toBe(4194304)
    expect(parseSize('200 MB')).toBe(2e8)
    expect(parseRate('1gbit')).toBe(125e6)
    expect(parseRate('100Mbps')).toBe(12.5e6)
    expect(parseRate('125MB/s')).toBe(125e6)
    expect(parseRate('1000')).toBe(1000)
    expect(() => parseSize('5 parsecs')).toThrow(RangeError)
    expect(() => parseRate('fast')).toThrow(RangeError)
    expect(formatSize(5e9)).toBe('5 GB')
    expect(formatSize(4194304)).toBe('4 MiB')
  })
})
