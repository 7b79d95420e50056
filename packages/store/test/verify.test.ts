// Verify on open (crash and corruption recovery) and verify on read.
import { access, mkdtemp, open, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openStore, type Store } from '../src/index.js'
import { chunkOf, errorOf, flipByte, makeSource, setTimes, sha } from './helpers.js'

const CS = 1024
let dir: string
let dataDir: string
let store: Store | undefined

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-verify-'))
  dataDir = join(dir, 'data')
})
afterEach(async () => {
  await store?.close()
  store = undefined
  await rm(dir, { recursive: true, force: true })
})

async function reopen (verifyOnOpen?: boolean): Promise<Store> {
  await store?.close()
  store = await openStore({ dataDir, verifyOnOpen })
  return store
}

const exists = async (p: string): Promise<boolean> => await access(p).then(() => true, () => false)
const partPath = (id: { toString: () => string }): string => join(dataDir, 'partial', `${id.toString()}.part`)

/** A finalized (store-written) artifact of `chunks` full chunks at `<dir>/out/<name>`. */
async function downloaded (chunks: number): Promise<{ data: Buffer, dest: string, id: string, count: number }> {
  const { data, chunked: { id, manifest, manifestBytes } } = await makeSource(dir, CS * chunks, CS)
  const s = await reopen()
  const a = await s.create(manifest, manifestBytes, id)
  for (let i = 0; i < chunks; i++) await a.writeChunk(i, chunkOf(data, i, CS))
  const dest = await a.finalize(join(dir, 'out', manifest.name))
  return { data, dest, id: id.toString(), count: chunks }
}

describe('verify on open: partial artifacts', () => {
  it('clears the bits of held chunks whose bytes did not reach the disk, and persists that', async () => {
    const { data, chunked: { id, manifest, manifestBytes } } = await makeSource(dir, CS * 300 + 5, CS)
    let s = await reopen()
    const a = await s.create(manifest, manifestBytes, id)
    for (let i = 0; i < 200; i++) await a.writeChunk(i, chunkOf(data, i, CS))
    await s.close()
    // As after a power loss: the bitfield says held, the data is zeros (or garbage).
    const fh = await open(partPath(id), 'r+')
    for (const i of [3, 77, 199]) await fh.write(Buffer.alloc(CS), 0, CS, i * CS)
    await fh.close()
    await flipByte(partPath(id), 150 * CS + 10)

    s = await reopen()
    expect(s.repairs).toHaveLength(1)
    const [r] = s.repairs
    expect(r).toMatchObject({ id: id.toString(), name: manifest.name, action: 'refetch', badChunks: 4 })
    expect(r.problem).not.toContain('\n')
    const b = s.get(id)!
    expect(b.haveCount).toBe(196)
    expect([3, 77, 150, 199].map(i => b.has(i))).toEqual([false, false, false, false])
    expect(b.has(0)).toBe(true)

    s = await reopen()
    expect(s.repairs).toEqual([])
    expect(s.get(id)!.haveCount).toBe(196)
    const c = s.get(id)!
    for (const i of c.bitfield.missing()) expect(await c.writeChunk(i, chunkOf(data, i, CS))).toBe(true)
    const dest = await c.finalize(join(dir, 'done.bin'))
    expect(sha(await readFile(dest))).toBe(sha(data))
  })

  it('starts over a partial artifact whose .part vanished, and reports the lost chunks', async () => {
    const { data, chunked: { id, manifest, manifestBytes } } = await makeSource(dir, CS * 4, CS)
    let s = await reopen()
    const a = await s.create(manifest, manifestBytes, id)
    for (const i of [0, 2]) await a.writeChunk(i, chunkOf(data, i, CS))
    await s.close()
    await unlink(partPath(id))
    s = await reopen()
    expect(s.repairs).toEqual([expect.objectContaining({ id: id.toString(), action: 'refetch', badChunks: 2 })])
    expect(s.get(id)!.haveCount).toBe(0)
    expect((await stat(partPath(id))).size).toBe(manifest.size)
  })

  it('trusts the bitfield with verifyOnOpen: false, but a read still catches the bad chunk', async () => {
    const { data, chunked: { id, manifest, manifestBytes } } = await makeSource(dir, CS * 4, CS)
    let s = await reopen()
    const a = await s.create(manifest, manifestBytes, id)
    for (let i = 0; i < 3; i++) await a.writeChunk(i, chunkOf(data, i, CS))
    await s.close()
    await flipByte(partPath(id), CS + 1)

    s = await reopen(false)
    expect(s.repairs).toEqual([])
    const b = s.get(id)!
    expect(b.has(1)).toBe(true)
    const err = await errorOf(b.readChunk(1))
    expect(err.code).toBe('ERR_CORRUPT_CHUNK')
    expect(err.message).toContain('chunk 1 of')
    expect(err.message).not.toContain('\n')
    expect(b.has(1)).toBe(false)
    expect(await b.readChunk(0)).toEqual(new Uint8Array(chunkOf(data, 0, CS)))

    s = await reopen(false)
    const c = s.get(id)!
    expect(c.has(1)).toBe(false) // the cleared bit was persisted
    expect(await c.writeChunk(1, chunkOf(data, 1, CS))).toBe(true)
    expect(await c.readChunk(1)).toEqual(new Uint8Array(chunkOf(data, 1, CS)))
  })

  it('on read, clears the bit of a chunk corrupted while the store is open', async () => {
    const { data, chunked: { id, manifest, manifestBytes } } = await makeSource(dir, CS * 2, CS)
    const s = await reopen()
    const a = await s.create(manifest, manifestBytes, id)
    await a.writeChunk(0, chunkOf(data, 0, CS))
    await flipByte(partPath(id), 5)
    expect((await errorOf(a.readChunk(0))).code).toBe('ERR_CORRUPT_CHUNK')
    expect(a.haveCount).toBe(0)
    expect(await a.writeChunk(0, chunkOf(data, 0, CS))).toBe(true)
    expect(await a.readChunk(0)).toEqual(new Uint8Array(chunkOf(data, 0, CS)))
  })
})

describe('verify on open: complete files the store wrote', () => {
  it('demotes a corrupted file back to partial, keeping the chunks that verify', async () => {
    const { data, dest, id, count } = await downloaded(8)
    await store!.close()
    await flipByte(dest, 5 * CS + 100)
    await setTimes(dest, 1_600_000_000) // make sure the mtime differs from the recorded one

    const s = await reopen()
    expect(s.repairs).toHaveLength(1)
    expect(s.repairs[0]).toMatchObject({ id, action: 'demoted', badChunks: 1 })
    expect(s.repairs[0].problem).toContain(dest)
    expect(await exists(dest)).toBe(false) // no longer looks complete in the output dir
    expect((await stat(partPath(id))).size).toBe(CS * count)
    const a = s.get(id)!
    expect(a.isComplete).toBe(false)
    expect(a.path).toBeUndefined()
    expect(a.external).toBe(false)
    expect([...a.bitfield.missing()]).toEqual([5])

    expect(await a.writeChunk(5, chunkOf(data, 5, CS))).toBe(true)
    await a.finalize(dest)
    expect(sha(await readFile(dest))).toBe(sha(data))
    expect((await reopen()).repairs).toEqual([])
  })

  it('demotes a file that grew, truncating it back to the artifact size', async () => {
    const { data, dest, id } = await downloaded(3)
    await store!.close()
    await writeFile(dest, 'tail', { flag: 'a' })
    const s = await reopen()
    expect(s.repairs).toEqual([expect.objectContaining({ id, action: 'demoted', badChunks: 0 })])
    const a = s.get(id)!
    expect(a.haveCount).toBe(3)
    expect(await a.readChunk(2)).toEqual(new Uint8Array(chunkOf(data, 2, CS)))
    expect((await stat(partPath(id))).size).toBe(CS * 3)
  })

  it('accepts a touched but unchanged file and records its new mtime', async () => {
    const { dest, id } = await downloaded(4)
    await store!.close()
    await setTimes(dest, 1_600_000_000)
    let s = await reopen()
    expect(s.repairs).toEqual([])
    expect(s.get(id)!.isComplete).toBe(true)
    // The new mtime is the baseline now: a change that keeps it goes unnoticed on open…
    await s.close()
    await flipByte(dest, 10)
    await setTimes(dest, 1_600_000_000)
    s = await reopen()
    expect(s.repairs).toEqual([])
    // …but not on read, and the read makes the next open re-check the whole file.
    const a = s.get(id)!
    expect((await errorOf(a.readChunk(0))).code).toBe('ERR_CORRUPT_CHUNK')
    expect(a.isComplete).toBe(true)
    expect((await a.readChunk(1)).byteLength).toBe(CS)
    s = await reopen()
    expect(s.repairs).toEqual([expect.objectContaining({ id, action: 'demoted', badChunks: 1 })])
    expect(s.get(id)!.has(0)).toBe(false)
  })

  it('drops the record of a missing file, without a tombstone', async () => {
    const { dest, id, count } = await downloaded(2)
    await store!.close()
    await unlink(dest)
    let s = await reopen()
    expect(s.repairs).toEqual([expect.objectContaining({ id, action: 'dropped', badChunks: count })])
    expect(s.repairs[0].problem).toContain(dest)
    expect(s.get(id)).toBeUndefined()
    expect(s.wasRemoved(id)).toBe(false)
    s = await reopen()
    expect(s.repairs).toEqual([])
    expect(s.list()).toEqual([])
  })
})

describe('verify on open: external files (addComplete)', () => {
  it('drops the record of a changed external file and never touches the file', async () => {
    const { path, chunked: { id, manifest, manifestBytes } } = await makeSource(dir, CS * 6, CS)
    let s = await reopen()
    await s.addComplete(manifest, manifestBytes, id, path)
    await s.close()
    await flipByte(path, 3 * CS)
    await setTimes(path, 1_600_000_000)
    const changed = await readFile(path)

    s = await reopen()
    expect(s.repairs).toEqual([expect.objectContaining({ id: id.toString(), action: 'dropped' })])
    expect(s.repairs[0].badChunks).toBeGreaterThanOrEqual(1)
    expect(s.get(id)).toBeUndefined()
    expect(sha(await readFile(path))).toBe(sha(changed))
    expect(await exists(partPath(id))).toBe(false)
  })

  it('drops the record of a truncated external file without hashing it', async () => {
    const { path, chunked: { id, manifest, manifestBytes } } = await makeSource(dir, CS * 6, CS)
    let s = await reopen()
    await s.addComplete(manifest, manifestBytes, id, path)
    await s.close()
    await writeFile(path, 'short')
    s = await reopen()
    expect(s.repairs).toEqual([expect.objectContaining({ id: id.toString(), action: 'dropped' })])
    expect(await readFile(path, 'utf8')).toBe('short')
  })

  it('keeps a touched but unchanged external file', async () => {
    const { path, chunked: { id, manifest, manifestBytes } } = await makeSource(dir, CS * 6, CS)
    let s = await reopen()
    await s.addComplete(manifest, manifestBytes, id, path)
    await s.close()
    await setTimes(path, 1_600_000_000)
    s = await reopen()
    expect(s.repairs).toEqual([])
    expect(s.get(id)!.isComplete).toBe(true)
    expect((await s.findByPath(path))?.id.toString()).toBe(id.toString())
  })
})
