/**
 * A downloading node beacons only its complete copy: every node receives every beacon, from
 * several mesh peers, and progress beacons at the start of a big swarm's download held a
 * quarter of its CPU. Partial holders are found by peer exchange instead. Real libp2p nodes on
 * 127.0.0.1.
 */
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { useTestSwarm, completeOn, until } from './helpers.js'
import type { HolderBeacon } from '@shoal/discovery'

const ctx = useTestSwarm('shoal-beacons-', 'beacons-test')

it('a downloader beacons its complete copy, not its progress', async () => {
  const file = join(ctx.swarm.dir, 'payload.bin')
  await writeFile(file, randomBytes(512 * 1024))

  const publisher = await ctx.swarm.start('publisher', { fetchAnnounced: false })
  const downloader = await ctx.swarm.start('downloader')
  const beacons: HolderBeacon[] = []
  const original = downloader.discovery.beacon.bind(downloader.discovery)
  downloader.discovery.beacon = async (b) => {
    beacons.push(b)
    await original(b)
  }
  let progressEvents = 0
  downloader.addEventListener('progress', () => { progressEvents++ })

  // 32 chunks: a progress event for each, so a node that beaconed progress would have here.
  const { id } = await publisher.publish(file, { chunkSize: 16 * 1024 })
  const key = id.toString()
  await until('the downloader to complete', () => completeOn(downloader, key), 60_000)
  await until('its complete beacon', () => beacons.some(b => b.id === key), 10_000)

  expect(progressEvents).toBeGreaterThan(1)
  const mine = beacons.filter(b => b.id === key)
  expect(mine.every(b => b.complete && b.have === b.total && b.total === 32)).toBe(true)
  // The publisher hears it: replica counts (`publisher push --replicas`) wait on these.
  await until('the publisher to count the replica', () => publisher.replicasOf(key).includes(downloader.peerId.toString()), 30_000)
}, 120_000)
