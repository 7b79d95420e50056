/**
 * What goes to and from an origin, whose uplink bounds the whole transfer: it sends the
 * manifest to a few peers at a time (a node that gets it tells the peers it asked, so none of
 * them sends it again), and the haves it is sent wait to go out together.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { chunkFile } from '@shoal/content'
import { Transfer } from '../src/transfer.js'
import type { ChunkedFile } from '@shoal/content'
import type { Handshake } from '../src/pb/message.js'
import type { Session } from '../src/session.js'
import type { TransferContext } from '../src/transfer.js'

const PEERS = [
  '12D3KooWBXmsnukwAZTqLecrm97phmqT6vTwjt1EB5WEB6gqj5Jh',
  '12D3KooWFn8sCPnZPhLXFTJ1mKiitK4MxZo3zQ38Jf1eEDvygAVH',
  '12D3KooWSHBwgQL6NgCs6JYJ46BkforRGSHo1SxMMeD1NeGnkRqr',
  '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA',
  '12D3KooWEYvzjninN1HoG7wdMpsbw9oiXZzMXCUfY1Qa8q7YL9Sc'
]

/** A session as the transfer sees it, recording the handshakes we send on it */
class FakeSession {
  readonly peer: string
  readonly peerId
  readonly outbound: boolean
  isClosed = false
  handshaken = false
  handshakesReceived = 0
  readonly sent: Handshake[] = []
  readonly haves: number[][] = []
  readonly laterHaves: number[][] = []
  constructor (peer: string, outbound: boolean) {
    this.peer = peer
    this.peerId = peerIdFromString(peer)
    this.outbound = outbound
  }

  handshake (hs: Handshake): void { this.sent.push(hs) }
  have (indices: number[]): void { this.haves.push(indices) }
  haveLater (indices: number[]): void { this.laterHaves.push(indices) }
  pex (): void {}
  request (): void {}
  cancel (): void {}
  close (): void { this.isClosed = true }
  /** Manifest copies we sent this peer */
  get manifests (): number { return this.sent.filter(h => h.manifest.byteLength > 0).length }
}

let dir: string
let artifact: ChunkedFile
let now = 0

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-manifest-'))
  const file = join(dir, 'a.bin')
  await writeFile(file, new Uint8Array(5000).fill(7))
  artifact = await chunkFile(file, { chunkSize: 1024 })
})
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

function context (): TransferContext {
  return {
    self: 'us',
    maxPeers: 8,
    scheduler: { maxInflightPerPeer: 4, requestTimeoutMs: 30_000 },
    now: () => now,
    dial: () => {},
    store: {
      create: async (manifest: any, manifestBytes: Uint8Array) => handleOf(manifest, manifestBytes, false)
    },
    addrsOf: () => [],
    onProgress: () => {},
    onComplete: () => {},
    onError: () => {},
    log: () => {}
  } as unknown as TransferContext
}

function handleOf (manifest: any, manifestBytes: Uint8Array, complete: boolean): any {
  const chunks = manifest.chunks.length
  return {
    manifest,
    manifestBytes,
    isComplete: complete,
    haveCount: complete ? chunks : 0,
    has: () => complete,
    bitfieldBytes: () => new Uint8Array(Math.ceil(chunks / 8)).fill(complete ? 0xff : 0)
  }
}

function handshake (init: Partial<Handshake> = {}): Handshake {
  return { artifact: artifact.id.bytes, bitfield: new Uint8Array(0), wantManifest: false, manifest: new Uint8Array(0), superSeeding: false, ...init } as Handshake
}

/** The peer sends us a handshake on `s` (the session counts it, as a real one does) */
async function receive (t: Transfer, s: FakeSession, hs: Handshake): Promise<void> {
  s.handshaken = true
  s.handshakesReceived++
  await t.onHandshake(s as unknown as Session, hs)
}

describe('manifest copies', () => {
  beforeEach(() => { now = 0 })

  it('an origin sends the manifest to two peers at a time; the others wait their turn', async () => {
    const origin = new Transfer(artifact.id, context(), handleOf(artifact.manifest, artifact.manifestBytes, true))
    origin.superSeed()
    const sessions = PEERS.map(p => new FakeSession(p, false))
    for (const s of sessions) {
      expect(origin.attach(s as unknown as Session)).toBe(true)
      await receive(origin, s, handshake({ wantManifest: true }))
    }
    const [a, b, c, d, e] = sessions
    expect(sessions.map(s => s.manifests)).toEqual([1, 1, 0, 0, 0])
    // Those kept waiting are still answered, without the manifest.
    for (const s of [c, d, e]) expect(s.sent).toHaveLength(1)

    // `a` says it stored the manifest: its place goes to the first in line.
    await receive(origin, a, handshake())
    expect(sessions.map(s => s.manifests)).toEqual([1, 1, 1, 0, 0])
    // `e` got it from another peer while it waited: it is not sent one.
    await receive(origin, e, handshake())
    // A have from `b` shows it holds the manifest too.
    origin.onHave(b as unknown as Session, [0])
    expect(sessions.map(s => s.manifests)).toEqual([1, 1, 1, 1, 0])
    expect(origin.stats().manifestsSent).toBe(4)

    // A copy never confirmed frees its place after a while; nobody is waiting any more.
    now += 10_000
    origin.tick()
    expect(sessions.map(s => s.manifests)).toEqual([1, 1, 1, 1, 0])
  })

  it('a peer that is not an origin sends it to everyone who asked', async () => {
    const holder = new Transfer(artifact.id, context(), handleOf(artifact.manifest, artifact.manifestBytes, true))
    const sessions = PEERS.map(p => new FakeSession(p, false))
    for (const s of sessions) {
      holder.attach(s as unknown as Session)
      await receive(holder, s, handshake({ wantManifest: true }))
    }
    expect(sessions.map(s => s.manifests)).toEqual([1, 1, 1, 1, 1])
  })

  it('a node that gets the manifest tells the peers it asked, and sends it to those that asked it', async () => {
    const node = new Transfer(artifact.id, context())
    node.startDownload()
    const [giver, asked, asker] = PEERS.slice(0, 3).map(p => new FakeSession(p, true))
    for (const s of [giver, asked, asker]) {
      node.attach(s as unknown as Session)
      node.greet(s as unknown as Session)
      expect(s.sent[0].wantManifest).toBe(true)
    }
    // `asked` has not answered yet; `asker` lacks the manifest too.
    await receive(node, asker, handshake({ wantManifest: true }))
    await receive(node, giver, handshake({ manifest: artifact.manifestBytes as Uint8Array<ArrayBuffer> }))

    // The giver and the peer yet to answer hear we have it (a handshake update), not the manifest.
    for (const s of [giver, asked]) {
      expect(s.sent.map(h => h.wantManifest)).toEqual([true, false])
      expect(s.manifests).toBe(0)
    }
    // `asker` asked us first and gets the manifest (which tells it as well).
    expect(asker.sent).toHaveLength(2)
    expect(asker.manifests).toBe(1)
    expect(asker.sent[1].wantManifest).toBe(false)
  })
})

describe('haves to an origin', () => {
  it('wait to go out together; haves to other peers go at once', async () => {
    const node = new Transfer(artifact.id, context())
    node.startDownload()
    const [origin, peer] = PEERS.slice(0, 2).map(p => new FakeSession(p, true))
    for (const s of [origin, peer]) {
      node.attach(s as unknown as Session)
      node.greet(s as unknown as Session)
    }
    await receive(node, origin, handshake({ superSeeding: true, manifest: artifact.manifestBytes as Uint8Array<ArrayBuffer> }))
    await receive(node, peer, handshake())
    ;(node as any).broadcastHave([0])
    expect(origin.laterHaves).toEqual([[0]])
    expect(origin.haves).toEqual([])
    expect(peer.haves).toEqual([[0]])
  })
})
