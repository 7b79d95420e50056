/**
 * Crashes and damaged disks, with real processes: a node SIGKILLed mid-download resumes from
 * what it verified on disk instead of starting over; a node whose partial file was corrupted
 * while it was down finds out at start, repairs it and never serves the bad bytes; a complete
 * file damaged in the output dir while the node was stopped is fetched again.
 *
 * The publisher's upload is capped so that "mid-download" is a moment a poll can catch.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import {
  KiB, MiB, TestSwarm, chunkLength, flipBytes, offsetInEveryChunk, reEscape, sha256File, sha256IfExists,
  until, waitAnnounced, waitForLog, waitResumed, writeRandomFile
} from './helpers.js'
import type { ArtifactStatus, NodeProc } from './helpers.js'

const CHUNK = 256 * KiB
/** Not a whole number of chunks: the last chunk is short */
const SIZE = 12 * MiB + 100 * KiB
const CHUNKS = Math.ceil(SIZE / CHUNK)
/** ~6 s for the whole file from the publisher alone */
const PUBLISHER_CAP = ['--max-upload', '2MiB', '--chunk-size', String(CHUNK)]

let swarm: TestSwarm

beforeEach(async () => {
  swarm = await TestSwarm.create('shoal-crash-')
})

afterEach(async () => {
  await swarm?.cleanup()
})

/** Wait until `node` holds between 30 % and 70 % of the chunks of `id`, then SIGKILL it */
async function killMidDownload (node: NodeProc, id: string): Promise<ArtifactStatus> {
  const at = await node.waitArtifact(id, '30 % of the chunks', a => a.have >= 0.3 * CHUNKS, 90_000)
  await node.kill()
  if (at.complete || at.have > 0.7 * CHUNKS) throw new Error(`${node.name} was too far (${at.have}/${CHUNKS}) when caught: not mid-download`)
  return at
}

/** Bytes held when `have` chunks are held, at least (the short last chunk may be one of them) */
function minHeldBytes (have: number): number {
  if (have === 0) return 0
  if (have >= CHUNKS) return SIZE
  return (have - 1) * CHUNK + Math.min(CHUNK, chunkLength(SIZE, CHUNK, CHUNKS - 1))
}

it('a node SIGKILLed mid-download resumes on restart and fetches only what it was missing', async () => {
  const file = swarm.path('resume.bin')
  const digest = await writeRandomFile(file, SIZE)
  const a = swarm.startNode('node-a')
  const b = swarm.startNode('node-b')
  await swarm.waitStarted([a, b])

  const publisher = swarm.push(file, { replicas: 2, args: PUBLISHER_CAP })
  const id = await waitAnnounced(publisher)
  const atKill = await killMidDownload(a, id)

  const a2 = swarm.startNode('node-a again', { dataDir: a.dataDir })
  const resumed = await waitResumed(a2, 'resume.bin', 30_000)
  expect(resumed.chunks).toBe(CHUNKS)
  // Every chunk reported held before the crash was verified and persisted before it was reported.
  expect(resumed.have).toBeGreaterThanOrEqual(atKill.have)
  expect(resumed.have).toBeLessThan(CHUNKS)

  const done = await a2.waitComplete(id, 120_000)
  expect(await sha256File(done.path as string)).toBe(digest)
  expect(done.invalidBlocks).toBe(0)

  // The restarted process's counters start at zero: all it received, it received after the
  // restart. It needed the missing bytes, plus at most one chunk in flight per peer (the
  // publisher and node b) that arrived after another peer's copy.
  const missing = SIZE - minHeldBytes(resumed.have)
  const peers = 2
  const received = done.bytesReceived + done.duplicateBytes
  expect(received).toBeGreaterThanOrEqual(SIZE - (resumed.have * CHUNK))
  expect(received).toBeLessThanOrEqual(missing + peers * CHUNK)

  expect(await publisher.exit).toBe(0)
  const bDone = await b.waitComplete(id, 30_000)
  expect(await sha256File(bDone.path as string)).toBe(digest)
  expect(bDone.invalidBlocks).toBe(0)
}, 240_000)

it('a partial file corrupted while the node was down is repaired at start and its bad bytes are never served', async () => {
  const file = swarm.path('flipped.bin')
  const digest = await writeRandomFile(file, SIZE)
  const a = swarm.startNode('node-a')
  await swarm.waitStarted([a])

  const publisher = swarm.push(file, { replicas: 2, args: PUBLISHER_CAP })
  const id = await waitAnnounced(publisher)
  const atKill = await killMidDownload(a, id)
  expect(atKill.have).toBeGreaterThan(0)

  // One byte flipped in every chunk region of the .part file, held chunks among them.
  const part = join(a.dataDir, 'store', 'partial', `${id}.part`)
  expect(existsSync(part)).toBe(true)
  await flipBytes(part, offsetInEveryChunk(SIZE, CHUNK))

  const a2 = swarm.startNode('node-a again', { dataDir: a.dataDir })
  const repair = await waitForLog(a2, /repaired .*corrupt/i, 30_000)
  expect(repair).toMatch(/repaired flipped\.bin: .+ \(.+\)/)
  // Nothing held survived the flips, and the node says so.
  const resumed = await waitResumed(a2, 'flipped.bin', 30_000)
  expect(resumed.have).toBe(0)

  // A second node fetches alongside the repaired one, and from it: the super-seeding publisher
  // shows each chunk to one peer at a time, so the two must trade.
  const b = swarm.startNode('node-b')
  const aId = await a2.peerId()
  const bDone = await b.waitComplete(id, 120_000)
  const aDone = await a2.waitComplete(id, 120_000)
  expect(await sha256File(aDone.path as string)).toBe(digest)
  expect(await sha256File(bDone.path as string)).toBe(digest)
  expect(bDone.invalidBlocks).toBe(0)
  expect(aDone.invalidBlocks).toBe(0)
  expect(bDone.bytesReceivedFrom[aId] ?? 0).toBeGreaterThan(0)
  expect(await publisher.exit).toBe(0)
}, 240_000)

it('a complete file damaged in the output dir while the node was stopped is fetched again', async () => {
  const size = 4 * MiB + 3 * KiB
  const file = swarm.path('damaged.bin')
  const digest = await writeRandomFile(file, size)
  const a = swarm.startNode('node-a')
  await swarm.waitStarted([a])

  // Kept serving (more replicas than there are nodes) until the test kills it.
  const publisher = swarm.push(file, { replicas: 99, args: ['--chunk-size', String(CHUNK)] })
  const id = await waitAnnounced(publisher)
  const first = await a.waitComplete(id, 60_000)
  const output = first.path as string
  expect(await sha256File(output)).toBe(digest)

  a.signal('SIGTERM')
  expect(await a.exit).toBe(0)
  await flipBytes(output, [Math.floor(size / 3)])
  expect(await sha256File(output)).not.toBe(digest)

  const a2 = swarm.startNode('node-a again', { dataDir: a.dataDir })
  const repair = await waitForLog(a2, new RegExp(`repaired ${reEscape('damaged.bin')}: `, 'i'), 30_000)
  expect(repair).toMatch(/repaired damaged\.bin: .+ \(.+\)/i)

  const again = await a2.waitComplete(id, 60_000)
  expect(again.path).toBe(output)
  await until('the output file to be whole again', async () => (await sha256IfExists(output)) === digest ? true : undefined, 30_000)
  // It came over the network again, in this process's lifetime.
  expect(again.bytesReceived).toBeGreaterThan(0)
  expect(again.invalidBlocks).toBe(0)
  expect(publisher.done).toBe(false)
  await publisher.kill()
}, 180_000)
