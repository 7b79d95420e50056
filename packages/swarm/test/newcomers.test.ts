/**
 * Gossip does not replay old messages, so a publisher announces again when a peer joins the
 * announce topic. But every re-announcement travels to the whole swarm, and most peers that
 * "join" are known peers on a new connection: those must not set one off, while a real newcomer
 * must still hear of the artifact at once (not at the next periodic round). Real libp2p nodes on
 * 127.0.0.1.
 */
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { SETTLED_SUBSCRIBER_MS } from '@shoal/discovery'
import { useTestSwarm, completeOn, until } from './helpers.js'
import type { ShoalNode } from '../src/index.js'

const ctx = useTestSwarm('shoal-newcomers-', 'newcomers-test')

/** Long enough that no periodic re-announcement falls inside the test */
const QUIET = { announceIntervalMs: 600_000 }

const subscribedAt = (node: ShoalNode, peer: ShoalNode): boolean =>
  node.libp2p.services.pubsub.getSubscribers(node.discovery.announceTopic).some(p => p.equals(peer.peerId))

it('a known peer reconnecting sets off no re-announcement; a newcomer does, and hears at once', async () => {
  const file = join(ctx.swarm.dir, 'payload.bin')
  await writeFile(file, randomBytes(256 * 1024))

  const publisher = await ctx.swarm.start('publisher', { ...QUIET, fetchAnnounced: false })
  const a = await ctx.swarm.start('a', QUIET)
  await until('a and the publisher to join each other\'s topics', () => subscribedAt(publisher, a) && subscribedAt(a, publisher), 30_000)
  // Long enough in the topic to be in the mesh, as in a swarm that has been up a while.
  await new Promise(resolve => setTimeout(resolve, SETTLED_SUBSCRIBER_MS))

  const { id } = await publisher.publish(file, { chunkSize: 64 * 1024 })
  const key = id.toString()
  await until('a to complete', () => completeOn(a, key), 60_000)

  let heardByA = 0
  a.addEventListener('announcement', (evt) => { if (evt.detail.id === key) heardByA++ })

  // A known peer on a new connection: gossipsub reports it as joining the topic again.
  await a.libp2p.hangUp(publisher.peerId)
  await until('a to disconnect', () => !subscribedAt(publisher, a), 10_000)
  await a.libp2p.dial(publisher.libp2p.getMultiaddrs()[0])
  await until('a to rejoin the publisher\'s topic', () => subscribedAt(publisher, a), 30_000)
  // The publisher gathers joiners for 1 s before it decides; give it that and some more.
  await new Promise(resolve => setTimeout(resolve, 3_000))
  expect(heardByA).toBe(0)

  // A real newcomer: it has heard nothing, so the publisher announces again, and it fetches.
  const newcomer = await ctx.swarm.start('newcomer', QUIET)
  await until('the newcomer to complete', () => completeOn(newcomer, key), 60_000)
  expect(heardByA).toBeGreaterThan(0)
}, 120_000)
