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

describe('topology', () => {
  it('gives every node at least maxPeers and at most twice that', () => {
    const t = buildTopology({ nodes: 300, maxPeers: 8, publisherPeers: 16, latencyMs: [5, 50], random: seededRandom(2) })
    for (let v = 0; v < 300; v++) {
      const degree = t.outStart[v + 1] - t.outStart[v]
      expect(degree).toBeGreaterThanOrEqual(8)
      expect(degree).toBeLessThanOrEqual(16)
    }
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
