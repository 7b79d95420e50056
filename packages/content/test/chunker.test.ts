import { chmod, mkdir, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import { chunkFile, chunkStream, chunkCid, decodeManifest, verifyChunk, ContentError, type Chunk } from '../src/index.js'
import { concat, randomFile, tempDir } from './helpers.js'

const CS = 1024
let dir: string
let cleanup: () => Promise<void>

beforeAll(async () => { ({ dir, cleanup } = await tempDir()) })
afterAll(async () => { await cleanup() })

async function collect (source: AsyncIterable<Chunk>): Promise<Chunk[]> {
  const out: Chunk[] = []
  for await (const c of source) out.push(c)
  return out
}

async function * pieces (data: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  let o = 0
  let i = 0
  while (o < data.byteLength) {
    const n = sizes[i++ % sizes.length]
    yield data.subarray(o, o + n)
    o += n
  }
}

describe('chunkStream', () => {
  it.each([
    [0, [7]],
    [1, [1]],
    [CS * 3, [CS]],
    [CS * 3 + 1, [CS * 3 + 1]],
    [CS * 5 + 17, [1, 333, 1025, 7, 4096, 0, 2048]]
  ])('re-slices %i bytes from pieces %p', async (size, sizes) => {
    const { data } = await randomFile(dir, `s${size}`, size)
    const chunks = await collect(chunkStream(pieces(data, sizes), CS))
    expect(chunks).toHaveLength(Math.ceil(size / CS))
    chunks.forEach((c, i) => {
      expect(c.index).toBe(i)
      expect(c.offset).toBe(i * CS)
      expect(c.bytes.byteLength).toBe(Math.min(CS, size - i * CS))
      expect(verifyChunk(c.cid, c.bytes)).toBe(true)
    })
    expect(concat(chunks.map(c => c.bytes))).toEqual(data)
  })

  it('rejects a bad chunk size', async () => {
    await expect(collect(chunkStream(pieces(new Uint8Array(1), [1]), 10))).rejects.toMatchObject({ code: 'ERR_INVALID_CHUNK_SIZE' })
  })
})

describe('chunkFile', () => {
  it.each([0, 1, CS, CS * 4, CS * 4 + 1])('chunks a %i-byte file', async (size) => {
    const { path, data } = await randomFile(dir, `f${size}.bin`, size)
    const progress: Array<[number, number]> = []
    const res = await chunkFile(path, { chunkSize: CS, onProgress: (d, t) => progress.push([d, t]) })
    expect(res.manifest.size).toBe(size)
    expect(res.manifest.name).toBe(`f${size}.bin`)
    expect(res.manifest.chunks).toHaveLength(Math.ceil(size / CS))
    res.manifest.chunks.forEach((cid, i) => {
      expect(cid.equals(chunkCid(data.subarray(i * CS, (i + 1) * CS)))).toBe(true)
    })
    expect(progress.at(-1)).toEqual([size, size])
    expect(decodeManifest(res.manifestBytes, res.id)).toEqual(res.manifest)
  })

  it('gives the same id for the same file and options, another for another chunk size', async () => {
    const { path } = await randomFile(dir, 'same.bin', CS * 3 + 5)
    const a = await chunkFile(path, { chunkSize: CS })
    const b = await chunkFile(path, { chunkSize: CS })
    const c = await chunkFile(path, { chunkSize: CS * 2 })
    expect(a.id.equals(b.id)).toBe(true)
    expect(a.id.equals(c.id)).toBe(false)
    // createdAt defaults to mtime: touching the file changes the id
    await utimes(path, new Date(), new Date(Date.now() + 5000))
    const d = await chunkFile(path, { chunkSize: CS })
    expect(a.id.equals(d.id)).toBe(false)
  })

  it('uses the default chunk size and records options', async () => {
    const { path } = await randomFile(dir, 'opts.bin', 10)
    const res = await chunkFile(path, { name: 'renamed.bin', createdAt: 42, publisher: '12D3KooWtest' })
    expect(res.manifest).toMatchObject({ chunkSize: 1_048_576, name: 'renamed.bin', createdAt: 42, publisher: '12D3KooWtest' })
  })

  it.each([
    ['missing file', async () => chunkFile(join(dir, 'nope.bin')), 'ERR_NOT_FOUND'],
    ['directory', async () => { await mkdir(join(dir, 'sub'), { recursive: true }); return chunkFile(join(dir, 'sub')) }, 'ERR_IS_DIRECTORY'],
    ['chunk size too small', async () => chunkFile(join(dir, 'f1.bin'), { chunkSize: 1023 }), 'ERR_INVALID_CHUNK_SIZE'],
    ['chunk size too big', async () => chunkFile(join(dir, 'f1.bin'), { chunkSize: 4 * 1_048_576 + 1 }), 'ERR_INVALID_CHUNK_SIZE'],
    ['non-integer chunk size', async () => chunkFile(join(dir, 'f1.bin'), { chunkSize: 1024.5 }), 'ERR_INVALID_CHUNK_SIZE'],
    ['unsafe name', async () => chunkFile(join(dir, 'f1.bin'), { name: '../x' }), 'ERR_INVALID_NAME']
  ])('fails clearly on %s', async (_, run, code) => {
    const err = await run().then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(ContentError)
    expect((err as ContentError).code).toBe(code)
    expect((err as ContentError).message).not.toContain('\n')
  })

  it('reports a missing file with the path and a hint', async () => {
    await expect(chunkFile('/x/y.bin')).rejects.toThrow('/x/y.bin: no such file — check the path')
  })

  const asRoot = process.getuid?.() === 0
  ;(asRoot ? it.skip : it)('fails with ERR_UNREADABLE on an unreadable file', async () => {
    const { path } = await randomFile(dir, 'secret.bin', 10)
    await chmod(path, 0o000)
    await expect(chunkFile(path)).rejects.toMatchObject({ code: 'ERR_UNREADABLE' })
  })

  it('aborts', async () => {
    const { path } = await randomFile(dir, 'abort.bin', CS * 4)
    const ac = new AbortController()
    await expect(chunkFile(path, { chunkSize: CS, signal: ac.signal, onProgress: () => ac.abort() })).rejects.toMatchObject({ code: 'ERR_ABORTED' })
  })
})
