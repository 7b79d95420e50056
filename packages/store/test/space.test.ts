// Disk space: create refuses what does not fit, a full disk during writeChunk or finalize
// gives ERR_NO_SPACE and leaves the artifact as it was. Uses a real 4 MiB tmpfs; where it
// cannot be mounted (not root, not Linux) those tests are skipped with a warning.
import { mkdtempSync, rmSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, stat, unlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { formatBytes } from '@shoal/content'
import { openStore, type Store } from '../src/index.js'
import { chunkOf, errorOf, fillDisk, makeSource, mountTmpfs, sha, unmount } from './helpers.js'

const TMPFS_SIZE = 4 * 1024 * 1024

// Probe once at load so the tests can be skipped (it.skip) rather than pass vacuously.
const probe = mkdtempSync(join(tmpdir(), 'shoal-tmpfs-probe-'))
const cannotMount = mountTmpfs(probe, '4m')
if (cannotMount == null) unmount(probe)
rmSync(probe, { recursive: true, force: true })
if (cannotMount != null) console.warn(`skipping the tmpfs disk-full tests: ${cannotMount}`)
const itTmpfs = cannotMount == null ? it : it.skip

let dir: string // on the ordinary disk
let mnt: string // a fresh 4 MiB tmpfs per test
let mounted = false
let store: Store | undefined

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-space-'))
  mnt = join(dir, 'tmpfs')
  await mkdir(mnt)
  mounted = cannotMount == null && mountTmpfs(mnt, '4m') == null
})
afterEach(async () => {
  await store?.close()
  store = undefined
  if (mounted) unmount(mnt)
  mounted = false
  await rm(dir, { recursive: true, force: true })
})

describe('disk space', () => {
  it('reports free space', async () => {
    store = await openStore({ dataDir: join(dir, 'data') })
    expect(await store.freeSpace()).toBeGreaterThan(0)
  })

  itTmpfs('refuses to create an artifact that does not fit, creating nothing', async () => {
    const { chunked: { id, manifest, manifestBytes } } = await makeSource(dir, 5 * 1024 * 1024, 64 * 1024)
    const dataDir = join(mnt, 'data')
    store = await openStore({ dataDir })
    const free = await store.freeSpace()
    expect(free).toBeLessThanOrEqual(TMPFS_SIZE)
    const err = await errorOf(store.create(manifest, manifestBytes, id))
    expect(err.code).toBe('ERR_NO_SPACE')
    expect(err.message).toContain(join(dataDir, 'partial'))
    expect(err.message).toContain(formatBytes(manifest.size))
    expect(err.message).toContain('free space or lower the retention budget')
    expect(err.message).not.toContain('\n')
    expect(store.get(id)).toBeUndefined()
    expect(await readdir(join(dataDir, 'partial'))).toEqual([])
    await store.close()
    store = await openStore({ dataDir })
    expect(store.list()).toEqual([])
  })

  itTmpfs('fails a write on a full disk without recording it, and succeeds once space is freed', async () => {
    const CS = 16 * 1024 // several pages per chunk, so every chunk needs fresh blocks
    const dataDir = join(mnt, 'data')
    store = await openStore({ dataDir })
    const done = await makeSource(dir, CS * 8, CS, 'done.bin')
    const a = await store.create(done.chunked.manifest, done.chunked.manifestBytes, done.chunked.id)
    for (let i = 0; i < 8; i++) await a.writeChunk(i, chunkOf(done.data, i, CS))
    await a.finalize(join(mnt, 'out', 'done.bin'))
    const { data, chunked: { id, manifest, manifestBytes } } = await makeSource(dir, CS * 32, CS)
    const b = await store.create(manifest, manifestBytes, id)
    for (let i = 0; i < 4; i++) await b.writeChunk(i, chunkOf(data, i, CS))
    const before = b.bitfieldBytes()

    await fillDisk(join(mnt, 'filler'))
    const err = await errorOf(b.writeChunk(10, chunkOf(data, 10, CS)))
    expect(err.code).toBe('ERR_NO_SPACE')
    expect(err.message).not.toContain('\n')
    expect(b.has(10)).toBe(false)
    expect(b.bitfieldBytes()).toEqual(before)
    // Everything already held is still served.
    for (let i = 0; i < 8; i++) expect(Buffer.from(await a.readChunk(i)).equals(chunkOf(done.data, i, CS))).toBe(true)
    expect(Buffer.from(await b.readChunk(3)).equals(chunkOf(data, 3, CS))).toBe(true)

    await unlink(join(mnt, 'filler'))
    expect(await b.writeChunk(10, chunkOf(data, 10, CS))).toBe(true)
    await store.close()
    store = await openStore({ dataDir })
    expect(store.repairs).toEqual([])
    expect([...store.get(id)!.bitfield.indices()]).toEqual([0, 1, 2, 3, 10])
    expect(store.get(done.chunked.id)!.isComplete).toBe(true)
  })

  itTmpfs('fails finalize onto a full filesystem, leaving the .part and the partial state intact', async () => {
    const CS = 64 * 1024
    const { data, chunked: { id, manifest, manifestBytes } } = await makeSource(dir, 5 * 1024 * 1024, CS)
    const dataDir = join(dir, 'data') // ordinary disk: the move to the tmpfs is a copy (EXDEV)
    store = await openStore({ dataDir })
    const a = await store.create(manifest, manifestBytes, id)
    for (let i = 0; i < manifest.chunks.length; i++) await a.writeChunk(i, chunkOf(data, i, CS))

    const out = join(mnt, 'out')
    const err = await errorOf(a.finalize(join(out, manifest.name)))
    expect(err.code).toBe('ERR_NO_SPACE')
    expect(err.message).toContain(out)
    expect(err.message).not.toContain('\n')
    expect(a.isComplete).toBe(false)
    expect(a.haveCount).toBe(manifest.chunks.length)
    expect(await readdir(out)).toEqual([]) // no temp file left behind
    const part = join(dataDir, 'partial', `${id.toString()}.part`)
    expect((await stat(part)).size).toBe(manifest.size)
    expect(Buffer.from(await a.readChunk(7)).equals(chunkOf(data, 7, CS))).toBe(true)

    await store.close()
    store = await openStore({ dataDir })
    expect(store.repairs).toEqual([])
    const b = store.get(id)!
    expect(b.isComplete).toBe(false)
    expect(b.haveCount).toBe(manifest.chunks.length)
    const dest = await b.finalize(join(dir, 'out', manifest.name))
    expect(sha(await readFile(dest))).toBe(sha(data))
  })
})
