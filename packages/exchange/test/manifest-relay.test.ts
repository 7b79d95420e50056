/**
 * The manifest in parts: a holder sends it in pieces to a peer that asks for them, and a node
 * still receiving it passes each piece on as it lands (it relays), so a copy crosses a chain of
 * nodes in about the time it crosses one link instead of one link after another.
 */
import { MANIFEST_PART_BYTES, Transfer } from '../src/transfer.js'
import { FakeSession, PEERS, clock, context, handleOf, handshake as handshakeFor, receive, smallArtifact } from './transfer-fakes.js'
import type { ChunkedFile } from '@shoal/content'
import type { Handshake, ManifestPart } from '../src/pb/message.js'
import type { Session } from '../src/session.js'

// ~1000 chunks: a manifest of ~41 KB, in several parts
let artifact: ChunkedFile
let cleanup: () => Promise<void>
beforeAll(async () => { ({ artifact, cleanup } = await smallArtifact(1024 * 1000)) })
afterAll(async () => { await cleanup() })

function handshake (init: Partial<Handshake> = {}): Handshake {
  return handshakeFor(artifact, init)
}

/** A peer that lacks the manifest and asks us for it in parts */
const ASK_PARTS = { wantManifest: true, sendManifest: true, manifestInParts: true }

const asSession = (s: FakeSession): Session => s as unknown as Session

/** The manifest's bytes from the parts sent to `s`, in order */
function assembled (s: FakeSession): Uint8Array {
  const out = new Uint8Array(s.partBytes)
  let at = 0
  for (const p of s.parts) {
    expect(p.offset).toBe(at)
    out.set(p.data, at)
    at += p.data.byteLength
  }
  return out
}

/** The manifest cut as a holder sends it */
function partsOf (bytes: Uint8Array): ManifestPart[] {
  const parts: ManifestPart[] = []
  for (let offset = 0; offset < bytes.byteLength; offset += MANIFEST_PART_BYTES) {
    parts.push({ offset, data: bytes.slice(offset, offset + MANIFEST_PART_BYTES) as Uint8Array<ArrayBuffer>, total: bytes.byteLength })
  }
  return parts
}

/** A downloading node without the manifest, with sessions it dialled (greeted) */
function lacking (count: number): { node: Transfer, sessions: FakeSession[] } {
  const node = new Transfer(artifact.id, context())
  node.startDownload()
  const sessions = PEERS.slice(0, count).map(p => new FakeSession(p, true))
  for (const s of sessions) {
    node.attach(asSession(s))
    node.greet(asSession(s))
  }
  return { node, sessions }
}

describe('the manifest in parts', () => {
  beforeEach(() => { clock.now = 0 })

  it('a holder sends it in parts to a peer that asks so, then says it holds it; whole to one that does not', async () => {
    const holder = new Transfer(artifact.id, context(), handleOf(artifact.manifest, artifact.manifestBytes, true))
    const [parts, whole] = PEERS.slice(0, 2).map(p => new FakeSession(p, false))
    for (const s of [parts, whole]) holder.attach(asSession(s))
    await receive(holder, parts, handshake(ASK_PARTS))
    await receive(holder, whole, handshake({ wantManifest: true, sendManifest: true }))

    expect(parts.parts.length).toBe(Math.ceil(artifact.manifestBytes.byteLength / MANIFEST_PART_BYTES))
    expect(assembled(parts)).toEqual(artifact.manifestBytes)
    expect(parts.sent.map(h => [h.wantManifest, h.manifest.byteLength])).toEqual([[false, 0]])
    expect(whole.parts).toEqual([])
    expect(whole.sent.map(h => h.manifest.byteLength)).toEqual([artifact.manifestBytes.byteLength])
    expect(holder.stats().manifestsSent).toBe(2)
  })

  it('asks for it in parts, and stores it once the last part is in', async () => {
    const { node, sessions: [holder] } = lacking(1)
    await receive(node, holder, handshake())
    expect(holder.sent[holder.sent.length - 1]).toMatchObject({ sendManifest: true, manifestInParts: true })
    const parts = partsOf(artifact.manifestBytes)
    for (const p of parts.slice(0, -1)) await node.onManifestPart(asSession(holder), p)
    expect(node.handle).toBeUndefined()
    await node.onManifestPart(asSession(holder), parts[parts.length - 1])
    expect(node.handle?.manifestBytes).toEqual(artifact.manifestBytes)
  })

  it('passes each part on as it lands, before it holds the whole, to a peer that asks it', async () => {
    const { node, sessions: [holder, asker, other] } = lacking(3)
    await receive(node, asker, handshake({ wantManifest: true }))
    await receive(node, other, handshake({ wantManifest: true }))
    await receive(node, holder, handshake())
    const parts = partsOf(artifact.manifestBytes)
    await node.onManifestPart(asSession(holder), parts[0])

    // The first part makes us a relay: the peers that lack the manifest hear so; the holder
    // we get it from does not.
    for (const s of [asker, other]) expect(s.sent[s.sent.length - 1]).toMatchObject({ wantManifest: true, relaysManifest: true })
    expect(holder.sent.some(h => h.relaysManifest)).toBe(false)

    // `asker` asks us: it gets what we have at once, the rest as it comes, before we hold it.
    await receive(node, asker, handshake(ASK_PARTS))
    expect(asker.partBytes).toBe(parts[0].data.byteLength)
    await node.onManifestPart(asSession(holder), parts[1])
    expect(asker.partBytes).toBe(parts[0].data.byteLength + parts[1].data.byteLength)
    expect(node.handle).toBeUndefined()

    // A peer that wants it whole waits until we hold it, and hears it waits in our line.
    const sentBefore = other.sent.length
    await receive(node, other, handshake({ wantManifest: true, sendManifest: true }))
    expect(other.manifests).toBe(0)
    expect(other.sent.length).toBe(sentBefore + 1)

    for (const p of parts.slice(2)) await node.onManifestPart(asSession(holder), p)
    expect(node.handle).toBeDefined()
    expect(assembled(asker)).toEqual(artifact.manifestBytes)
    expect(asker.sent[asker.sent.length - 1]).toMatchObject({ wantManifest: false, relaysManifest: false })
    expect(other.manifests).toBe(1) // whole, now that we hold it
    expect(node.stats().manifestsSent).toBe(2)
  })

  it('asks a relay like a holder, and waits for its copy when the relay comes to hold the manifest', async () => {
    const { node, sessions: [relay, holder] } = lacking(2)
    await receive(node, relay, handshake({ wantManifest: true, relaysManifest: true }))
    expect(relay.sent[relay.sent.length - 1]).toMatchObject({ sendManifest: true, manifestInParts: true })
    const parts = partsOf(artifact.manifestBytes)
    await node.onManifestPart(asSession(relay), parts[0])
    // The relay stores it meanwhile and says so: the ask stays, its copy is on its way.
    await receive(node, relay, handshake())
    await receive(node, holder, handshake())
    expect(holder.sent.some(h => h.sendManifest)).toBe(false)
    for (const p of parts.slice(1)) await node.onManifestPart(asSession(relay), p)
    expect(node.handle).toBeDefined()
  })

  it('drops a copy whose relay stops passing it on, and ends the copies it relayed', async () => {
    const { node, sessions: [relay, holder, asker] } = lacking(3)
    await receive(node, asker, handshake({ wantManifest: true }))
    await receive(node, relay, handshake({ wantManifest: true, relaysManifest: true }))
    await receive(node, holder, handshake())
    expect(relay.sent[relay.sent.length - 1].sendManifest).toBe(true)
    expect(holder.sent.some(h => h.sendManifest)).toBe(false)
    await node.onManifestPart(asSession(relay), partsOf(artifact.manifestBytes)[0])
    await receive(node, asker, handshake(ASK_PARTS))
    expect(asker.manifests).toBe(1)

    // The relay's own source failed it: it says it no longer relays. The copy we relayed ends,
    // and the holder is asked; its copy is taken from the start.
    await receive(node, relay, handshake({ wantManifest: true }))
    expect(asker.sent[asker.sent.length - 1]).toMatchObject({ wantManifest: true, relaysManifest: false })
    expect(relay.sent[relay.sent.length - 1]).toMatchObject({ sendManifest: false })
    expect(holder.sent[holder.sent.length - 1]).toMatchObject({ sendManifest: true, manifestInParts: true })
    for (const p of partsOf(artifact.manifestBytes)) await node.onManifestPart(asSession(holder), p)
    expect(node.handle?.manifestBytes).toEqual(artifact.manifestBytes)
  })

  it('asks another holder when a copy stops half way, or is not the manifest the id names', async () => {
    const { node, sessions: [a, b] } = lacking(2)
    await receive(node, a, handshake())
    await receive(node, b, handshake())
    expect(a.sent[a.sent.length - 1].sendManifest).toBe(true)
    const parts = partsOf(artifact.manifestBytes)
    await node.onManifestPart(asSession(a), parts[0])
    clock.now += 9_000
    node.tick()
    expect(b.sent.some(h => h.sendManifest)).toBe(false)
    clock.now += 1_000
    node.tick()
    expect(b.sent[b.sent.length - 1].sendManifest).toBe(true)

    expect(a.sent[a.sent.length - 1].sendManifest).toBe(false)

    // `b` sends a manifest that does not hash to the artifact id: dropped. `a` holds it (it says
    // so) and is asked again; its copy is taken.
    const bad = artifact.manifestBytes.slice()
    bad[bad.byteLength - 1] ^= 1
    for (const p of partsOf(bad)) await node.onManifestPart(asSession(b), p)
    expect(node.handle).toBeUndefined()
    await receive(node, a, handshake())
    expect(a.sent[a.sent.length - 1].sendManifest).toBe(true)
    for (const p of parts) await node.onManifestPart(asSession(a), p)
    expect(node.handle).toBeDefined()
  })

  it('with no room to store it, does not ask again at once (the copy would come again and again)', async () => {
    const ctx = context()
    ctx.store.create = async () => { throw Object.assign(new Error('no space left on device'), { code: 'ERR_NO_SPACE' }) }
    const node = new Transfer(artifact.id, ctx)
    node.startDownload()
    const [a, b] = PEERS.slice(0, 2).map(p => new FakeSession(p, true))
    for (const s of [a, b]) {
      node.attach(asSession(s))
      node.greet(asSession(s))
    }
    await receive(node, a, handshake())
    await receive(node, b, handshake())
    for (const p of partsOf(artifact.manifestBytes)) await node.onManifestPart(asSession(a), p)
    expect(node.handle).toBeUndefined()
    expect(a.sent.filter(h => h.sendManifest)).toHaveLength(1)
    expect(b.sent.some(h => h.sendManifest)).toBe(false)
  })

  it('ignores parts out of order, of an absurd size, or from a peer it did not ask', async () => {
    const { node, sessions: [a, b, lacker] } = lacking(3)
    await receive(node, lacker, handshake({ wantManifest: true }))
    await receive(node, a, handshake())
    const parts = partsOf(artifact.manifestBytes)
    await node.onManifestPart(asSession(a), { offset: 0, data: new Uint8Array(10), total: 2 ** 31 })
    expect(node.handle).toBeUndefined()
    // A copy from a peer we did not ask is not taken: we do not become a relay with it.
    await node.onManifestPart(asSession(b), parts[0])
    expect(lacker.sent.some(h => h.relaysManifest)).toBe(false)
    await node.onManifestPart(asSession(a), parts[0])
    expect(lacker.sent.some(h => h.relaysManifest)).toBe(true)
    await node.onManifestPart(asSession(b), parts[1]) // not from the copy we take
    await node.onManifestPart(asSession(a), parts[0]) // a repeat
    for (const p of parts.slice(1)) await node.onManifestPart(asSession(a), p)
    expect(node.handle?.manifestBytes).toEqual(artifact.manifestBytes)
  })
})
