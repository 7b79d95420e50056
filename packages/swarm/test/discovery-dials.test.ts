/**
 * A node dials the peers discovery finds only up to `discoveryDialTarget` connections, not
 * everyone: a full mesh of a big swarm costs every node a handshake, an identify and DHT table
 * churn per peer. Real libp2p nodes on 127.0.0.1 meeting in a rendezvous directory.
 */
import { until, useTestSwarm } from './helpers.js'
import type { ShoalNode } from '../src/index.js'

const ctx = useTestSwarm('shoal-discovery-dials-', 'discovery-dials-test')

const outbound = (n: ShoalNode): number => n.libp2p.getConnections().filter(c => c.direction === 'outbound').length

it('dials only discoveryDialTarget of the peers it finds, and is reached by the rest', async () => {
  const others: ShoalNode[] = []
  for (let i = 0; i < 6; i++) others.push(await ctx.swarm.start(`n${i}`))
  const late = await ctx.swarm.start('late', { discoveryDialTarget: 3 })
  // It finds all six in the directory at once (its first scan, before they scan again)...
  await until('the late node to discover the others', async () =>
    (await Promise.all(others.map(async o => await late.libp2p.peerStore.has(o.peerId)))).every(Boolean), 20_000)
  // ...and dials three of them; the others, below their own target, dial it.
  await until('every node to connect to the late one', () => others.every(o => o.libp2p.getConnections(late.peerId).length > 0), 30_000)
  expect(outbound(late)).toBeLessThanOrEqual(3)
  expect(outbound(late)).toBeGreaterThan(0)
}, 60_000)
