import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { Discovery, discoveryServices } from '../src/index.js'
import type { Announcement, DiscoveryServices, HolderBeacon } from '../src/index.js'
import type { Identify } from '@libp2p/identify'
import type { Libp2p, PeerId } from '@libp2p/interface'

// Real nodes over real TCP on loopback: A - B - C - D, in a line, so gossip
// must be forwarded; D refuses B, so it can learn of B only through the DHT.

type Node = Libp2p<DiscoveryServices & { identify: Identify }>

// generous: the test machine may be a loaded 2-core box
const TIMEOUT = 45_000

/** Create a node that refuses connections to and from the peers in `refuse` (filled in later). */
async function createNode (refuse: Set<string> = new Set()): Promise<Node> {
  const refused = (peer: PeerId): boolean => refuse.has(peer.toString())
  return await createLibp2p({
    connectionGater: { denyDialPeer: refused, denyInboundEncryptedConnection: refused, denyOutboundEncryptedConnection: refused },
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // the default (5 per host per second) resets a loopback swarm
    connectionManager: { inboundConnectionThreshold: 1000 },
    services: { ...discoveryServices(), identify: identify() }
  })
}

/** Poll `check` until it holds or `timeoutMs` passes (no fixed sleeps: the machine may be loaded). */
async function waitFor (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

function has (peers: Array<PeerId | string>, peer: PeerId): boolean {
  return peers.some(p => p.toString() === peer.toString())
}

// getMeshPeers exists on the gossipsub class but not on its public interface
function meshPeers (node: Node, topic: string): string[] {
  return (node.services.pubsub as unknown as { getMeshPeers(topic: string): string[] }).getMeshPeers(topic)
}

const nodes: Node[] = []
const discoveries: Discovery[] = []
const links: Array<[number, number]> = [[0, 1], [1, 2], [2, 3]]

beforeAll(async () => {
  // kad-dht's own queries would otherwise connect D to B in the background
  const refuseOnD = new Set<string>()
  for (let i = 0; i < 3; i++) nodes.push(await createNode())
  nodes.push(await createNode(refuseOnD))
  refuseOnD.add(nodes[1].peerId.toString())
  for (const node of nodes) {
    const d = new Discovery(node, { swarm: 'test', beaconIntervalMs: 0 })
    await d.start()
    discoveries.push(d)
  }
  for (const [from, to] of links) {
    await nodes[from].dial(nodes[to].getMultiaddrs()[0])
  }
}, TIMEOUT)

afterAll(async () => {
  await Promise.all(discoveries.map(async d => { await d.stop() }))
  await Promise.all(nodes.map(async n => { await n.stop() }))
}, TIMEOUT)

describe('gossip', () => {
  beforeAll(async () => {
    // A message is forwarded only along mesh links, which gossipsub builds on
    // its heartbeat (1 s) once both ends have seen each other's subscriptions.
    for (const [x, y] of links) {
      for (const [self, other] of [[x, y], [y, x]]) {
        const topics = [discoveries[self].announceTopic, discoveries[self].beaconTopic]
        await waitFor(`mesh ${self}->${other}`, () => topics.every(t =>
          has(nodes[self].services.pubsub.getSubscribers(t), nodes[other].peerId) &&
          has(meshPeers(nodes[self], t), nodes[other].peerId)))
      }
    }
  }, TIMEOUT)

  it('delivers an announcement to every other node and ignores malformed messages', async () => {
    const received: Announcement[][] = discoveries.map(() => [])
    discoveries.forEach((d, i) => d.addEventListener('announcement', evt => { received[i].push(evt.detail) }))

    const [a, b] = nodes
    const topic = discoveries[0].announceTopic
    // watch B's verdicts: garbage must stop at the first hop
    const verdicts: string[] = []
    const validate = b.services.pubsub.topicValidators.get(topic)
    if (validate == null) throw new Error('Discovery.start() did not install a topic validator')
    b.services.pubsub.topicValidators.set(topic, async (from, msg) => {
      const verdict = await validate(from, msg)
      verdicts.push(verdict)
      return verdict
    })
    // garbage first: raw bytes, CBOR of the wrong shape, and an oversized blob
    await a.services.pubsub.publish(topic, new Uint8Array([0xde, 0xad, 0xbe, 0xef]))
    await a.services.pubsub.publish(topic, new TextEncoder().encode('{"id":1}'))
    await a.services.pubsub.publish(topic, new Uint8Array(70 * 1024).fill(0xa1))

    const id = CID.createV1(0x71, await sha256.digest(new TextEncoder().encode('gossip'))).toString()
    const announcement: Announcement = {
      id, name: 'model.bin', size: 1234, publisher: a.peerId.toString(), addrs: a.getMultiaddrs().map(String), at: Date.now()
    }
    expect(await discoveries[0].announce(announcement)).toBeGreaterThan(0)

    await waitFor('announcement on B, C, D', () => received.slice(1).every(r => r.length > 0))
    // give stray garbage a moment to (not) arrive behind the good message
    await new Promise(resolve => setTimeout(resolve, 300))
    expect(received[0]).toEqual([]) // emitSelf is off
    expect(verdicts).toEqual(['reject', 'reject', 'reject', 'accept'])
    b.services.pubsub.topicValidators.set(topic, validate)
    for (const r of received.slice(1)) expect(r).toEqual([announcement])
    // Who has heard of it, for re-announcing to newcomers only: A sent it to B; B heard it from
    // A; A never met D, so it cannot tell.
    expect(discoveries[0].hasHeardOf(id, nodes[1].peerId)).toBe(true)
    expect(discoveries[1].hasHeardOf(id, nodes[0].peerId)).toBe(true)
    expect(discoveries[0].hasHeardOf(id, nodes[3].peerId)).toBe(false)
  }, TIMEOUT)

  it('delivers beacons and drops beacons that speak for another peer', async () => {
    const received: HolderBeacon[][] = discoveries.map(() => [])
    discoveries.forEach((d, i) => d.addEventListener('beacon', evt => { received[i].push(evt.detail) }))

    const c = nodes[2]
    const id = CID.createV1(0x71, await sha256.digest(new TextEncoder().encode('beacon'))).toString()
    const beacon: HolderBeacon = { id, peer: c.peerId.toString(), addrs: c.getMultiaddrs().map(String), have: 5, total: 8, complete: false, at: Date.now() }

    await discoveries[2].beacon({ ...beacon, peer: nodes[0].peerId.toString() }) // spoofed
    await discoveries[2].beacon(beacon)

    await waitFor('beacon on A, B, D', () => [0, 1, 3].every(i => received[i].length > 0))
    await new Promise(resolve => setTimeout(resolve, 300))
    for (const i of [0, 1, 3]) expect(received[i]).toEqual([beacon])
    expect(received[2]).toEqual([])
    // A holder's beacon says it has heard of the artifact; the spoofed one says nothing of A.
    expect(discoveries[3].hasHeardOf(id, c.peerId)).toBe(true)
    expect(discoveries[3].hasHeardOf(id, nodes[0].peerId)).toBe(false)
  }, TIMEOUT)

  it('does not throw when announcing to a topic nobody joined', async () => {
    const lonely = new Discovery(nodes[0], { swarm: 'nobody-here' })
    const announcement: Announcement = {
      id: CID.createV1(0x71, await sha256.digest(new Uint8Array([1]))).toString(),
      name: 'x', size: 1, publisher: nodes[0].peerId.toString(), addrs: [], at: Date.now()
    }
    await expect(lonely.announce(announcement)).resolves.toBe(0)
  })
})

describe('dht', () => {
  it('finds a provider the searching node is not connected to', async () => {
    const [, b, , d] = nodes
    const root = CID.createV1(0x71, await sha256.digest(new TextEncoder().encode('an artifact root')))

    expect(d.getConnections(b.peerId).length).toBe(0)
    expect(await discoveries[1].provide(root)).toBe(true)

    const holders = []
    for await (const holder of discoveries[3].findHolders(root, { signal: AbortSignal.timeout(20_000) })) {
      holders.push(holder)
    }
    expect(holders.map(h => h.id.toString())).toEqual([b.peerId.toString()])
    expect(holders[0].multiaddrs.length).toBeGreaterThan(0)
  }, TIMEOUT)

  it('does not list itself as a holder', async () => {
    const root = CID.createV1(0x71, await sha256.digest(new TextEncoder().encode('mine')))
    expect(await discoveries[1].provide(root)).toBe(true)
    const holders = []
    for await (const holder of discoveries[1].findHolders(root, { limit: 5 })) holders.push(holder)
    expect(holders.map(h => h.id.toString())).not.toContain(nodes[1].peerId.toString())
  }, TIMEOUT)
})
