/**
 * The exchange over real libp2p: in-process nodes on 127.0.0.1 TCP (noise + yamux), each with
 * its own on-disk store in a temp dir, trading real files.
 */
import { randomBytes } from 'node:crypto'
import { open, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import { encodeFrame, Message } from '../src/index.js'
import { CHUNK, candidate, makeNode, randomArtifact, testRoot, useNodes, waitFor, within, type TestNode } from './nodes.js'
import type { ArtifactHandle } from '@shoal/store'

useNodes('shoal-exchange-test-')

/** Every verified byte came from `good`, none from `bad`, and the finalized file is exact */
async function expectAllFrom (leecher: TestNode, good: TestNode, bad: TestNode, art: { id: CID, bytes: Uint8Array, manifest: { name: string } }, done: ArtifactHandle): Promise<void> {
  const stats = leecher.exchange.stats(art.id)
  expect(stats?.bytesReceivedFrom[bad.libp2p.peerId.toString()] ?? 0).toBe(0)
  expect(stats?.bytesReceivedFrom[good.libp2p.peerId.toString()]).toBe(art.bytes.byteLength)
  const path = await done.finalize(join(leecher.dir, 'out', art.manifest.name))
  expect(Buffer.compare(await readFile(path), art.bytes)).toBe(0)
}

describe('exchange over real libp2p', () => {
  it('a seeder and 4 leechers that know each other: every leecher gets the exact file, and leechers feed each other', async () => {
    const art = await randomArtifact('swarm.bin', 3 * 1024 * 1024 + 12_345)
    expect(art.manifest.chunks.length).toBe(Math.ceil(art.bytes.byteLength / CHUNK))

    const seeder = await makeNode('swarm-seeder')
    await seeder.store.addComplete(art.manifest, art.manifestBytes, art.id, art.path)
    const leechers = await Promise.all([0, 1, 2, 3].map(async i => await makeNode(`swarm-leecher-${i}`)))

    for (const l of leechers) {
      expect(l.store.get(art.id)).toBeUndefined()
      l.exchange.addPeers(art.id, [seeder, ...leechers.filter(o => o !== l)].map(candidate))
    }
    const handles = await within('4 concurrent fetches', Promise.all(leechers.map(async l => await l.exchange.fetch(art.id))), 45_000)

    for (let i = 0; i < leechers.length; i++) {
      const dest = join(leechers[i].dir, 'out', 'swarm.bin')
      const path = await handles[i].finalize(dest)
      expect(path).toBe(dest)
      const got = await readFile(path)
      expect(got.byteLength).toBe(art.bytes.byteLength)
      expect(Buffer.compare(got, art.bytes)).toBe(0)
      const stats = leechers[i].exchange.stats(art.id)
      expect(stats?.complete).toBe(true)
      expect(stats?.invalidBlocks).toBe(0)
      // Every verified byte was counted once, against some peer.
      const total = Object.values(stats?.bytesReceivedFrom ?? {}).reduce((a, b) => a + b, 0)
      expect(total).toBe(stats?.bytesReceived)
      expect(stats?.bytesReceived).toBe(art.bytes.byteLength)
    }

    const seederId = seeder.libp2p.peerId.toString()
    const fromOthers = leechers.map(l => {
      const from = l.exchange.stats(art.id)?.bytesReceivedFrom ?? {}
      return Object.entries(from).filter(([peer]) => peer !== seederId).reduce((a, [, n]) => a + n, 0)
    })
    expect(fromOthers.some(n => n > 0)).toBe(true)

    const seederStats = seeder.exchange.stats(art.id)
    expect(seederStats?.bytesSent).toBeGreaterThan(0)
  }, 60_000)

  it('a leecher that knows only the artifact id and one peer gets the manifest in the handshake', async () => {
    const art = await randomArtifact('handshake.bin', 300_000)
    const seeder = await makeNode('hs-seeder')
    await seeder.store.addComplete(art.manifest, art.manifestBytes, art.id, art.path)
    const leecher = await makeNode('hs-leecher')

    // Only the id's string form and the peer's address travel to the leecher.
    const id = CID.parse(art.id.toString())
    const addr = seeder.libp2p.getMultiaddrs()[0]
    expect(leecher.store.get(id)).toBeUndefined()
    leecher.exchange.addPeers(id, [{ id: peerIdFromString(addr.getComponents().find(c => c.name === 'p2p')?.value ?? ''), multiaddrs: [multiaddr(addr.toString())] }])
    const handle = await within('fetch', leecher.exchange.fetch(id), 30_000)

    expect(Buffer.compare(Buffer.from(handle.manifestBytes), Buffer.from(art.manifestBytes))).toBe(0)
    expect(handle.manifest.name).toBe('handshake.bin')
    expect(handle.manifest.chunks.map(c => c.toString())).toEqual(art.manifest.chunks.map(c => c.toString()))
    expect(leecher.store.get(id)?.manifestBytes.byteLength).toBe(art.manifestBytes.byteLength)
    const path = await handle.finalize(join(leecher.dir, 'out', 'handshake.bin'))
    expect(Buffer.compare(await readFile(path), art.bytes)).toBe(0)
  }, 60_000)

  it('a peer that gets the manifest later passes it on to peers that asked for it before', async () => {
    const art = await randomArtifact('late-manifest.bin', 300_000)
    const seeder = await makeNode('lm-seeder')
    await seeder.store.addComplete(art.manifest, art.manifestBytes, art.id, art.path)
    const relay = await makeNode('lm-relay')
    // One peer only: the leecher never dials the seeder it hears of, it must get everything,
    // the manifest included, through the relay.
    const leecher = await makeNode('lm-leecher', { maxPeersPerArtifact: 1 })

    // Neither has the manifest when they meet.
    const relayDone = relay.exchange.fetch(art.id)
    leecher.exchange.addPeers(art.id, [candidate(relay)])
    const leecherDone = leecher.exchange.fetch(art.id)
    await waitFor('leecher-relay session', () => leecher.exchange.peersOf(art.id).length === 1)
    expect(leecher.store.get(art.id)).toBeUndefined()

    relay.exchange.addPeers(art.id, [candidate(seeder)])
    const handle = await within('leecher fetch', leecherDone, 30_000)
    await within('relay fetch', relayDone, 30_000)
    expect(leecher.exchange.peersOf(art.id)).toEqual([relay.libp2p.peerId.toString()])
    expect(leecher.exchange.stats(art.id)?.bytesReceivedFrom[relay.libp2p.peerId.toString()]).toBe(art.bytes.byteLength)
    const path = await handle.finalize(join(leecher.dir, 'out', 'late-manifest.bin'))
    expect(Buffer.compare(await readFile(path), art.bytes)).toBe(0)
  }, 60_000)

  it('stores the manifest once when several peers bring it at the same moment', async () => {
    const art = await randomArtifact('many-manifests.bin', 300_000)
    const seeders = await Promise.all([0, 1, 2, 3].map(async i => await makeNode(`mm-seeder-${i}`)))
    for (const s of seeders) await s.store.addComplete(art.manifest, art.manifestBytes, art.id, art.path)
    const leecher = await makeNode('mm-leecher')
    let creates = 0
    const create = leecher.store.create.bind(leecher.store)
    leecher.store.create = async (...args) => { creates++; return await create(...args) }

    leecher.exchange.addPeers(art.id, seeders.map(candidate))
    const handle = await within('fetch', leecher.exchange.fetch(art.id), 30_000)
    expect(creates).toBe(1)
    const path = await handle.finalize(join(leecher.dir, 'out', 'many-manifests.bin'))
    expect(Buffer.compare(await readFile(path), art.bytes)).toBe(0)
  }, 60_000)

  it('never sends a chunk that went bad on its disk: the peer is refused and fetches it elsewhere', async () => {
    const art = await randomArtifact('rotten.bin', 1024 * 1024 + 555)
    const chunks = art.manifest.chunks.length
    // A copy registered while intact, then damaged in place: one flipped byte in every chunk.
    const badPath = join(testRoot(), 'rotten-copy.bin')
    await writeFile(badPath, art.bytes)
    const rotten = await makeNode('rotten')
    await rotten.store.addComplete(art.manifest, art.manifestBytes, art.id, badPath)
    const fh = await open(badPath, 'r+')
    try {
      for (let i = 0; i < chunks; i++) {
        const offset = i * CHUNK + ((i * 7919) % Math.min(CHUNK, art.bytes.byteLength - i * CHUNK))
        await fh.write(Uint8Array.of(art.bytes[offset] ^ 0xff), 0, 1, offset)
      }
    } finally {
      await fh.close()
    }
    const honest = await makeNode('honest-2')
    await honest.store.addComplete(art.manifest, art.manifestBytes, art.id, art.path)

    const leecher = await makeNode('rotten-leecher')
    leecher.exchange.addPeers(art.id, [candidate(rotten), candidate(honest)])
    const done = await within('fetch despite a rotten holder', leecher.exchange.fetch(art.id), 30_000)
    // Not one bad block crossed the wire: the rotten holder refused instead of sending.
    expect(leecher.exchange.stats(art.id)?.invalidBlocks).toBe(0)
    await expectAllFrom(leecher, honest, rotten, art, done)
  }, 60_000)

  it('never stores a block from a peer serving corrupt data, and completes from an honest one', async () => {
    const art = await randomArtifact('corrupt.bin', 1024 * 1024 + 777)

    // A peer that lies: its store re-hashes what it reads (so a file merely corrupted on disk is
    // never served), so the lie is told past it, one flipped byte in every block it sends.
    const liar = await makeNode('liar')
    const held = await liar.store.addComplete(art.manifest, art.manifestBytes, art.id, art.path)
    const honestRead = held.readChunk.bind(held)
    held.readChunk = async (index: number) => {
      const bytes = new Uint8Array(await honestRead(index))
      bytes[(index * 7919) % bytes.byteLength] ^= 0xff
      return bytes
    }

    const leecher = await makeNode('corrupt-leecher')
    // First only the liar: the manifest comes from it (it is checked against the id), the blocks are bad.
    leecher.exchange.addPeers(art.id, [candidate(liar)])
    const fetching = leecher.exchange.fetch(art.id)
    fetching.catch(() => {})
    await waitFor('a block to fail verification', () => (leecher.exchange.stats(art.id)?.invalidBlocks ?? 0) > 0)
    const handle = leecher.store.get(art.id)
    expect(handle).toBeDefined()
    expect(handle?.haveCount).toBe(0)
    expect(leecher.exchange.stats(art.id)?.bytesReceived).toBe(0)
    // The liar's session is dropped at the first bad block, and the liar is not redialled in a
    // tight loop (the dial backoff holds even though the peer was once in a session).
    await waitFor('the liar session to close', () => !leecher.exchange.peersOf(art.id).includes(liar.libp2p.peerId.toString()))
    await new Promise(resolve => setTimeout(resolve, 1_500))
    expect(leecher.exchange.stats(art.id)?.invalidBlocks).toBeLessThanOrEqual(2)
    expect(leecher.store.get(art.id)?.haveCount).toBe(0)

    const honest = await makeNode('honest')
    await honest.store.addComplete(art.manifest, art.manifestBytes, art.id, art.path)
    leecher.exchange.addPeers(art.id, [candidate(honest)])
    const done = await within('fetch from the honest seeder', fetching, 30_000)
    expect(leecher.exchange.stats(art.id)?.invalidBlocks).toBeGreaterThan(0)
    await expectAllFrom(leecher, honest, liar, art, done)
  }, 60_000)

  it('refuses an inbound session for an artifact it does not hold', async () => {
    const art = await randomArtifact('unheld.bin', 200_000)
    const empty = await makeNode('empty-peer')
    const leecher = await makeNode('refused-leecher')
    const emptyId = empty.libp2p.peerId.toString()

    const abort = new AbortController()
    let settled = false
    const fetching = leecher.exchange.fetch(art.id, { signal: abort.signal })
    fetching.then(() => { settled = true }, () => { settled = true })
    leecher.exchange.addPeers(art.id, [candidate(empty)])

    // The leecher reaches the peer over libp2p, yet the peer never adopts a session.
    await waitFor('a connection to the peer', () => leecher.libp2p.getConnections(empty.libp2p.peerId).length > 0)
    const deadline = Date.now() + 3_000
    while (Date.now() < deadline) {
      expect(empty.exchange.peersOf(art.id)).toEqual([])
      expect(empty.exchange.stats(art.id)).toBeUndefined()
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    expect(settled).toBe(false)
    // The refused session is closed on the leecher's side too (it may be retried after a backoff).
    await waitFor('the refused session to close', () => !leecher.exchange.peersOf(art.id).includes(emptyId), 5_000)
    expect(leecher.store.get(art.id)).toBeUndefined()
    expect(empty.store.get(art.id)).toBeUndefined()

    abort.abort(new Error('test over'))
    await expect(fetching).rejects.toThrow('test over')
    leecher.exchange.forget(art.id)
  }, 30_000)

  it('round-trips every message type through the codec and the framing', () => {
    const cid = CID.parse('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
    const messages: Message[] = [
      { handshake: { artifact: cid.bytes as Uint8Array<ArrayBuffer>, bitfield: Uint8Array.of(0xff, 0x80), wantManifest: true, manifest: new Uint8Array(0), superSeeding: false, sendManifest: true, relaysManifest: true, manifestInParts: true } },
      { handshake: { artifact: cid.bytes as Uint8Array<ArrayBuffer>, bitfield: new Uint8Array(0), wantManifest: false, manifest: randomBytes(500) as Uint8Array<ArrayBuffer>, superSeeding: true, sendManifest: false, relaysManifest: false, manifestInParts: false } },
      { have: { indices: [0, 1, 127, 128, 70_000] } },
      { request: { indices: [3, 2, 1] } },
      { block: { index: 42, data: randomBytes(CHUNK) as Uint8Array<ArrayBuffer> } },
      { block: { index: 0, data: new Uint8Array(0) } },
      { cancel: { indices: [9] } },
      { reject: { indices: [], reason: 'artifact not held here' } },
      { reject: { indices: [5, 6], reason: 'too many queued requests' } },
      { pex: { peers: [{ id: randomBytes(38) as Uint8Array<ArrayBuffer>, addrs: [multiaddr('/ip4/127.0.0.1/tcp/4010').bytes as Uint8Array<ArrayBuffer>] }, { id: randomBytes(38) as Uint8Array<ArrayBuffer>, addrs: [] }] } },
      { manifestPart: { offset: 16_384, data: randomBytes(300) as Uint8Array<ArrayBuffer>, total: 200_000 } }
    ]
    for (const msg of messages) {
      const body = Message.encode(msg)
      const decoded = Message.decode(body)
      expect(normalise(decoded)).toEqual(normalise(msg))

      const frame = encodeFrame(msg)
      const { value: length, bytes: prefix } = readVarint(frame)
      expect(length).toBe(body.byteLength)
      expect(frame.byteLength).toBe(prefix + body.byteLength)
      expect(Buffer.compare(Buffer.from(frame.subarray(prefix)), Buffer.from(body))).toBe(0)
      expect(normalise(Message.decode(frame.subarray(prefix)))).toEqual(normalise(msg))
    }
    // A 64 KiB block needs a multi-byte length prefix.
    expect(readVarint(encodeFrame(messages[4])).bytes).toBe(3)
    // Exactly one field is set in each decoded message.
    for (const msg of messages) {
      expect(Object.entries(Message.decode(Message.encode(msg))).filter(([, v]) => v != null)).toHaveLength(1)
    }
  })
})

function readVarint (buf: Uint8Array): { value: number, bytes: number } {
  let value = 0
  let shift = 0
  for (let i = 0; i < buf.byteLength; i++) {
    value += (buf[i] & 0x7f) * 2 ** shift
    if ((buf[i] & 0x80) === 0) return { value, bytes: i + 1 }
    shift += 7
  }
  throw new Error('truncated varint')
}

/** Uint8Arrays (of whatever class) as plain arrays, absent fields dropped, for deep equality */
function normalise (v: unknown): unknown {
  if (v instanceof Uint8Array) return `bytes:${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`
  if (Array.isArray(v)) return v.map(normalise)
  if (v != null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [k, normalise(x)]))
  }
  return v
}
