/**
 * A Transfer driven by hand: sessions that record what the transfer sends on them, a context
 * with a clock the test moves, and store handles that are complete or empty.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { chunkFile } from '@shoal/content'
import type { ChunkedFile } from '@shoal/content'
import type { Handshake, ManifestPart, PexPeer } from '../src/pb/message.js'
import type { Session } from '../src/session.js'
import type { Transfer, TransferContext } from '../src/transfer.js'

export const PEERS = [
  '12D3KooWBXmsnukwAZTqLecrm97phmqT6vTwjt1EB5WEB6gqj5Jh',
  '12D3KooWFn8sCPnZPhLXFTJ1mKiitK4MxZo3zQ38Jf1eEDvygAVH',
  '12D3KooWSHBwgQL6NgCs6JYJ46BkforRGSHo1SxMMeD1NeGnkRqr',
  '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA',
  '12D3KooWEYvzjninN1HoG7wdMpsbw9oiXZzMXCUfY1Qa8q7YL9Sc'
]

/** A session as the transfer sees it, recording the messages we send on it */
export class FakeSession {
  readonly peer: string
  readonly peerId
  readonly outbound: boolean
  isClosed = false
  handshaken = false
  handshakesReceived = 0
  readonly sent: Handshake[] = []
  readonly haves: number[][] = []
  readonly laterHaves: Array<{ indices: number[], delayMs: number, maxHeld?: number }> = []
  /** Non-empty pex messages (a real session sends nothing for an empty list) */
  readonly pexes: PexPeer[][] = []
  constructor (peer: string, outbound: boolean) {
    this.peer = peer
    this.peerId = peerIdFromString(peer)
    this.outbound = outbound
  }

  handshake (hs: Handshake): void { this.sent.push(hs) }
  have (indices: number[]): void { this.haves.push(indices) }
  /** Haves held back, as a real session counts them: sent once `maxHeld` wait */
  heldHaves = 0
  haveLater (indices: number[], delayMs: number, maxHeld?: number): void {
    this.laterHaves.push({ indices, delayMs, maxHeld })
    this.heldHaves += indices.length
    if (this.heldHaves >= (maxHeld ?? Infinity)) this.heldHaves = 0
  }
  pex (peers: PexPeer[]): void { if (peers.length > 0) this.pexes.push(peers) }
  readonly requests: number[][] = []
  request (indices: number[]): void { this.requests.push(indices) }
  cancel (): void {}
  close (): void { this.isClosed = true }
  /** Manifest parts we sent this peer */
  readonly parts: ManifestPart[] = []
  manifestPart (part: ManifestPart): void { this.parts.push(part) }
  /** Manifest copies we sent this peer: whole, or begun in parts */
  get manifests (): number { return this.sent.filter(h => h.manifest.byteLength > 0).length + this.parts.filter(p => p.offset === 0).length }
  /** Bytes of manifest parts we sent this peer */
  get partBytes (): number { return this.parts.reduce((n, p) => n + p.data.byteLength, 0) }
}

/** The test's clock: the context's `now` reads it */
export const clock = { now: 0 }

/** A small artifact on disk (1 KiB chunks), made once per test file */
export async function smallArtifact (bytes = 5000): Promise<{ artifact: ChunkedFile, cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-transfer-'))
  const file = join(dir, 'a.bin')
  await writeFile(file, new Uint8Array(bytes).fill(7))
  const artifact = await chunkFile(file, { chunkSize: 1024 })
  return { artifact, cleanup: async () => { await rm(dir, { recursive: true, force: true }) } }
}

/** A context whose peers each have one address (so peer exchange has something to say) */
export function context (): TransferContext {
  return {
    self: 'us',
    maxPeers: 8,
    scheduler: { maxInflightPerPeer: 4, requestTimeoutMs: 30_000 },
    now: () => clock.now,
    dial: () => {},
    store: {
      create: async (manifest: any, manifestBytes: Uint8Array) => handleOf(manifest, manifestBytes, false)
    },
    addrsOf: () => [multiaddr('/ip4/127.0.0.1/tcp/4001')],
    onProgress: () => {},
    onComplete: () => {},
    onError: () => {},
    log: () => {}
  } as unknown as TransferContext
}

export function handleOf (manifest: any, manifestBytes: Uint8Array, complete: boolean): any {
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

export function handshake (artifact: ChunkedFile, init: Partial<Handshake> = {}): Handshake {
  return { artifact: artifact.id.bytes, bitfield: new Uint8Array(0), wantManifest: false, manifest: new Uint8Array(0), superSeeding: false, sendManifest: false, relaysManifest: false, manifestInParts: false, ...init } as Handshake
}

/** The peer sends us a handshake on `s` (the session counts it, as a real one does) */
export async function receive (t: Transfer, s: FakeSession, hs: Handshake): Promise<void> {
  s.handshaken = true
  s.handshakesReceived++
  await t.onHandshake(s as unknown as Session, hs)
}
