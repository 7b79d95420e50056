/**
 * The store: opens the data directory and metadata db, loads every artifact into memory at
 * startup (checking it against the disk, see recover.ts), and creates, registers, archives
 * and removes artifacts.
 *
 * Layout: `<dataDir>/partial/<id>.part` (files being downloaded), `<dataDir>/archive/<id>/<name>`
 * (archived complete files) and `<dataDir>/db` (level).
 */
import { constants } from 'node:fs'
import { access, mkdir, open, readdir, rmdir, stat, unlink } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { Bitfield, decodeManifest, type Manifest } from '@shoal/content'
import { CID } from 'multiformats/cid'
import { Artifact, type ArtifactHandle } from './artifact.js'
import { StoreDb, type ArtifactRecord, type LoadedArtifact } from './db.js'
import { StoreError } from './errors.js'
import { full, recoverComplete, recoverPartial, type RecoverContext, type Recovered, type StoreRepair } from './recover.js'
import { freeBytes, isNoSpace, noSpaceError } from './space.js'
import { Tombstones } from './tombstones.js'

/** Options for {@link openStore}. */
export interface StoreInit {
  /** Directory holding partial files and the metadata db; created (recursively) if missing. */
  dataDir: string
  /**
   * Check every artifact against the disk on open: re-hash the held chunks of partial
   * artifacts, and re-hash complete files whose size or mtime changed since they were last
   * known good. Findings are in {@link Store.repairs}. When false, nothing is re-hashed (only
   * a missing file or `.part` is still noticed); reads still verify every chunk.
   *
   * @default true
   */
  verifyOnOpen?: boolean
  /**
   * How many tombstones ({@link RemoveOptions.tombstone}) to keep; the oldest go first.
   *
   * @default 10000
   */
  maxTombstones?: number
}

/** Options for {@link Store.remove}. */
export interface RemoveOptions {
  /**
   * Also delete the complete file, if the store wrote it (downloaded or archived). A file
   * registered with `addComplete` is never deleted.
   *
   * @default false
   */
  deleteFile?: boolean
  /**
   * Remember the removal across restarts ({@link Store.wasRemoved}), so an evicted artifact
   * is not fetched again when re-announced. A later `create` or `addComplete` clears it.
   *
   * @default false
   */
  tombstone?: boolean
}

/** Options for {@link Store.findByPath}. */
export interface FindByPathOptions {
  /** Only an artifact chunked with this chunk size. */
  chunkSize?: number
}

/** What the store holds, for a byte-budget retention policy. */
export interface StoreUsage {
  /** Sum of the manifest sizes of every stored artifact (a partial one counts in full: its `.part` is pre-sized). */
  bytes: number
  /** Number of stored artifacts. */
  artifacts: number
}

/** The on-disk artifact store. */
export interface Store {
  /** Absolute data directory. */
  readonly dataDir: string
  /** What the check on open found wrong and fixed (see {@link StoreInit.verifyOnOpen}); empty when all was well. */
  readonly repairs: readonly StoreRepair[]
  /** The artifact with this id (CID or CID string), if stored. */
  get: (id: CID | string) => ArtifactHandle | undefined
  /** Every stored artifact. */
  list: () => ArtifactHandle[]
  /**
   * Start storing an artifact to download: checks free space, pre-sizes
   * `<dataDir>/partial/<id>.part` and records an empty bitfield. Idempotent: returns the
   * existing handle if the id is already stored. Clears a tombstone for the id.
   *
   * @throws {ManifestError} if `manifestBytes` does not decode and hash to `id`
   * @throws {StoreError} `'ERR_NO_SPACE'` if the partial dir's filesystem has less free space
   * than the artifact's size (nothing is created)
   */
  create: (manifest: Manifest, manifestBytes: Uint8Array, id: CID) => Promise<ArtifactHandle>
  /**
   * Register an existing complete file in place (a publisher serving its source file without
   * copying). If the id is held partially, the partial download is discarded. The file is
   * external: the store never moves or deletes it. Clears a tombstone for the id.
   *
   * @throws {StoreError} `'ERR_NOT_FOUND'` or `'ERR_SIZE_MISMATCH'` if `path` is not a file of `manifest.size` bytes
   */
  addComplete: (manifest: Manifest, manifestBytes: Uint8Array, id: CID, path: string) => Promise<ArtifactHandle>
  /**
   * Forget an artifact and delete its `.part` file. A complete file is kept unless
   * `options.deleteFile` (and then only if the store wrote it).
   */
  remove: (id: CID | string, options?: RemoveOptions) => Promise<void>
  /** Whether `id` was removed with `tombstone: true` (and not stored again since); survives reopen. */
  wasRemoved: (id: CID | string) => boolean
  /**
   * Move a complete file the store wrote into `<dataDir>/archive/<id>/<name>` (e.g. before a
   * new version is finalized onto its path) and keep serving it from there.
   *
   * @returns the new absolute path
   * @throws {StoreError} `'ERR_NOT_FOUND'` if not stored; `'ERR_NOT_ARCHIVABLE'` if partial or
   * external; `'ERR_NO_SPACE'` if a copy across filesystems runs out of space
   */
  archive: (id: CID | string) => Promise<string>
  /**
   * The complete external artifact registered (`addComplete`) from this path whose file still
   * has the size and mtime recorded then, so re-publishing an unchanged file can skip hashing.
   * If several match (different chunk sizes), the most recently stored, unless
   * `options.chunkSize` picks one.
   */
  findByPath: (path: string, options?: FindByPathOptions) => Promise<ArtifactHandle | undefined>
  /** Bytes and count of stored artifacts. */
  usage: () => StoreUsage
  /** Free bytes on the filesystem holding the partial dir. */
  freeSpace: () => Promise<number>
  /** Close every open file and the db. */
  close: () => Promise<void>
}

const DEFAULT_MAX_TOMBSTONES = 10_000

/**
 * Open (creating if needed) the store in `init.dataDir`, checking every artifact against the
 * disk unless `init.verifyOnOpen` is false.
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
  const store = new DiskStore(dataDir, db, init.maxTombstones ?? DEFAULT_MAX_TOMBSTONES)
  try {
    await store.load(init.verifyOnOpen ?? true)
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
  readonly #archiveDir: string
  readonly #db: StoreDb
  readonly #tombstones: Tombstones
  readonly #artifacts = new Map<string, Artifact>()
  readonly #pending = new Map<string, Promise<Artifact>>()
  readonly #repairs: StoreRepair[] = []
  #closed = false

  constructor (dataDir: string, db: StoreDb, maxTombstones: number) {
    this.dataDir = dataDir
    this.#partialDir = join(dataDir, 'partial')
    this.#archiveDir = join(dataDir, 'archive')
    this.#db = db
    this.#tombstones = new Tombstones(db, maxTombstones)
  }

  get repairs (): readonly StoreRepair[] {
    return this.#repairs
  }

  /** Load (and check) every record; a record that no longer decodes is skipped, not fatal. */
  async load (verify: boolean): Promise<void> {
    await this.#tombstones.load()
    const known = new Set<string>()
    for await (const loaded of this.#db.loadAll()) {
      known.add(loaded.record.id)
      const artifact = await this.#restore(loaded, verify).catch(() => undefined)
      if (artifact != null) this.#artifacts.set(artifact.key, artifact)
    }
    await this.#removeOrphans(known)
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
    let mtimeMs: number
    try {
      const s = await stat(file)
      if (!s.isFile()) throw Object.assign(new Error('not a file'), { code: 'ENOENT' })
      size = s.size
      mtimeMs = s.mtimeMs
    } catch (err) {
      throw new StoreError(`${file}: no such file — pass the path of the published file`, 'ERR_NOT_FOUND', { cause: err })
    }
    if (size !== manifest.size) {
      throw new StoreError(`${file}: is ${size} bytes but the manifest says ${manifest.size} — the file changed since it was chunked; re-publish it`, 'ERR_SIZE_MISMATCH')
    }
    if (existing != null) await this.remove(key)
    const record: ArtifactRecord = {
      id: key,
      state: 'complete',
      path: file,
      createdAt: Date.now(),
      name: manifest.name,
      size: manifest.size,
      external: true,
      fileSize: size,
      fileMtimeMs: mtimeMs
    }
    await this.#db.put(record, manifestBytes)
    this.#tombstones.cleared(key)
    const bitfield = full(manifest.chunks.length)
    const artifact = new Artifact({ id, manifest, manifestBytes, bitfield, record, partPath: this.#partPath(key), db: this.#db })
    this.#artifacts.set(key, artifact)
    return artifact
  }

  async remove (id: CID | string, options: RemoveOptions = {}): Promise<void> {
    this.#assertOpen()
    const key = toKey(id)
    if (key == null) return
    await this.#pending.get(key)?.catch(() => {})
    const tombstoneAt = options.tombstone === true ? Date.now() : undefined
    const artifact = this.#artifacts.get(key)
    if (artifact != null) {
      this.#artifacts.delete(key)
      await artifact.close() // waits for a move (archive) in flight
    }
    if (artifact != null || tombstoneAt != null) await this.#db.delete(key, tombstoneAt)
    if (tombstoneAt != null) await this.#tombstones.added(key, tombstoneAt)
    if (artifact == null) return
    if (!artifact.isComplete) {
      await unlink(artifact.partPath).catch(ignoreEnoent)
    } else if (options.deleteFile === true && !artifact.external && artifact.path != null) {
      await unlink(artifact.path).catch(ignoreEnoent)
      if (dirname(artifact.path) === join(this.#archiveDir, key)) await rmdir(dirname(artifact.path)).catch(() => {})
    }
  }

  wasRemoved (id: CID | string): boolean {
    const key = toKey(id)
    return key != null && this.#tombstones.has(key)
  }

  async archive (id: CID | string): Promise<string> {
    this.#assertOpen()
    const key = toKey(id)
    const artifact = key == null ? undefined : this.#artifacts.get(key)
    if (key == null || artifact == null) {
      throw new StoreError(`${String(id)} is not stored — nothing to archive`, 'ERR_NOT_FOUND')
    }
    if (!artifact.isComplete) {
      throw new StoreError(`${key} is still partial — only complete files the store wrote can be archived; remove it instead`, 'ERR_NOT_ARCHIVABLE')
    }
    if (artifact.external) {
      throw new StoreError(`${key} is served from ${artifact.path ?? '?'}, which the store did not write — the store never moves such files; remove it instead`, 'ERR_NOT_ARCHIVABLE')
    }
    const dest = join(this.#archiveDir, key, artifact.manifest.name)
    try {
      return await artifact.relocate(dest)
    } catch (err) {
      if (!isNoSpace(err)) throw err
      const free = await freeBytes(this.dataDir).catch(() => undefined)
      throw noSpaceError(this.#archiveDir, err, free == null ? undefined : artifact.manifest.size, free)
    }
  }

  async findByPath (path: string, options: FindByPathOptions = {}): Promise<ArtifactHandle | undefined> {
    this.#assertOpen()
    const file = resolve(path)
    const candidates = () => [...this.#artifacts.values()].filter(a =>
      a.isComplete && a.external && a.path === file &&
      (options.chunkSize == null || a.manifest.chunkSize === options.chunkSize))
    if (candidates().length === 0) return undefined
    const s = await stat(file).catch(() => undefined)
    if (s == null || !s.isFile()) return undefined
    // Re-list after the await: one may have been removed meanwhile.
    const unchanged = candidates().filter(a => a.record.fileSize === s.size && a.record.fileMtimeMs === s.mtimeMs)
    return unchanged.sort((a, b) => b.storedAt - a.storedAt)[0]
  }

  usage (): StoreUsage {
    let bytes = 0
    for (const a of this.#artifacts.values()) bytes += a.manifest.size
    return { bytes, artifacts: this.#artifacts.size }
  }

  async freeSpace (): Promise<number> {
    return await freeBytes(this.#partialDir)
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
    // The .part is sparse, so creating it would succeed on a full disk and fail chunk by chunk
    // later: refuse up front instead. (statfs unsupported → let the writes tell.)
    const free = await freeBytes(this.#partialDir).catch(() => undefined)
    if (free != null && free < manifest.size) throw noSpaceError(this.#partialDir, undefined, manifest.size, free)
    const partPath = this.#partPath(key)
    // 'w+' truncates any stale leftover; ftruncate pre-sizes (sparse) so chunks land in place.
    const fh = await open(partPath, 'w+')
    try {
      await fh.truncate(manifest.size)
      const bitfield = new Bitfield(manifest.chunks.length)
      const record: ArtifactRecord = {
        id: key,
        state: 'partial',
        path: null,
        createdAt: Date.now(),
        name: manifest.name,
        size: manifest.size,
        external: false
      }
      await this.#db.put(record, manifestBytes, bitfield.toBytes())
      this.#tombstones.cleared(key)
      const artifact = new Artifact({ id, manifest, manifestBytes, bitfield, record, partPath, db: this.#db, fh })
      this.#artifacts.set(key, artifact)
      return artifact
    } catch (err) {
      await fh.close().catch(() => {})
      await unlink(partPath).catch(() => {})
      throw isNoSpace(err) ? noSpaceError(this.#partialDir, err) : err
    }
  }

  async #restore (loaded: LoadedArtifact, verify: boolean): Promise<Artifact | undefined> {
    const { manifestBytes, bitfieldBytes } = loaded
    if (manifestBytes == null) return undefined
    const id = CID.parse(loaded.record.id)
    const manifest = decodeManifest(manifestBytes, id)
    const record = upgrade(loaded.record, manifest)
    const partPath = this.#partPath(record.id)
    const count = manifest.chunks.length
    const ctx: RecoverContext = {
      db: this.#db,
      manifest,
      manifestBytes,
      record,
      partPath,
      verify,
      report: repair => { this.#repairs.push(repair) }
    }
    let state: Recovered | undefined
    if (record.state === 'complete') {
      // A check that fails (I/O error) keeps the record: reads still verify every chunk.
      state = await recoverComplete(ctx).catch(() => ({ record, bitfield: full(count) }))
    } else {
      let bitfield: Bitfield
      try {
        bitfield = Bitfield.fromBytes(count, bitfieldBytes ?? new Uint8Array(0))
      } catch {
        bitfield = new Bitfield(count)
      }
      state = { record, bitfield: await recoverPartial(ctx, bitfield) }
    }
    if (state == null) return undefined
    return new Artifact({ id, manifest, manifestBytes, bitfield: state.bitfield, record: state.record, partPath, db: this.#db })
  }

  // Leftovers of a crash: .part files without a record (e.g. a demotion cut short) and temp
  // files of an interrupted copy. Only names the store itself creates are touched.
  async #removeOrphans (known: Set<string>): Promise<void> {
    const names = await readdir(this.#partialDir).catch(() => [])
    for (const name of names) {
      const part = /^(.+)\.part$/.exec(name)
      const orphan = part != null ? !known.has(part[1]) : name.endsWith('.shoal-tmp')
      if (orphan) await unlink(join(this.#partialDir, name)).catch(() => {})
    }
  }

  #partPath (key: string): string {
    return join(this.#partialDir, `${key}.part`)
  }

  #assertOpen (): void {
    if (this.#closed) throw new StoreError(`${this.dataDir}: the store is closed — open it again`, 'ERR_CLOSED')
  }
}

/**
 * Fill in fields that records written by older versions lack. A complete record without
 * `external` may be a file the store did not write, so it is treated as external: the store
 * then never moves or deletes it.
 */
function upgrade (record: ArtifactRecord, manifest: Manifest): ArtifactRecord {
  return {
    ...record,
    name: record.name ?? manifest.name,
    size: record.size ?? manifest.size,
    external: record.external ?? record.state === 'complete'
  }
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
