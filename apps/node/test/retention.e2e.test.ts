/**
 * Many artifacts and a bounded store, with real processes: twenty artifacts published within
 * seconds of each other all reach every node; a node told to keep two versions per name, or a
 * byte budget, evicts the oldest and says so, while its output dir always holds the latest.
 *
 * "Newest" is the manifest's creation time, which is the published file's mtime: each version
 * gets an mtime a minute after the previous one.
 */
import { mkdir, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import {
  KiB, MiB, TestSwarm, findLines, pushed, sha256File, sleep, until, writeRandomFile
} from './helpers.js'
import type { NodeProc, Proc, Status } from './helpers.js'

let swarm: TestSwarm

beforeEach(async () => {
  swarm = await TestSwarm.create('shoal-retention-')
})

afterEach(async () => {
  await swarm?.cleanup()
})

/** A random file of `size` bytes at `path` with mtime `base + minutes` minutes; its sha256 */
async function version (path: string, size: number, minutes: number): Promise<string> {
  await mkdir(join(path, '..'), { recursive: true })
  const digest = await writeRandomFile(path, size)
  const at = new Date(Date.UTC(2025, 0, 1) + minutes * 60_000)
  await utimes(path, at, at)
  return digest
}

/** Wait until `node`'s status satisfies `test`; the last status seen goes in the error */
async function waitStatus (node: NodeProc, what: string, test: (s: Status) => boolean, timeoutMs: number): Promise<Status> {
  let last: Status | undefined
  try {
    return await until(`${node.name}: ${what}`, async () => {
      last = await node.status()
      return last != null && test(last) ? last : undefined
    }, timeoutMs)
  } catch (err: any) {
    err.message = `${String(err.message)}; last status lists ${JSON.stringify(last?.artifacts.map(a => ({ name: a.name, size: a.size, complete: a.complete })))}`
    throw err
  }
}

it('twenty artifacts published a second apart all reach every one of 3 nodes, byte-identical', async () => {
  const COUNT = 20
  const nodes = Array.from({ length: 3 }, (_, i) => swarm.startNode(`node-${i}`))
  await swarm.waitStarted(nodes)

  const files: Array<{ name: string, path: string, digest: string }> = []
  for (let i = 0; i < COUNT; i++) {
    const name = `artifact-${String(i).padStart(2, '0')}.bin`
    const path = swarm.path('files', name)
    // 256 KiB to 1 MiB, not chunk-aligned
    const size = 256 * KiB + Math.floor(((i * 7919) % 997) / 997 * 768 * KiB)
    files.push({ name, path, digest: await version(path, size, i) })
  }

  // A new push every second; each waits for all 3 nodes, so several run at once.
  const publishers: Proc[] = []
  for (const f of files) {
    publishers.push(swarm.push(f.path, { replicas: 3, args: ['--chunk-size', String(256 * KiB)] }))
    await sleep(1_000)
  }
  const ids = await Promise.all(publishers.map(pushed))
  expect(new Set(ids).size).toBe(COUNT)

  for (const node of nodes) {
    for (let i = 0; i < COUNT; i++) {
      const done = await node.waitComplete(ids[i], 30_000)
      expect(done.name).toBe(files[i].name)
      expect(done.path).toBe(join(node.outputDir, files[i].name))
      expect(await sha256File(done.path as string)).toBe(files[i].digest)
      expect(done.invalidBlocks).toBe(0)
    }
  }
}, 360_000)

it('with --keep 2 (or SHOAL_KEEP=2) the output file is always the latest version and older versions are evicted', async () => {
  const byFlag = swarm.startNode('keep-flag', { args: ['--keep', '2'] })
  const byEnv = swarm.startNode('keep-env', { env: { SHOAL_KEEP: '2' } })
  const nodes = [byFlag, byEnv]
  await swarm.waitStarted(nodes)

  const ids: string[] = []
  for (let v = 1; v <= 4; v++) {
    const path = swarm.path(`v${v}`, 'model.bin')
    const digest = await version(path, 512 * KiB + v, v)
    const id = await pushed(swarm.push(path, { replicas: nodes.length, args: ['--chunk-size', String(256 * KiB)] }))
    ids.push(id)
    for (const node of nodes) {
      const done = await node.waitComplete(id, 60_000)
      expect(done.path).toBe(join(node.outputDir, 'model.bin'))
      // The output dir holds the version just received, whatever eviction did meanwhile.
      expect(await sha256File(join(node.outputDir, 'model.bin'))).toBe(digest)
    }
  }

  for (const node of nodes) {
    const status = await waitStatus(node, 'at most 2 versions of model.bin listed', s =>
      s.artifacts.filter(a => a.name === 'model.bin').length <= 2, 30_000)
    const listed = status.artifacts.filter(a => a.name === 'model.bin').map(a => a.id)
    // The newest are the ones kept.
    expect(listed).toContain(ids[3])
    for (const id of listed) expect(ids.slice(2)).toContain(id)
    const evicted = findLines(node.output(), /evicted model\.bin/)
    // One line per older version (two of the four), on each node.
    expect(evicted.length).toBeGreaterThanOrEqual(2)
  }
}, 180_000)

it('with --max-store 3MiB the oldest complete artifacts are evicted to stay within the budget', async () => {
  const node = swarm.startNode('budget', { args: ['--max-store', '3MiB'] })
  await swarm.waitStarted([node])

  const names: string[] = []
  const ids: string[] = []
  for (let i = 1; i <= 5; i++) {
    const name = `part-${i}.bin`
    const path = swarm.path('files', name)
    const digest = await version(path, MiB, i)
    const id = await pushed(swarm.push(path, { replicas: 1, args: ['--chunk-size', String(256 * KiB)] }))
    names.push(name)
    ids.push(id)
    const done = await node.waitComplete(id, 60_000)
    expect(await sha256File(done.path as string)).toBe(digest)
  }

  const status = await waitStatus(node, 'a store within 3 MiB', s =>
    s.artifacts.reduce((sum, a) => sum + (a.size ?? 0), 0) <= 3 * MiB, 30_000)
  const listed = status.artifacts.map(a => a.id)
  expect(listed).toContain(ids[4])
  // Oldest first: whatever is kept is among the newest three.
  for (const id of listed) expect(ids.slice(2)).toContain(id)
}, 180_000)
