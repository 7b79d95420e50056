/**
 * The publisher across runs, with real processes: pushing an unchanged file again from the same
 * data dir names the same artifact (and says it reused the earlier push), and a publisher
 * SIGKILLed mid-push, started again with the same command, picks up where it was: the node that
 * was downloading completes byte-identical and both runs name the same artifact.
 */
import { utimes } from 'node:fs/promises'
import {
  KiB, MiB, TestSwarm, findLine, printedId, pushed, sha256File, waitAnnounced, writeRandomFile
} from './helpers.js'

const REUSING = /reusing .* unchanged/i

let swarm: TestSwarm

beforeEach(async () => {
  swarm = await TestSwarm.create('shoal-publisher-')
})

afterEach(async () => {
  await swarm?.cleanup()
})

it('pushing an unchanged file again gives the same id and says it reused the earlier push', async () => {
  const file = swarm.path('same.bin')
  await writeRandomFile(file, 3 * MiB + 17)
  const dataDir = swarm.path('publisher')

  // --replicas 0: announce and exit; no node needed.
  const first = swarm.push(file, { dataDir, replicas: 0 })
  const id = await pushed(first)
  expect(findLine(first.output(), REUSING)).toBeUndefined()

  const second = swarm.push(file, { dataDir, replicas: 0 })
  expect(await pushed(second)).toBe(id)
  const line = findLine(second.output(), REUSING)
  expect(line).toBeDefined()
  expect(line).toContain(id)
  expect(line).toContain('same.bin')

  // A changed file is a new artifact, not a reuse.
  await writeRandomFile(file, 3 * MiB + 17)
  const later = new Date(Date.now() + 5_000)
  await utimes(file, later, later)
  const third = swarm.push(file, { dataDir, replicas: 0 })
  expect(await pushed(third)).not.toBe(id)
  expect(findLine(third.output(), REUSING)).toBeUndefined()
}, 120_000)

it('a publisher SIGKILLed mid-push and started again with the same command resumes serving', async () => {
  const size = 8 * MiB + 5 * KiB
  const chunk = 256 * KiB
  const chunks = Math.ceil(size / chunk)
  const file = swarm.path('interrupted.bin')
  const digest = await writeRandomFile(file, size)
  const node = swarm.startNode('node', { args: ['--max-download', '2MiB'] })
  await swarm.waitStarted([node])

  const dataDir = swarm.path('publisher')
  const push = { dataDir, replicas: 1, args: ['--chunk-size', String(chunk)] }
  const first = swarm.push(file, push)
  const id = await waitAnnounced(first)
  const atKill = await node.waitArtifact(id, '20 % of the chunks', a => a.have >= 0.2 * chunks, 60_000)
  await first.kill()
  expect(atKill.complete).toBe(false)
  expect(printedId(first)).toBeUndefined()

  const second = swarm.push(file, push)
  const done = await node.waitComplete(id, 120_000)
  expect(await sha256File(done.path as string)).toBe(digest)
  expect(done.invalidBlocks).toBe(0)
  expect(await pushed(second)).toBe(id)
}, 180_000)
