/**
 * What goes to and from an origin, whose uplink bounds the whole transfer: it sends the
 * manifest to one peer at a time (other holders to two), and only to peers that asked it (a
 * node asks one holder at a time, so no two copies travel to it at once); and the haves it is
 * sent wait to go out together.
 */
import { ORIGIN_HAVE_DELAY_MS, PEER_HAVES_HELD, PEER_HAVE_DELAY_MS, Transfer } from '../src/transfer.js'
import { FakeSession, PEERS, clock, context, handleOf, handshake as handshakeFor, receive, smallArtifact } from './transfer-fakes.js'
import type { ChunkedFile } from '@shoal/content'
import type { Handshake } from '../src/pb/message.js'
import type { Session } from '../src/session.js'

let artifact: ChunkedFile
let cleanup: () => Promise<void>

beforeAll(async () => { ({ artifact, cleanup } = await smallArtifact()) })
afterAll(async () => { await cleanup() })

function handshake (init: Partial<Handshake> = {}): Handshake {
  return handshakeFor(artifact, init)
}

/** A peer that lacks the manifest and asks us for it */
const ASK = { wantManifest: true, sendManifest: true }

describe('manifest copies', () => {
  beforeEach(() => { clock.now = 0 })

  it('an origin sends the manifest to one peer at a time; the others wait their turn', async () => {
    const origin = new Transfer(artifact.id, context(), handleOf(artifact.manifest, artifact.manifestBytes, true))
    origin.superSeed()
    const sessions = PEERS.map(p => new FakeSession(p, false))
    for (const s of sessions) {
      expect(origin.attach(s as unknown as Session)).toBe(true)
      await receive(origin, s, handshake(ASK))
    }
    const [a, b, c, d, e] = sessions
    expect(sessions.map(s => s.manifests)).toEqual([1, 0, 0, 0, 0])
    // Those kept waiting are still answered, without the manifest.
    for (const s of [b, c, d, e]) expect(s.sent).toHaveLength(1)

    // `a` says it stored the manifest: its place goes to the first in line.
    await receive(origin, a, handshake())
    expect(sessions.map(s => s.manifests)).toEqual([1, 1, 0, 0, 0])
    // `e` got it from another peer while it waited: it is not sent one.
    await receive(origin, e, handshake())
    // A have from `b` shows it holds the manifest too.
    origin.onHave(b as unknown as Session, [0])
    expect(sessions.map(s => s.manifests)).toEqual([1, 1, 1, 0, 0])
    expect(origin.stats().manifestsSent).toBe(3)

    // A copy never confirmed frees its place after a while: the next in line gets one.
    clock.now += 10_000
    origin.tick()
    expect(sessions.map(s => s.manifests)).toEqual([1, 1, 1, 1, 0])
    clock.now += 10_000
    origin.tick()
    expect(sessions.map(s => s.manifests)).toEqual([1, 1, 1, 1, 0])
  })

  it('a peer that is not an origin sends it two at a time as well', async () => {
    const holder = new Transfer(artifact.id, context(), handleOf(artifact.manifest, artifact.manifestBytes, true))
    const sessions = PEERS.map(p => new FakeSession(p, false))
    for (const s of sessions) {
      holder.attach(s as unknown as Session)
      await receive(holder, s, handshake(ASK))
    }
    expect(sessions.map(s => s.manifests)).toEqual([1, 1, 0, 0, 0])
    await receive(holder, sessions[1], handshake())
    expect(sessions.map(s => s.manifests)).toEqual([1, 1, 1, 0, 0])
    holder.onClose(sessions[0] as unknown as Session) // a copy whose receiver left frees its place too
    expect(sessions.map(s => s.manifests)).toEqual([1, 1, 1, 1, 0])
  })

  it('a node that gets the manifest while several peers wait for it sends it to two, then the next', async () => {
    const node = new Transfer(artifact.id, context())
    node.startDownload()
    const [giver, ...askers] = PEERS.slice(0, 4).map(p => new FakeSession(p, true))
    for (const s of [giver, ...askers]) {
      node.attach(s as unknown as Session)
      node.greet(s as unknown as Session)
    }
    for (const s of askers) await receive(node, s, handshake(ASK))
    await receive(node, giver, handshake({ manifest: artifact.manifestBytes as Uint8Array<ArrayBuffer> }))
    expect(askers.map(s => s.manifests)).toEqual([1, 1, 0])
    // The third still hears that we have it, and gets its copy once a place is free.
    expect(askers[2].sent[askers[2].sent.length - 1].wantManifest).toBe(false)
    await receive(node, askers[0], handshake())
    expect(askers.map(s => s.manifests)).toEqual([1, 1, 1])
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
    // `asked` has not answered yet; `asker` lacks the manifest too, and asks us for it.
    await receive(node, asker, handshake(ASK))
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

  it('a node does not send the manifest back to the peer it got it from, though that peer asked for it before', async () => {
    const node = new Transfer(artifact.id, context())
    node.startDownload()
    const [giver, other] = PEERS.slice(0, 2).map(p => new FakeSession(p, false))
    for (const s of [giver, other]) {
      node.attach(s as unknown as Session)
      await receive(node, s, handshake(ASK)) // neither had it when we met
    }
    // The giver got it elsewhere and passes it on: it is out of our line, the other gets a copy.
    await receive(node, giver, handshake({ manifest: artifact.manifestBytes as Uint8Array<ArrayBuffer> }))
    expect(giver.manifests).toBe(0)
    expect(other.manifests).toBe(1)
  })

  it('a holder sends the manifest only to peers that ask it, and forgets an ask withdrawn while it waits', async () => {
    const holder = new Transfer(artifact.id, context(), handleOf(artifact.manifest, artifact.manifestBytes, true))
    const sessions = PEERS.slice(0, 4).map(p => new FakeSession(p, false))
    for (const s of sessions) holder.attach(s as unknown as Session)
    const [a, b, c, lacker] = sessions
    for (const s of [a, b, c]) await receive(holder, s, handshake(ASK))
    // `c` waits its turn, and hears so: our answer without the manifest.
    expect(c.sent.map(h => [h.wantManifest, h.manifest.byteLength])).toEqual([[false, 0]])
    // It lacks the manifest but asks someone else: it hears we hold it, nothing more.
    await receive(holder, lacker, handshake({ wantManifest: true }))
    expect(lacker.manifests).toBe(0)
    expect(lacker.sent.map(h => h.wantManifest)).toEqual([false])
    // `c` waits in line and takes its ask back (it asked a newer holder): it is not sent one.
    await receive(holder, c, handshake({ wantManifest: true }))
    await receive(holder, a, handshake())
    expect(sessions.map(s => s.manifests)).toEqual([1, 1, 0, 0])
    // A copy on its way is not taken back: `b`'s place frees once it says it stored it.
    await receive(holder, b, handshake({ wantManifest: true }))
    expect(holder.stats().manifestsSent).toBe(2)
  })
})

describe('asking for the manifest', () => {
  beforeEach(() => { clock.now = 0 })

  /** A downloading node without the manifest, with sessions it dialled (greeted) to `peers` */
  function lacking (count: number): { node: Transfer, sessions: FakeSession[] } {
    const node = new Transfer(artifact.id, context())
    node.startDownload()
    const sessions = PEERS.slice(0, count).map(p => new FakeSession(p, true))
    for (const s of sessions) {
      node.attach(s as unknown as Session)
      node.greet(s as unknown as Session)
    }
    return { node, sessions }
  }

  /** The handshakes the node sent `s` that ask it for the manifest */
  const asks = (s: FakeSession): number => s.sent.filter(h => h.sendManifest).length

  it('asks one holder at a time: the one it heard of last, an origin only while no other holds it', async () => {
    const { node, sessions: [origin, a, b, lacker] } = lacking(4)
    for (const s of [origin, a, b, lacker]) expect(s.sent[0]).toMatchObject({ wantManifest: true, sendManifest: false })
    await receive(node, lacker, handshake({ wantManifest: true }))
    expect([origin, a, b, lacker].map(asks)).toEqual([0, 0, 0, 0])
    await receive(node, origin, handshake({ superSeeding: true }))
    expect([origin, a, b].map(asks)).toEqual([1, 0, 0])
    // The origin answers that we wait in its line; `a` holds it too: the ask moves there, and
    // the origin hears it is withdrawn.
    await receive(node, origin, handshake({ superSeeding: true }))
    expect([origin, a, b].map(asks)).toEqual([1, 0, 0])
    await receive(node, a, handshake())
    expect([origin, a, b].map(asks)).toEqual([1, 1, 0])
    expect(origin.sent[origin.sent.length - 1]).toMatchObject({ wantManifest: true, sendManifest: false })
    // `a` says we wait; `lacker` gets the manifest later and says so: it is newer still.
    await receive(node, a, handshake())
    await receive(node, lacker, handshake())
    expect([origin, a, b, lacker].map(asks)).toEqual([1, 1, 0, 1])
    expect(a.sent[a.sent.length - 1].sendManifest).toBe(false)
    // Once the manifest comes, every peer asked hears that we have it.
    await receive(node, lacker, handshake({ manifest: artifact.manifestBytes as Uint8Array<ArrayBuffer> }))
    for (const s of [origin, a]) expect(s.sent[s.sent.length - 1]).toMatchObject({ wantManifest: false, sendManifest: false })
    await receive(node, b, handshake())
    expect(asks(b)).toBe(0)
  })

  it('keeps the chunks an origin revealed before the manifest it was asked for came', async () => {
    const { node, sessions: [origin] } = lacking(1)
    await receive(node, origin, handshake({ superSeeding: true }))
    expect(asks(origin)).toBe(1)
    node.onHave(origin as unknown as Session, [3])
    await receive(node, origin, handshake({ superSeeding: true })) // we wait in its line
    // The copy comes in an update whose bitfield (an origin's) is empty.
    await receive(node, origin, handshake({ superSeeding: true, manifest: artifact.manifestBytes as Uint8Array<ArrayBuffer> }))
    expect(origin.requests.flat()).toEqual([3])
    expect(node.scheduler?.peerHas(origin.peer, 3)).toBe(true)
  })

  it('waits for a copy on its way (a holder that does not say we wait in line), even when a newer holder appears', async () => {
    const { node, sessions: [a, b] } = lacking(2)
    await receive(node, a, handshake())
    expect(asks(a)).toBe(1)
    await receive(node, b, handshake())
    expect([a, b].map(asks)).toEqual([1, 0])
  })

  it('asks the next holder when the one asked never begins to send, or leaves', async () => {
    const { node, sessions: [a, b, c] } = lacking(3)
    await receive(node, a, handshake())
    await receive(node, b, handshake())
    await receive(node, c, handshake())
    expect([a, b, c].map(asks)).toEqual([1, 0, 0])
    // `a` leaves with its copy half sent: the newest holder is asked.
    node.onClose(a as unknown as Session)
    expect([b, c].map(asks)).toEqual([0, 1])
    // `c` sends nothing: after a while `b` is asked instead.
    node.onBytes(c as unknown as Session, 1000) // a peer list, say: not a copy under way
    clock.now += 9_000
    node.tick()
    expect([b, c].map(asks)).toEqual([0, 1])
    clock.now += 1_000
    node.tick()
    expect([b, c].map(asks)).toEqual([1, 1])
    expect(c.sent[c.sent.length - 1].sendManifest).toBe(false)
    // `b` says we wait in its line: the ask stays, not back to `c`, which never sent.
    await receive(node, b, handshake())
    expect([b, c].map(asks)).toEqual([1, 1])
  })
})

describe('haves', () => {
  // More chunks than haves held back, so a peer can come to know of enough to ask us for
  let big: ChunkedFile
  let cleanupBig: () => Promise<void>
  beforeAll(async () => { ({ artifact: big, cleanup: cleanupBig } = await smallArtifact(1024 * (PEER_HAVES_HELD + 4))) })
  afterAll(async () => { await cleanupBig() })

  /** A downloading node with the manifest, a session with an origin and one with a peer that holds nothing */
  async function nodeWithPeers (): Promise<{ node: Transfer, origin: FakeSession, peer: FakeSession }> {
    const node = new Transfer(big.id, context())
    node.startDownload()
    const [origin, peer] = PEERS.slice(0, 2).map(p => new FakeSession(p, true))
    for (const s of [origin, peer]) {
      node.attach(s as unknown as Session)
      node.greet(s as unknown as Session)
    }
    await receive(node, origin, handshakeFor(big, { superSeeding: true, manifest: big.manifestBytes as Uint8Array<ArrayBuffer> }))
    await receive(node, peer, handshakeFor(big))
    return { node, origin, peer }
  }

  /** We verified chunk `index`: the scheduler holds it and the news goes out */
  function verified (node: Transfer, index: number): void {
    node.scheduler?.onBlock(PEERS[0], index, true, clock.now)
    ;(node as any).broadcastHave([index])
  }

  it('to an origin wait a few seconds to go out together', async () => {
    const { node, origin } = await nodeWithPeers()
    for (let i = 0; i < 3; i++) verified(node, i)
    expect(origin.laterHaves).toEqual([0, 1, 2].map(i => ({ indices: [i], delayMs: ORIGIN_HAVE_DELAY_MS, maxHeld: undefined })))
    expect(origin.haves).toEqual([])
  })

  it('to a peer go at once while it knows of few chunks it could ask us for; then they wait for others', async () => {
    const { node, peer } = await nodeWithPeers()
    for (let i = 0; i <= PEER_HAVES_HELD; i++) verified(node, i)
    // Each of our first PEER_HAVES_HELD chunks goes at once (the peer knew of fewer it could ask
    // us for); the next may wait, until PEER_HAVES_HELD are held or the delay is up.
    expect(peer.laterHaves.map(h => h.maxHeld)).toEqual([...Array(PEER_HAVES_HELD).fill(1), PEER_HAVES_HELD])
    expect(peer.laterHaves.every(h => h.delayMs === PEER_HAVE_DELAY_MS)).toBe(true)
    expect(peer.haves).toEqual([])
  })

  it('to a peer go at once again when it got what we told it of elsewhere', async () => {
    const { node, peer } = await nodeWithPeers()
    for (let i = 0; i < PEER_HAVES_HELD; i++) verified(node, i)
    for (const i of [0, 1]) node.onHave(peer as unknown as Session, [i])
    verified(node, PEER_HAVES_HELD)
    expect(peer.laterHaves[PEER_HAVES_HELD]).toMatchObject({ indices: [PEER_HAVES_HELD], maxHeld: 1 })
  })
})
