/**
 * A swarm split in two mid-transfer finishes once the split heals, with no restarts: real
 * libp2p nodes on 127.0.0.1, split by a connection gater (what a firewall or a cut link does to
 * them: existing connections drop, new ones are refused) and then healed by lifting it.
 */
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { useTestSwarm, completeOn, haveOf, sha256, sha256File, until } from './helpers.js'
import type { ShoalNode, ShoalNodeInit } from '../src/index.js'
import type { ConnectionGater, PeerId } from '@libp2p/interface'

const CHUNK = 256 * 1024
const SIZE = 24 * CHUNK

const ctx = useTestSwarm('shoal-partition-', 'partition-test')

/** Which side of the split each peer is on; crossing is refused while `split` is set */
const side = new Map<string, 'a' | 'b'>()
let split = false

function gaterFor (self: () => ShoalNode | undefined): ConnectionGater {
  const crosses = (peer: PeerId): boolean => split && side.get(peer.toString()) !== side.get(self()?.peerId.toString() ?? '')
  return {
    denyDialPeer: async (peer) => crosses(peer),
    denyInboundEncryptedConnection: async (peer) => crosses(peer),
    denyOutboundEncryptedConnection: async (peer) => crosses(peer)
  }
}

async function startNode (name: string, group: 'a' | 'b', init: ShoalNodeInit = {}): Promise<ShoalNode> {
  const node = await ctx.swarm.start(name, self => ({ connectionGater: gaterFor(self), ...init }))
  side.set(node.peerId.toString(), group)
  return node
}

it('a swarm split in two mid-transfer completes once healed, without restarts', async () => {
  const data = randomBytes(SIZE)
  const file = join(ctx.swarm.dir, 'payload.bin')
  await writeFile(file, data)
  const digest = sha256(data)

  // The publisher is slow (one copy takes it at least 12 s) so the split lands mid-transfer.
  const publisher = await startNode('publisher', 'a', { fetchAnnounced: false, exchange: { maxUploadBytesPerSecond: 512 * 1024 } })
  const a = [await startNode('a1', 'a'), await startNode('a2', 'a')]
  const b = [await startNode('b1', 'b'), await startNode('b2', 'b')]
  await until('every node to see the others', () => ctx.swarm.nodes.every(n => n.libp2p.getPeers().length >= 2), 30_000)

  const { id } = await publisher.publish(file, { chunkSize: CHUNK })
  const key = id.toString()
  await until('side b to hold some chunks', () => b.every(n => haveOf(n, key) >= 1), 60_000)

  // Split: refuse crossing connections and drop the ones open now.
  split = true
  for (const n of ctx.swarm.nodes) {
    for (const peer of n.libp2p.getPeers()) {
      if (side.get(peer.toString()) !== side.get(n.peerId.toString())) await n.libp2p.hangUp(peer).catch(() => {})
    }
  }
  const frozen = b.map(n => haveOf(n, key))
  await until('side a (with the publisher) to complete', () => a.every(n => completeOn(n, key)), 90_000)
  // Side b had only what it got before the split; the two of them cannot have made the rest.
  expect(b.some(n => !completeOn(n, key))).toBe(true)
  for (const n of ctx.swarm.nodes) {
    for (const peer of n.libp2p.getPeers()) expect(side.get(peer.toString())).toBe(side.get(n.peerId.toString()))
  }
  expect(b.map(n => haveOf(n, key)).every((h, i) => h >= frozen[i])).toBe(true)

  // Heal: nothing is restarted; the nodes redial on their own.
  split = false
  await until('side b to complete after the heal', () => b.every(n => completeOn(n, key)), 90_000)
  for (const n of [...a, ...b]) {
    const path = n.stats().find(s => s.id === key)?.path
    expect(path).toBeDefined()
    expect(await sha256File(path as string)).toBe(digest)
    expect(n.stats().find(s => s.id === key)?.invalidBlocks).toBe(0)
  }
}, 240_000)
