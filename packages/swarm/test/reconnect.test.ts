/**
 * Discovery reports a peer once. A node whose first dials all failed (a publisher joining a big
 * swarm over a slow link, its dials timing out together) must not stay alone: it redials the
 * peers it knows while it has few connections. Real libp2p nodes on 127.0.0.1; the first dials
 * are made to fail by a connection gater that refuses everything until it is lifted.
 */
import { useTestSwarm, until } from './helpers.js'
import type { ShoalNode } from '../src/index.js'
import type { ConnectionGater } from '@libp2p/interface'

let closed = true

const gater: ConnectionGater = {
  denyDialPeer: async () => closed,
  denyInboundEncryptedConnection: async () => closed,
  denyOutboundEncryptedConnection: async () => closed
}

const ctx = useTestSwarm('shoal-reconnect-', 'reconnect-test')

const connected = (a: ShoalNode, b: ShoalNode): boolean => a.libp2p.getConnections(b.peerId).length > 0

it('a node whose first dials failed connects once its peers can be reached', async () => {
  const a = await ctx.swarm.start('a', { connectionGater: gater })
  const b = await ctx.swarm.start('b', { connectionGater: gater })
  // Both find each other in the rendezvous directory; their dials are refused.
  await until('the nodes to discover each other', async () =>
    (await a.libp2p.peerStore.has(b.peerId)) && (await b.libp2p.peerStore.has(a.peerId)), 20_000)
  await new Promise(resolve => setTimeout(resolve, 2_000))
  expect(connected(a, b)).toBe(false)

  closed = false
  await until('a and b to connect', () => connected(a, b), 30_000)
}, 60_000)
