/**
 * The swarm mechanisms over real libp2p on 127.0.0.1: rate caps, super-seeding by the origin,
 * peer exchange and the bound on peers per artifact.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { candidate, makeNode, randomArtifact, useNodes, waitFor, within } from './nodes.js'
import type { TestNode } from './nodes.js'

useNodes('shoal-mechanisms-test-')

const MB = 1_000_000

async function fetchTimed (leecher: TestNode, id: Parameters<TestNode['exchange']['fetch']>[0]): Promise<number> {
  const start = performance.now()
  await leecher.exchange.fetch(id)
  return (performance.now() - start) / 1000
}

describe('swarm mechanisms over real libp2p', () => {
  // The ±5 % accuracy of the bucket itself is proven on a virtual clock (rate-limit.test.ts).
  // Here, over real links, the caps must never be exceeded; how close a transfer gets to the
  // cap from below depends on spare CPU, which a loaded CI machine may not have.
  it('never exceeds the upload cap or the download cap over 10 s', async () => {
    const rate = 2 * MB
    const art = await randomArtifact('capped.bin', 20 * MB)
    // Pair 1: the seeder's upload is capped. Pair 2: the leecher's download is capped.
    const upSeeder = await makeNode('cap-up-seeder', { maxUploadBytesPerSecond: rate })
    const upLeecher = await makeNode('cap-up-leecher')
    const downSeeder = await makeNode('cap-down-seeder')
    const downLeecher = await makeNode('cap-down-leecher', { maxDownloadBytesPerSecond: rate })
    for (const s of [upSeeder, downSeeder]) await s.store.addComplete(art.manifest, art.manifestBytes, art.id, art.path)
    upLeecher.exchange.addPeers(art.id, [candidate(upSeeder)])
    downLeecher.exchange.addPeers(art.id, [candidate(downSeeder)])

    const [upSeconds, downSeconds] = await within('capped fetches', Promise.all([
      fetchTimed(upLeecher, art.id),
      fetchTimed(downLeecher, art.id)
    ]), 30_000)
    const size = art.manifest.size
    expect(size / upSeconds / rate).toBeLessThan(1.05)
    expect(size / downSeconds / rate).toBeLessThan(1.05)
    // ...and they are caps, not brakes: well above half the rate even on a busy machine.
    expect(size / upSeconds / rate).toBeGreaterThan(0.5)
    expect(size / downSeconds / rate).toBeGreaterThan(0.5)
    // The cap is on what crosses the link, not only on what we process: the sender got ahead
    // of the capped reader by at most the stream window.
    expect(downSeeder.exchange.stats(art.id)?.bytesSent).toBeLessThanOrEqual(size + 4 * 1024 * 1024)
  }, 60_000)

  it('an origin that super-seeds sends each chunk once before any twice and leaves the rest to the swarm', async () => {
    const art = await randomArtifact('seeded.bin', 4 * 1024 * 1024)
    const chunks = art.manifest.chunks.length
    // Everyone's upload capped alike, as on real links, so the leechers have time to trade.
    const origin = await makeNode('ss-origin', { maxUploadBytesPerSecond: 4 * MB })
    await origin.store.addComplete(art.manifest, art.manifestBytes, art.id, art.path)
    origin.exchange.superSeed(art.id)
    const leechers = await Promise.all([0, 1, 2, 3].map(async i => await makeNode(`ss-leecher-${i}`, { maxUploadBytesPerSecond: 4 * MB })))
    for (const l of leechers) l.exchange.addPeers(art.id, [origin, ...leechers.filter(o => o !== l)].map(candidate))
    await within('super-seeded swarm', Promise.all(leechers.map(async l => await l.exchange.fetch(art.id))), 45_000)

    for (const l of leechers) {
      const path = await (await l.exchange.fetch(art.id)).finalize(join(l.dir, 'out', 'seeded.bin'))
      expect(Buffer.compare(await readFile(path), art.bytes)).toBe(0)
    }
    const sent = origin.exchange.stats(art.id)?.bytesSent ?? 0
    // Each chunk left the origin once (the swarm did the rest), give or take endgame copies.
    expect(sent).toBeGreaterThanOrEqual(art.manifest.size)
    expect(sent).toBeLessThan(1.5 * art.manifest.size)
    const fromPeers = leechers.map(l => Object.entries(l.exchange.stats(art.id)?.bytesReceivedFrom ?? {})
      .filter(([peer]) => peer !== origin.libp2p.peerId.toString())
      .reduce((a, [, n]) => a + n, 0))
    // Three quarters of what the leechers needed came from each other.
    expect(fromPeers.reduce((a, b) => a + b, 0)).toBeGreaterThan(0.6 * 4 * art.manifest.size)
    expect(chunks).toBeGreaterThan(16)
  }, 60_000)

  it('announces a chunk only to peers that lack it, but every chunk to an origin', async () => {
    const art = await randomArtifact('haves.bin', 2 * MB)
    const chunks = art.manifest.chunks.length
    const seed = await makeNode('haves-seed')
    const origin = await makeNode('haves-origin')
    for (const s of [seed, origin]) await s.store.addComplete(art.manifest, art.manifestBytes, art.id, art.path)
    origin.exchange.superSeed(art.id)
    const fromSeed = await makeNode('haves-from-seed')
    const fromOrigin = await makeNode('haves-from-origin')
    fromSeed.exchange.addPeers(art.id, [candidate(seed)])
    fromOrigin.exchange.addPeers(art.id, [candidate(origin)])
    await within('both fetches', Promise.all([fromSeed.exchange.fetch(art.id), fromOrigin.exchange.fetch(art.id)]), 45_000)
    // The seed showed every chunk in its handshake: telling it of each one would be noise.
    expect(fromSeed.exchange.stats(art.id)?.havesSent).toBe(0)
    // The origin revealed each chunk before it was asked for, yet it hears of every copy.
    expect(fromOrigin.exchange.stats(art.id)?.havesSent).toBe(chunks)
  }, 60_000)

  it('peer exchange: a node that knows only the origin finds the origin\'s other peers', async () => {
    const art = await randomArtifact('pex.bin', 8 * MB)
    const origin = await makeNode('pex-origin', { maxUploadBytesPerSecond: 2 * MB })
    await origin.store.addComplete(art.manifest, art.manifestBytes, art.id, art.path)
    const first = await makeNode('pex-first')
    const late = await makeNode('pex-late')
    first.exchange.addPeers(art.id, [candidate(origin)])
    const firstDone = first.exchange.fetch(art.id)
    await waitFor('first leecher in session with the origin', () => origin.exchange.peersOf(art.id).length === 1)
    // "late" is told only of the origin; the origin's PEX names "first".
    late.exchange.addPeers(art.id, [candidate(origin)])
    const lateDone = late.exchange.fetch(art.id)
    await waitFor('late leecher in session with first', () => late.exchange.peersOf(art.id).includes(first.libp2p.peerId.toString()))
    await within('both fetches', Promise.all([firstDone, lateDone]), 45_000)
  }, 60_000)

  it('keeps to its bound on peers per artifact, dialling and accepting', async () => {
    const art = await randomArtifact('bounded.bin', 2 * MB)
    const seeds = await Promise.all([0, 1, 2, 3].map(async i => await makeNode(`bound-seed-${i}`, { maxPeersPerArtifact: 1, acceptPeersPerArtifact: 1, maxUploadBytesPerSecond: 2 * MB })))
    for (const s of seeds) await s.store.addComplete(art.manifest, art.manifestBytes, art.id, art.path)
    const leechers = await Promise.all([0, 1, 2].map(async i => await makeNode(`bound-leecher-${i}`, { maxPeersPerArtifact: 2 })))
    for (const l of leechers) l.exchange.addPeers(art.id, [...seeds, ...leechers.filter(o => o !== l)].map(candidate))
    let maxOut = 0
    let maxIn = 0
    const sampler = setInterval(() => {
      for (const l of leechers) maxOut = Math.max(maxOut, l.exchange.peersOf(art.id).length)
      for (const s of seeds) maxIn = Math.max(maxIn, s.exchange.peersOf(art.id).length)
    }, 20)
    try {
      await within('bounded fetches', Promise.all(leechers.map(async l => await l.exchange.fetch(art.id))), 45_000)
    } finally {
      clearInterval(sampler)
    }
    // A leecher dials up to 2 and accepts up to 2 + 2 (the default), but only 2 others exist.
    expect(maxOut).toBeLessThanOrEqual(4)
    // A seed that accepts 1 session holds 1, however many want it; the refused dial others.
    expect(maxIn).toBeLessThanOrEqual(1)
  }, 60_000)

  it('an origin serves at most originPeersPerArtifact sessions, and the swarm still gets every chunk', async () => {
    const art = await randomArtifact('origin-bound.bin', 2 * MB)
    const origin = await makeNode('obound-origin', { originPeersPerArtifact: 2, maxUploadBytesPerSecond: 2 * MB })
    await origin.store.addComplete(art.manifest, art.manifestBytes, art.id, art.path)
    origin.exchange.superSeed(art.id)
    const leechers = await Promise.all([0, 1, 2, 3].map(async i => await makeNode(`obound-leecher-${i}`)))
    for (const l of leechers) l.exchange.addPeers(art.id, [origin, ...leechers.filter(o => o !== l)].map(candidate))
    let maxIn = 0
    const sampler = setInterval(() => { maxIn = Math.max(maxIn, origin.exchange.peersOf(art.id).length) }, 20)
    try {
      await within('fetches with a bounded origin', Promise.all(leechers.map(async l => await l.exchange.fetch(art.id))), 45_000)
    } finally {
      clearInterval(sampler)
    }
    // Four leechers dialled it; it kept to two, and the two it refused got the chunks from the swarm.
    expect(maxIn).toBeLessThanOrEqual(2)
    const direct = leechers.filter(l => (l.exchange.stats(art.id)?.bytesReceivedFrom[origin.libp2p.peerId.toString()] ?? 0) > 0)
    expect(direct.length).toBeGreaterThanOrEqual(1)
    expect(direct.length).toBeLessThanOrEqual(2)
  }, 60_000)
})
