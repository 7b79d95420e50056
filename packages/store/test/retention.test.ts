// Eviction support: usage, remove options, tombstones, archive and the re-publish cache.
import { access, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { openStore, type Store } from '../src/index.js'
import { chunkOf, errorOf, makeSource, setTimes, sha } from './helpers.js'

const CS = 1024
let dir: string
let dataDir: string
let store: Store | undefined

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-retention-'))
  dataDir = join(dir, 'data')
})
afterEach(async () => {
  await store?.close()
  store = undefined
  await rm(dir, { recursive: true, force: true })
})

async function reopen (maxTombstones?: number): Promise<Store> {
  await store?.close()
  store = await openStore({ dataDir, maxTombstones })
  return store
}

const exists = async (p: string): Promise<boolean> => await access(p).then(() => true, () => false)

/** Download (create, write every chunk, finalize) a random artifact into `<dir>/out/<name>`. */
async function download (s: Store, size: number, name = 'model.bin'): Promise<{ data: Buffer, dest: string, id: string }> {
  const { data, chunked: { id, manifest, manifestBytes } } = await makeSource(await mkdtemp(join(dir, 'src-')), size, CS, name)
  const a = await s.create(manifest, manifestBytes, id)
  for (let i = 0; i < manifest.chunks.length; i++) await a.writeChunk(i, chunkOf(data, i, CS))
  const dest = await a.finalize(join(dir, 'out', name))
  return { data, dest, id: id.toString() }
}

describe('usage', () => {
  it('sums the manifest sizes of partial and complete artifacts', async () => {
    const s = await reopen()
    expect(s.usage()).toEqual({ bytes: 0, artifacts: 0 })
    const { chunked: p } = await makeSource(dir, CS * 3 + 1, CS, 'p.bin')
    await s.create(p.manifest, p.manifestBytes, p.id)
    const { path, chunked: e } = await makeSource(dir, CS * 2, CS, 'e.bin')
    await s.addComplete(e.manifest, e.manifestBytes, e.id, path)
    const { id } = await download(s, CS * 5)
    expect(s.usage()).toEqual({ bytes: CS * 10 + 1, artifacts: 3 })
    await s.remove(id)
    expect(s.usage()).toEqual({ bytes: CS * 5 + 1, artifacts: 2 })
  })
})

describe('remove', () => {
  it('keeps a complete file by default and deletes it with deleteFile', async () => {
    const s = await reopen()
    const kept = await download(s, CS * 2, 'kept.bin')
    const gone = await download(s, CS * 2, 'gone.bin')
    await s.remove(kept.id)
    expect(sha(await readFile(kept.dest))).toBe(sha(kept.data))
    await s.remove(gone.id, { deleteFile: true })
    expect(await exists(gone.dest)).toBe(false)
    expect(s.list()).toEqual([])
  })

  it('never deletes an external file, even with deleteFile', async () => {
    const s = await reopen()
    const { path, data, chunked: { id, manifest, manifestBytes } } = await makeSource(dir, CS * 2, CS)
    await s.addComplete(manifest, manifestBytes, id, path)
    await s.remove(id, { deleteFile: true })
    expect(s.get(id)).toBeUndefined()
    expect(sha(await readFile(path))).toBe(sha(data))
  })

  it('remembers a tombstone across reopen until the id is created again', async () => {
    let s = await reopen()
    const { id } = await download(s, CS * 2)
    const { chunked: other } = await makeSource(dir, CS, CS, 'other.bin')
    expect(s.wasRemoved(id)).toBe(false)
    await s.remove(id, { tombstone: true, deleteFile: true })
    await s.remove(other.id, { tombstone: true }) // never stored: still remembered
    expect(s.wasRemoved(id)).toBe(true)
    expect(s.wasRemoved(other.id)).toBe(true)
    expect(s.wasRemoved('not a cid')).toBe(false)

    s = await reopen()
    expect(s.get(id)).toBeUndefined()
    expect(s.wasRemoved(id)).toBe(true)
    await s.create(other.manifest, other.manifestBytes, other.id) // an explicit fetch wins
    expect(s.wasRemoved(other.id)).toBe(false)
    expect(s.wasRemoved(id)).toBe(true)

    s = await reopen()
    expect(s.wasRemoved(other.id)).toBe(false)
    expect(s.wasRemoved(id)).toBe(true)
  })

  it('keeps only the newest tombstones', async () => {
    let s = await reopen(3)
    const ids: string[] = []
    for (let i = 0; i < 5; i++) {
      const { chunked } = await makeSource(dir, CS, CS, `t${i}.bin`)
      ids.push(chunked.id.toString())
      await s.remove(chunked.id, { tombstone: true })
      await sleep(5) // distinct removal times, so "newest" is well defined
    }
    expect(ids.map(id => s.wasRemoved(id))).toEqual([false, false, true, true, true])
    s = await reopen(3)
    expect(ids.map(id => s.wasRemoved(id))).toEqual([false, false, true, true, true])
    s = await reopen(2)
    expect(ids.map(id => s.wasRemoved(id))).toEqual([false, false, false, true, true])
    s = await reopen()
    expect(ids.map(id => s.wasRemoved(id))).toEqual([false, false, false, true, true])
  })
})

describe('archive', () => {
  it('moves a complete file into the archive and keeps serving it during and after', async () => {
    const s = await reopen()
    const { data, dest, id } = await download(s, CS * 64 + 17)
    const a = s.get(id)!
    const count = a.manifest.chunks.length
    const expected = (i: number): Uint8Array => new Uint8Array(chunkOf(data, i, CS))
    // Reads racing the move: every one must succeed with the right bytes.
    const reads = Array.from({ length: 4 * count }, async (_, k) => {
      const i = k % count
      return Buffer.from(await a.readChunk(i)).equals(expected(i))
    })
    const archived = s.archive(id)
    expect((await Promise.all(reads)).every(Boolean)).toBe(true)
    const path = await archived
    expect(relative(dataDir, path)).toBe(join('archive', id, 'model.bin'))
    expect(a.path).toBe(path)
    expect(await exists(dest)).toBe(false)
    expect(sha(await readFile(path))).toBe(sha(data))
    expect(await a.readChunk(count - 1)).toEqual(expected(count - 1))
    expect(await s.archive(id)).toBe(path) // already there

    // The freed name takes a new version while the old one is still served.
    const next = await download(s, CS * 3)
    expect(next.dest).toBe(dest)
    expect(await a.readChunk(0)).toEqual(expected(0))
  })

  it('keeps the archived path across reopen, and reads race a first open of the file', async () => {
    let s = await reopen()
    const { data, id } = await download(s, CS * 16)
    s = await reopen()
    const a = s.get(id)!
    // No fd is open yet: opens must wait for the move and find the file at its new place.
    const reads = Array.from({ length: 32 }, async (_, k) => Buffer.from(await a.readChunk(k % 16)).equals(chunkOf(data, k % 16, CS)))
    const path = await s.archive(id)
    expect((await Promise.all(reads)).every(Boolean)).toBe(true)

    s = await reopen()
    expect(s.repairs).toEqual([])
    const b = s.get(id)!
    expect(b.path).toBe(path)
    expect(b.isComplete).toBe(true)
    expect(await b.readChunk(3)).toEqual(new Uint8Array(chunkOf(data, 3, CS)))
    await s.remove(id, { deleteFile: true })
    expect(await readdir(join(dataDir, 'archive'))).toEqual([])
  })

  it('refuses partial, external and unknown artifacts', async () => {
    const s = await reopen()
    const { chunked: p } = await makeSource(dir, CS * 2, CS, 'p.bin')
    await s.create(p.manifest, p.manifestBytes, p.id)
    expect((await errorOf(s.archive(p.id))).code).toBe('ERR_NOT_ARCHIVABLE')
    const { path, data, chunked: e } = await makeSource(dir, CS * 2, CS, 'e.bin')
    await s.addComplete(e.manifest, e.manifestBytes, e.id, path)
    const err = await errorOf(s.archive(e.id))
    expect(err.code).toBe('ERR_NOT_ARCHIVABLE')
    expect(err.message).not.toContain('\n')
    expect(sha(await readFile(path))).toBe(sha(data))
    expect(s.get(e.id)!.path).toBe(path)
    await s.remove(e.id)
    expect((await errorOf(s.archive(e.id))).code).toBe('ERR_NOT_FOUND')
  })
})

describe('findByPath', () => {
  it('finds an unchanged external file by path and chunk size, across reopen', async () => {
    let s = await reopen()
    const { path, chunked: small } = await makeSource(dir, CS * 8, CS)
    await setTimes(path, 1_600_000_000)
    const { chunkFile } = await import('@shoal/content')
    const big = await chunkFile(path, { chunkSize: CS * 4 })
    expect(await s.findByPath(path)).toBeUndefined()
    await s.addComplete(small.manifest, small.manifestBytes, small.id, path)
    await sleep(5) // distinct storedAt
    await s.addComplete(big.manifest, big.manifestBytes, big.id, path)

    expect((await s.findByPath(path))?.id.toString()).toBe(big.id.toString()) // newest
    expect((await s.findByPath(path, { chunkSize: CS }))?.id.toString()).toBe(small.id.toString())
    expect(await s.findByPath(path, { chunkSize: CS * 2 })).toBeUndefined()
    expect((await s.findByPath(join(dir, '.', 'x', '..', 'src.bin')))?.id.toString()).toBe(big.id.toString())

    s = await reopen()
    expect((await s.findByPath(path, { chunkSize: CS }))?.id.toString()).toBe(small.id.toString())
    await setTimes(path, 1_600_000_001) // touched: it must be hashed again
    expect(await s.findByPath(path)).toBeUndefined()
    await writeFile(join(dir, 'unrelated'), 'x')
    expect(await s.findByPath(join(dir, 'unrelated'))).toBeUndefined()
  })

  it('ignores files the store wrote', async () => {
    const s = await reopen()
    const { dest } = await download(s, CS * 2)
    expect(await s.findByPath(dest)).toBeUndefined()
  })
})
