import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, stat, writeFile, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chunkFile, type ChunkedFile } from '@shoal/content'
import { openStore, StoreError, type Store } from '../src/index.js'

const CS = 1024
let dir: string

beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'shoal-store-')) })
afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

async function source (size: number, name = 'src.bin'): Promise<{ path: string, data: Buffer, chunked: ChunkedFile }> {
  const data = randomBytes(size)
  const path = join(dir, name)
  await writeFile(path, data)
  return { path, data, chunked: await chunkFile(path, { chunkSize: CS }) }
}

function slice (data: Uint8Array, i: number): Uint8Array {
  return data.subarray(i * CS, (i + 1) * CS)
}

function sha (b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex')
}

async function errorOf (p: Promise<unknown>): Promise<StoreError> {
  const err = await p.then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(StoreError)
  return err as StoreError
}

describe('store', () => {
  it('writes out of order, persists across reopen, finalizes byte-identical', async () => {
    const { data, chunked } = await source(CS * 5 + 100)
    const { id, manifest, manifestBytes } = chunked
    const dataDir = join(dir, 'data')
    let store: Store = await openStore({ dataDir })
    const a = await store.create(manifest, manifestBytes, id)
    expect(a.isComplete).toBe(false)
    expect(a.path).toBeUndefined()
    expect((await stat(join(dataDir, 'partial', `${id.toString()}.part`))).size).toBe(manifest.size)
    for (const i of [4, 0, 2]) expect(await a.writeChunk(i, slice(data, i))).toBe(true)
    expect(a.haveCount).toBe(3)
    expect(await a.writeChunk(4, slice(data, 4))).toBe(true) // already held: no-op
    await store.close()

    store = await openStore({ dataDir })
    const b = store.get(id.toString())!
    expect(b).toBeDefined()
    expect(store.list()).toHaveLength(1)
    expect([0, 1, 2, 3, 4, 5].map(i => b.has(i))).toEqual([true, false, true, false, true, false])
    expect(b.bitfieldBytes()).toEqual(Uint8Array.of(0b10101000))
    expect(await b.readChunk(2)).toEqual(new Uint8Array(slice(data, 2)))
    await expect(b.finalize(join(dir, 'out', 'x.bin'))).rejects.toMatchObject({ code: 'ERR_INCOMPLETE' })
    for (const i of [5, 1, 3]) expect(await b.writeChunk(i, slice(data, i))).toBe(true)

    const dest = join(dir, 'out', 'nested', manifest.name)
    expect(await b.finalize(dest)).toBe(dest)
    expect(b.isComplete).toBe(true)
    expect(b.path).toBe(dest)
    expect(sha(await readFile(dest))).toBe(sha(data))
    expect(await readdir(join(dataDir, 'partial'))).toEqual([])
    expect((await b.readChunk(5)).byteLength).toBe(100)
    expect(await b.readChunk(5)).toEqual(new Uint8Array(data.subarray(5 * CS)))
    expect(await b.finalize(dest)).toBe(dest) // idempotent for the same path
    await store.close()

    store = await openStore({ dataDir })
    const c = store.get(id)!
    expect(c.isComplete).toBe(true)
    expect(c.path).toBe(dest)
    expect(await c.readChunk(0)).toEqual(new Uint8Array(slice(data, 0)))
    await store.close()
  })

  it('rejects corrupt, short and out-of-range chunks without setting bits', async () => {
    const { data, chunked: { id, manifest, manifestBytes } } = await source(CS * 2 + 1)
    const store = await openStore({ dataDir: join(dir, 'data') })
    const a = await store.create(manifest, manifestBytes, id)
    const bad = Uint8Array.from(slice(data, 0))
    bad[10] ^= 0xff
    expect(await a.writeChunk(0, bad)).toBe(false)
    expect(await a.writeChunk(0, slice(data, 1))).toBe(false)
    expect(await a.writeChunk(2, slice(data, 0))).toBe(false) // wrong length
    expect(await a.writeChunk(3, slice(data, 2))).toBe(false)
    expect(await a.writeChunk(-1, slice(data, 0))).toBe(false)
    expect(a.haveCount).toBe(0)
    expect(a.has(0)).toBe(false)
    expect((await errorOf(a.readChunk(0))).code).toBe('ERR_MISSING_CHUNK')
    expect((await errorOf(a.readChunk(99))).code).toBe('ERR_MISSING_CHUNK')
    await store.close()
  })

  it('does not hand out its mutable bitfield', async () => {
    const { chunked: { id, manifest, manifestBytes } } = await source(CS * 2)
    const store = await openStore({ dataDir: join(dir, 'data') })
    const a = await store.create(manifest, manifestBytes, id)
    a.bitfield.set(0)
    a.bitfieldBytes()[0] = 0xff
    expect(a.has(0)).toBe(false)
    await store.close()
  })

  it('writes every chunk concurrently and persists them all', async () => {
    const { data, chunked: { id, manifest, manifestBytes } } = await source(CS * 40 + 7)
    const dataDir = join(dir, 'data')
    let store = await openStore({ dataDir })
    const a = await store.create(manifest, manifestBytes, id)
    const results = await Promise.all(manifest.chunks.map(async (_, i) => a.writeChunk(i, slice(data, i))))
    expect(results.every(Boolean)).toBe(true)
    expect(a.haveCount).toBe(41)
    await store.close()
    store = await openStore({ dataDir })
    const b = store.get(id)!
    expect(b.haveCount).toBe(41)
    const dest = join(dir, 'done.bin')
    await b.finalize(dest)
    expect(sha(await readFile(dest))).toBe(sha(data))
    await store.close()
  })

  it('is idempotent on create and handles a 0-byte artifact', async () => {
    const { chunked: { id, manifest, manifestBytes } } = await source(0, 'empty.bin')
    const store = await openStore({ dataDir: join(dir, 'data') })
    const [a, b] = await Promise.all([store.create(manifest, manifestBytes, id), store.create(manifest, manifestBytes, id)])
    expect(a).toBe(b)
    expect(await store.create(manifest, manifestBytes, id)).toBe(a)
    expect(a.haveCount).toBe(0)
    expect(a.isComplete).toBe(false)
    const dest = join(dir, 'out', 'empty.bin')
    await a.finalize(dest)
    expect((await stat(dest)).size).toBe(0)
    expect(a.isComplete).toBe(true)
    await store.close()
  })

  it('serves a complete file in place with addComplete, and never deletes it', async () => {
    const { path, data, chunked: { id, manifest, manifestBytes } } = await source(CS * 3 + 9)
    const store = await openStore({ dataDir: join(dir, 'data') })
    const a = await store.addComplete(manifest, manifestBytes, id, path)
    expect(a.isComplete).toBe(true)
    expect(a.path).toBe(path)
    expect(a.haveCount).toBe(4)
    expect(await a.readChunk(3)).toEqual(new Uint8Array(data.subarray(3 * CS)))
    expect(await a.writeChunk(0, slice(data, 0))).toBe(true)
    await store.remove(id)
    expect(store.get(id)).toBeUndefined()
    expect(sha(await readFile(path))).toBe(sha(data))
    await store.close()
  })

  it('rejects addComplete for a missing or wrong-size file', async () => {
    const { path, chunked: { id, manifest, manifestBytes } } = await source(CS)
    const store = await openStore({ dataDir: join(dir, 'data') })
    expect((await errorOf(store.addComplete(manifest, manifestBytes, id, join(dir, 'nope')))).code).toBe('ERR_NOT_FOUND')
    await writeFile(path, 'short')
    expect((await errorOf(store.addComplete(manifest, manifestBytes, id, path))).code).toBe('ERR_SIZE_MISMATCH')
    await store.close()
  })

  it('removes a partial artifact and its .part file', async () => {
    const { data, chunked: { id, manifest, manifestBytes } } = await source(CS * 2)
    const dataDir = join(dir, 'data')
    let store = await openStore({ dataDir })
    const a = await store.create(manifest, manifestBytes, id)
    await a.writeChunk(1, slice(data, 1))
    await store.remove(id.toString())
    expect(store.get(id)).toBeUndefined()
    expect(await readdir(join(dataDir, 'partial'))).toEqual([])
    await expect(a.writeChunk(0, slice(data, 0))).rejects.toMatchObject({ code: 'ERR_CLOSED' })
    await store.close()
    store = await openStore({ dataDir })
    expect(store.list()).toEqual([])
    await store.close()
  })

  it('rejects a bad manifest or id on create', async () => {
    const { chunked: { id, manifest, manifestBytes } } = await source(CS)
    const { chunked: other } = await source(CS, 'other.bin')
    const store = await openStore({ dataDir: join(dir, 'data') })
    await expect(store.create(manifest, manifestBytes, other.id)).rejects.toMatchObject({ code: 'ERR_BAD_MANIFEST' })
    expect(store.get(other.id)).toBeUndefined()
    expect(store.get('not a cid')).toBeUndefined()
    expect(store.get(id)).toBeUndefined()
    await store.close()
  })

  it('fails with ERR_DATA_DIR when dataDir is a regular file', async () => {
    const file = join(dir, 'file')
    await writeFile(file, 'x')
    const err = await errorOf(openStore({ dataDir: file }))
    expect(err.code).toBe('ERR_DATA_DIR')
    expect(err.message).toContain(file)
    expect(err.message).not.toContain('\n')
    expect((await errorOf(openStore({ dataDir: join(file, 'sub') }))).code).toBe('ERR_DATA_DIR')
  })

  it('fails with ERR_DATA_DIR when the db is in use', async () => {
    const dataDir = join(dir, 'data')
    const store = await openStore({ dataDir })
    expect((await errorOf(openStore({ dataDir }))).code).toBe('ERR_DATA_DIR')
    await store.close()
  })
})
