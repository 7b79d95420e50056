/**
 * A full disk, with real processes: a node whose data dir (and output dir) is a 12 MiB tmpfs
 * completes a 2 MiB artifact, then is offered a 16 MiB one that cannot fit. It must say so in
 * one clear warning line, keep running, keep serving what it has, and never leave a file for
 * the artifact it could not hold in its output dir.
 *
 * Needs root and a kernel that lets it mount tmpfs; elsewhere the test is skipped, saying why.
 */
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  MiB, TestSwarm, findLines, publisherPeerId, pushed, sha256File, sleep, waitAnnounced, waitForLog, writeRandomFile
} from './helpers.js'

// A line saying the disk is out of space, in any of the usual words ("not enough disk space").
const NO_SPACE = /no space|not enough (disk )?space|disk full/i
const DISK = '12m'

function mount (dir: string): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${DISK}`, 'tmpfs', dir], { stdio: 'pipe' })
}

function unmount (dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' })
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' })
  }
}

/** Why this machine cannot run the test, or undefined if it can (tries a real mount) */
async function cannotMount (): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'not running as root'
  const probe = await mkdtemp(join(tmpdir(), 'shoal-mount-probe-'))
  try {
    mount(probe)
    unmount(probe)
    return undefined
  } catch (err: any) {
    return `mount -t tmpfs failed: ${String(err.stderr ?? err.message).trim()}`
  } finally {
    await rm(probe, { recursive: true, force: true })
  }
}

const skipReason = await cannotMount()
if (skipReason != null) console.warn(`disk.e2e: skipping the disk-full test: ${skipReason}`)
const maybeIt = skipReason == null ? it : it.skip

let swarm: TestSwarm

beforeAll(async () => {
  swarm = await TestSwarm.create('shoal-disk-')
})

afterAll(async () => {
  await swarm?.cleanup()
})

maybeIt('a node out of disk space says so once, keeps serving what it has and writes nothing partial to its output dir', async () => {
  const disk = swarm.path('small-disk')
  await mkdir(disk)
  mount(disk)
  swarm.onCleanup(async () => { unmount(disk) })

  const smallFile = swarm.path('small.bin')
  const smallDigest = await writeRandomFile(smallFile, 2 * MiB)
  const bigFile = swarm.path('big.bin')
  await writeRandomFile(bigFile, 16 * MiB)

  const a = swarm.startNode('node-a', { dataDir: disk })
  await swarm.waitStarted([a])
  const smallPublisher = swarm.push(smallFile, { replicas: 1 })
  const smallId = await pushed(smallPublisher)
  const smallOnA = await a.waitComplete(smallId, 60_000)
  expect(await sha256File(smallOnA.path as string)).toBe(smallDigest)

  // Kept serving (more replicas than there are nodes) until the test ends.
  const bigPublisher = swarm.push(bigFile, { replicas: 99 })
  const bigId = await waitAnnounced(bigPublisher)
  const warning = await waitForLog(a, NO_SPACE, 60_000)
  // A clear line says which artifact does not fit.
  expect(warning.includes('big.bin') || warning.includes(bigId)).toBe(true)
  // Past a re-announcement or two: still running, and it said it once.
  await sleep(12_000)
  expect(a.done).toBe(false)
  expect(findLines(a.output(), NO_SPACE)).toHaveLength(1)

  // It still serves the small artifact, whose publisher is gone: a new node gets it from a alone.
  const aId = await a.peerId()
  const b = swarm.startNode('node-b')
  const smallOnB = await b.waitComplete(smallId, 90_000)
  expect(await sha256File(smallOnB.path as string)).toBe(smallDigest)
  expect(smallOnB.invalidBlocks).toBe(0)
  expect(smallOnB.bytesReceivedFrom[aId] ?? 0).toBeGreaterThan(0)
  expect(smallOnB.bytesReceivedFrom[publisherPeerId(smallPublisher) as string] ?? 0).toBe(0)

  // Nothing of the big artifact reached a's output dir, and a is still up and well.
  expect(await readdir(a.outputDir)).toEqual(['small.bin'])
  expect((await a.artifact(bigId))?.complete ?? false).toBe(false)
  expect((await a.artifact(smallId))?.complete).toBe(true)
  expect(a.done).toBe(false)
  // While b, on a roomy disk, gets the big one.
  await b.waitComplete(bigId, 90_000)
}, 240_000)
