/**
 * Churn, with real processes: a third of the swarm is SIGKILLed mid-transfer, then the
 * publisher itself once one node holds a full copy. Every survivor must still end with a
 * byte-identical file, from what the others hold. A node that joins after the publisher is gone
 * must learn of the artifact from the nodes that hold it (they relay its announcement) and get
 * every byte from them.
 *
 * Caps on every process stretch the transfer over ~25–35 s, so "mid-transfer" can be caught;
 * one node may download four times as fast as the others, so it holds a full copy while the
 * others still need most of theirs when the publisher goes.
 */
import {
  KiB, MiB, TestSwarm, publisherPeerId, readStatus, sha256File, until, waitAnnounced, writeRandomFile
} from './helpers.js'

const NODES = 8
const SIZE = 24 * MiB
const CHUNK = 256 * KiB
const CHUNKS = SIZE / CHUNK
/** One node downloads four times as fast as the rest, so it holds a full copy while they are far from it */
const FAST_CAPS = ['--max-download', '4MiB', '--max-upload', '1536KiB']
const SLOW_CAPS = ['--max-download', '1MiB', '--max-upload', '1536KiB']

let swarm: TestSwarm

beforeAll(async () => {
  swarm = await TestSwarm.create('shoal-churn-')
})

afterAll(async () => {
  await swarm?.cleanup()
})

it('survivors of node and publisher crashes complete byte-identical, and a late joiner gets the file from them', async () => {
  const file = swarm.path('churn.bin')
  const digest = await writeRandomFile(file, SIZE)
  const nodes = Array.from({ length: NODES }, (_, i) => swarm.startNode(`node-${i}`, { args: i === 0 ? FAST_CAPS : SLOW_CAPS }))
  await swarm.waitStarted(nodes)
  const survivors = nodes.slice(0, 5)
  const victims = nodes.slice(5)

  // More replicas than nodes: the publisher serves until the test kills it.
  const publisher = swarm.push(file, { replicas: 99, args: ['--max-upload', '3MiB', '--chunk-size', String(CHUNK)] })
  const id = await waitAnnounced(publisher)
  const publisherId = publisherPeerId(publisher)
  expect(publisherId).toBeDefined()

  // Mid-transfer: each victim holds some chunks (which others may be fetching from it), not all.
  await until('the victims to be mid-transfer', async () => {
    const entries = await Promise.all(victims.map(async n => await n.artifact(id)))
    return entries.every(a => a != null && a.have >= 0.15 * CHUNKS) ? true : undefined
  }, 120_000)
  await Promise.all(victims.map(async v => { await v.kill() }))
  const atVictimKill = await Promise.all(victims.map(async n => (await readStatus(n.statusFile))?.artifacts.find(a => a.id === id)))
  expect(atVictimKill.every(a => a?.complete === false)).toBe(true)

  // Once one survivor holds it all, the origin goes too.
  await until('a survivor to hold a full copy', async () => {
    const entries = await Promise.all(survivors.map(async n => await n.artifact(id)))
    return entries.some(a => a?.complete === true) ? true : undefined
  }, 120_000)
  await publisher.kill()
  const atPublisherKill = await Promise.all(survivors.map(async n => await n.artifact(id)))
  // Not a vacuous test: some survivor still had a good part of the file to get without the publisher.
  expect(atPublisherKill.filter(a => a == null || a.have < 0.75 * CHUNKS).length).toBeGreaterThanOrEqual(1)

  for (const node of survivors) {
    const done = await node.waitComplete(id, 120_000)
    expect(await sha256File(done.path as string)).toBe(digest)
    expect(done.invalidBlocks).toBe(0)
  }

  // A late joiner: the publisher is gone, so the announcement can only come from holders.
  const late = swarm.startNode('late-joiner', { args: SLOW_CAPS })
  const done = await late.waitComplete(id, 90_000)
  expect(await sha256File(done.path as string)).toBe(digest)
  expect(done.invalidBlocks).toBe(0)
  expect(done.bytesReceivedFrom[publisherId as string] ?? 0).toBe(0)
  expect(done.bytesReceived).toBeGreaterThanOrEqual(SIZE)
  // The swarm's view of who published it survives the publisher.
  expect(done.publisher).toBe(publisherId)
}, 300_000)
