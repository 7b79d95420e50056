/**
 * The store: opens the data directory and metadata db, loads every artifact into memory
 * at startup, and creates, registers and removes artifacts.
 *
 * Layout: `<dataDir>/partial/<id>.part` (files being downloaded) and `<dataDir>/db` (level).
 */
import { constants } from 'node:fs'
import { access, mkdir, open, stat, unlink } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { Bitfield, decodeManifest, type Manifest } from '@shoal/content'
import { CID } from 'multiformats/cid'
import { Artifact, type ArtifactHandle } from './artifact.js'
import { StoreDb, type ArtifactRecord, type LoadedArtifact } from './db.js'
import { StoreError } from './errors.js'

/** Options for {@link openStore}. */
export interface StoreInit {
  /** Directory holding partial files and the metadata db; created (recursively) if missing. */
  dataDir: string
}

/** The on-disk artifact store. */
export interface Store {
  /** Absolute data directory. */
  readonly dataDir: string
  /** The artifact with this id (CID or CID string), if stored. */
  get: (id: CID | string) => ArtifactHandle | undefined
  /** Every stored artifact. */
  list: () => ArtifactHandle[]
  /**
   * Start storing an artifact to download: pre-sizes `<dataDir>/partial/<id>.part` and records
   * an empty bitfield. Idempotent: returns the existing handle if the id is already stored.
   *
   * @throws {ManifestError} if `manifestBytes` does not decode and hash to `id`
   */
  create: (manifest: Manifest, manifestBytes: Uint8Array, id: CID) => Promise<ArtifactHandle>
  /**
   * Register an existing complete file in place (a publisher serving its source file without
   * copying). If the id is held partially, the partial download is discarded.
   *
   * @throws {StoreError} `'ERR_NOT_FOUND'` or `'ERR_SIZE_MISMATCH'` if `path` is not a file of `manifest.size` bytes
   */
  addComplete: (manifest: Manifest, manifestBytes: Uint8Array, id: CID, path: string) => Promise<ArtifactHandle>
  /** Forget an artifact and delete its `.part` file; never deletes a complete file. */
  remove: (id: CID | string) => Promise<void>
  /** Close every open file and the db. */
  close: () => Promise<void>
}

/**
 * Open (creating if needed) the store in `init.dataDir`.
 *
 * @throws {StoreError} `'ERR_DATA_DIR'` if the directory is not a writable directory or its db is in use
 */
export async function openStore (init: StoreInit): Promise<Store> {
  const dataDir = resolve(init.dataDir)
  await prepareDataDir(dataDir)
  const db = new StoreDb(join(dataDir, 'db'))
  try {
    await db.open()
  } catch (err) {
    const locked = (err as { cause?: { code?: string } }).cause?.code === 'LEVEL_LOCKED'
    throw new StoreError(locked
      ? `${dataDir}: its database is in use by another Shoal process — stop that process or use another dataDir`
      : `${dataDir}: cannot open the database (${(err as Error).message}) — check the directory`, 'ERR_DATA_DIR', { cause: err })
  }
  const store = new DiskStore(dataDir, db)
  try {
    await store.load()
  } catch (err) {
    await db.close().catch(() => {})
    throw err
  }
  return store
}

async function prepareDataDir (dataDir: string): Promise<void> {
  try {
    await mkdir(join(dataDir, 'partial'), { recursive: true })
    if (!(await stat(dataDir)).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' })
    await access(dataDir, constants.W_OK | constants.X_OK)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const why = code === 'EEXIST' || code === 'ENOTDIR'
      ? 'not a directory — set dataDir to a directory (it is created if missing)'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied — make it writable by this user or choose another dataDir'
        : `unusable (${(err as Error).message}) — choose another dataDir`
    throw new StoreError(`${dataDir}: ${why}`, 'ERR_DATA_DIR', { cause: err })
  }
}

class DiskStore implements Store {
  readonly dataDir: string
  readonly #partialDir: string
  readonly #db: StoreDb
  readonly #artifacts = new Map<string, Artifact>()
  readonly #pending = new Map<string, Promise<Artifact>>()
  #closed = false

  constructor (dataDir: string, db: StoreDb) {
    this.dataDir = dataDir
    this.#partialDir = join(dataDir, 'partial')
    this.#db = db
  }

  /** Load every record; a record that no longer decodes is skipped, not fatal. */
  async load (): Promise<void> {
    for await (const loaded of this.#db.loadAll()) {
      const artifact = await this.#restore(loaded).catch(() => undefined)
      if (artifact != null) this.#artifacts.set(artifact.key, artifact)
    }
  }

  get (id: CID | string): ArtifactHandle | undefined {
    const key = toKey(id)
    return key == null ? undefined : this.#artifacts.get(key)
  }

  list (): ArtifactHandle[] {
    return [...this.#artifacts.values()]
  }

  async create (_manifest: Manifest, manifestBytes: Uint8Array, id: CID): Promise<ArtifactHandle> {
    this.#assertOpen()
    const key = id.toString()
    const existing = this.#artifacts.get(key) ?? this.#pending.get(key)
    if (existing != null) return existing
    const creating = this.#createPartial(key, id, manifestBytes).finally(() => this.#pending.delete(key))
    this.#pending.set(key, creating)
    return creating
  }

  async addComplete (_manifest: Manifest, manifestBytes: Uint8Array, id: CID, path: string): Promise<ArtifactHandle> {
    this.#assertOpen()
    const key = id.toString()
    await this.#pending.get(key)?.catch(() => {})
    const existing = this.#artifacts.get(key)
    if (existing?.isComplete === true) return existing
    // Trust the bytes, not the object: the stored manifest is what the id names.
    const manifest = decodeManifest(manifestBytes, id)
    const file = resolve(path)
    let size: number
    try {
      const s = await stat(file)
      if (!s.isFile()) throw Object.assign(new Error('not a file'), { code: 'ENOENT' })
      size = s.size
    } catch (err) {
      throw new StoreError(`${file}: no such file — pass the path of the published file`, 'ERR_NOT_FOUND', { cause: err })
    }
    if (size !== manifest.size) {
      throw new StoreError(`${file}: is ${size} bytes but the manifest says ${manifest.size} — the file changed since it was chunked; re-publish it`, 'ERR_SIZE_MISMATCH')
    }
    if (existing != null) await this.remove(key)
    const record: ArtifactRecord = { id: key, state: 'complete', path: file, createdAt: Date.now() }
    await this.#db.put(record, manifestBytes)
    const bitfield = fullBitfield(manifest.chunks.length)
    const artifact = new Artifact({ id, manifest, manifestBytes, bitfield, record, partPath: this.#partPath(key), db: this.#db })
    this.#artifacts.set(key, artifact)
    return artifact
  }

  async remove (id: CID | string): Promise<void> {
    this.#assertOpen()
    const key = toKey(id)
    if (key == null) return
    await this.#pending.get(key)?.catch(() => {})
    const artifact = this.#artifacts.get(key)
    if (artifact == null) return
    this.#artifacts.delete(key)
    await artifact.close()
    await this.#db.delete(key)
    if (!artifact.isComplete) await unlink(artifact.partPath).catch(ignoreEnoent)
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.allSettled(this.#pending.values())
    await Promise.all([...this.#artifacts.values()].map(async a => { await a.close() }))
    this.#artifacts.clear()
    await this.#db.close()
  }

  async #createPartial (key: string, id: CID, manifestBytes: Uint8Array): Promise<Artifact> {
    const manifest = decodeManifest(manifestBytes, id)
    const partPath = this.#partPath(key)
    // 'w+' truncates any stale leftover; ftruncate pre-sizes (sparse) so chunks land in place.
    const fh = await open(partPath, 'w+')
    try {
      await fh.truncate(manifest.size)
      const bitfield = new Bitfield(manifest.chunks.length)
      const record: ArtifactRecord = { id: key, state: 'partial', path: null, createdAt: Date.now() }
      await this.#db.put(record, manifestBytes, bitfield.toBytes())
      const artifact = new Artifact({ id, manifest, manifestBytes, bitfield, record, partPath, db: this.#db, fh })
      this.#artifacts.set(key, artifact)
      return artifact
    } catch (err) {
      await fh.close().catch(() => {})
      await unlink(partPath).catch(() => {})
      throw err
    }
  }

  async #restore ({ record, manifestBytes, bitfieldBytes }: LoadedArtifact): Promise<Artifact | undefined> {
    if (manifestBytes == null) return undefined
    const id = CID.parse(record.id)
    const manifest = decodeManifest(manifestBytes, id)
    const partPath = this.#partPath(record.id)
    const count = manifest.chunks.length
    if (record.state === 'complete') {
      return new Artifact({ id, manifest, manifestBytes, bitfield: fullBitfield(count), record, partPath, db: this.#db })
    }
    let bitfield: Bitfield
    try {
      bitfield = Bitfield.fromBytes(count, bitfieldBytes ?? new Uint8Array(0))
    } catch {
      bitfield = new Bitfield(count)
    }
    // If the .part file vanished, its chunks are gone too: start it over.
    const size = await stat(partPath).then(s => s.size, () => undefined)
    if (size == null) {
      const fh = await open(partPath, 'w+')
      try { await fh.truncate(manifest.size) } finally { await fh.close() }
      bitfield = new Bitfield(count)
      await this.#db.putBitfield(record.id, bitfield.toBytes())
    } else if (size !== manifest.size) {
      const fh = await open(partPath, 'r+')
      try { await fh.truncate(manifest.size) } finally { await fh.close() }
    }
    return new Artifact({ id, manifest, manifestBytes, bitfield, record, partPath, db: this.#db })
  }

  #partPath (key: string): string {
    return join(this.#partialDir, `${key}.part`)
  }

  #assertOpen (): void {
    if (this.#closed) throw new StoreError(`${this.dataDir}: the store is closed — open it again`, 'ERR_CLOSED')
  }
}

function fullBitfield (size: number): Bitfield {
  const b = new Bitfield(size)
  for (let i = 0; i < size; i++) b.set(i)
  return b
}

// Normalise any CID spelling (or a CID object) to the canonical string key.
function toKey (id: CID | string): string | undefined {
  try {
    return (typeof id === 'string' ? CID.parse(id) : id).toString()
  } catch {
    return undefined
  }
}

function ignoreEnoent (err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err
}
