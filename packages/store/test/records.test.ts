// What records carry (external, storedAt, file size and mtime), records written by older
// versions, and leftovers of a crash in the partial dir.
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { openStore, type Store } from '../src/index.js'
import { chunkOf, errorOf, makeSource, sha } from './helpers.js'

const CS = 1024
let dir: string
let dataDir: string
let store: Store | undefined

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-records-'))
  dataDir = join(dir, 'data')
})
afterEach(async () => {
  await store?.close()
  store = undefined
  await rm(dir, { recursive: true, force: true })
})

async function reopen (): Promise<Store> {
  await store?.close()
  store = await openStore({ dataDir })
  return store
}

describe('records', () => {
  it('tell external files from downloaded ones and keep when each was stored', async () => {
    let s = await reopen()
    const t0 = Date.now()
    const ext = await makeSource(dir, CS * 2, CS, 'ext.bin')
    const e = await s.addComplete(ext.chunked.manifest, ext.chunked.manifestBytes, ext.chunked.id, ext.path)
    const dl = await makeSource(dir, CS * 2, CS, 'dl.bin')
    const d = await s.create(dl.chunked.manifest, dl.chunked.manifestBytes, dl.chunked.id)
    const t1 = Date.now()
    expect(e.external).toBe(true)
    expect(d.external).toBe(false)
    for (const h of [e, d]) {
      expect(h.storedAt).toBeGreaterThanOrEqual(t0)
      expect(h.storedAt).toBeLessThanOrEqual(t1)
    }
    for (let i = 0; i < 2; i++) await d.writeChunk(i, chunkOf(dl.data, i, CS))
    await d.finalize(join(dir, 'out', 'dl.bin'))
    expect(d.external).toBe(false)
    const storedAt = d.storedAt

    s = await reopen()
    expect(s.get(ext.chunked.id)!.external).toBe(true)
    expect(s.get(dl.chunked.id)!.external).toBe(false)
    expect(s.get(dl.chunked.id)!.storedAt).toBe(storedAt)
  })

  it('load records written before they carried name, size, external and the file mtime', async () => {
    let s = await reopen()
    const ext = await makeSource(dir, CS * 2, CS, 'ext.bin')
    await s.addComplete(ext.chunked.manifest, ext.chunked.manifestBytes, ext.chunked.id, ext.path)
    const dl = await makeSource(dir, CS * 3, CS, 'dl.bin')
    const d = await s.create(dl.chunked.manifest, dl.chunked.manifestBytes, dl.chunked.id)
    for (let i = 0; i < 3; i++) await d.writeChunk(i, chunkOf(dl.data, i, CS))
    const dest = await d.finalize(join(dir, 'out', 'dl.bin'))
    const part = await makeSource(dir, CS * 3, CS, 'part.bin')
    const p = await s.create(part.chunked.manifest, part.chunked.manifestBytes, part.chunked.id)
    await p.writeChunk(1, chunkOf(part.data, 1, CS))
    await s.close()
    store = undefined

    // Rewrite every record in the old shape: { id, state, path, createdAt } only.
    const db = new Level<string, string>(join(dataDir, 'db'))
    const records = db.sublevel<string, Record<string, unknown>>('artifact', { valueEncoding: 'json' })
    for (const [key, r] of await records.iterator().all()) {
      await records.put(key, { id: r.id, state: r.state, path: r.path, createdAt: r.createdAt })
    }
    await db.close()

    s = await reopen()
    expect(s.repairs).toEqual([])
    expect(s.list()).toHaveLength(3)
    expect(s.get(part.chunked.id)!.external).toBe(false)
    expect(s.get(part.chunked.id)!.has(1)).toBe(true)
    // Unsure who wrote a complete file: treated as external, so never moved or deleted.
    const old = s.get(dl.chunked.id)!
    expect(old.external).toBe(true)
    expect((await errorOf(s.archive(dl.chunked.id))).code).toBe('ERR_NOT_ARCHIVABLE')
    expect(await old.readChunk(2)).toEqual(new Uint8Array(chunkOf(dl.data, 2, CS)))
    // Today's files became the baseline: the re-publish cache works again.
    expect((await s.findByPath(ext.path))?.id.toString()).toBe(ext.chunked.id.toString())
    await s.remove(dl.chunked.id, { deleteFile: true })
    expect(sha(await readFile(dest))).toBe(sha(dl.data))
    expect(s.usage()).toEqual({ bytes: CS * 5, artifacts: 2 })
  })

  it('clears crash leftovers in the partial dir, and nothing else', async () => {
    let s = await reopen()
    const { chunked: { id, manifest, manifestBytes } } = await makeSource(dir, CS, CS)
    await s.create(manifest, manifestBytes, id)
    await s.close()
    const partial = join(dataDir, 'partial')
    await writeFile(join(partial, 'bafyreiorphan.part'), 'x')
    await writeFile(join(partial, '.bafyreiorphan.part.1a2b3c4d.shoal-tmp'), 'x')
    await writeFile(join(partial, 'notes.txt'), 'x')
    s = await reopen()
    expect((await readdir(partial)).sort()).toEqual([`${id.toString()}.part`, 'notes.txt'])
    expect(s.get(id)).toBeDefined()
  })
})
