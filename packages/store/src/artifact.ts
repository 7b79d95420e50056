/**
 * One artifact in the store. While partial, chunks are written in place into the `.part`
 * file through one kept-open FileHandle; the have-bitfield lives in memory and is persisted
 * through a coalescing promise chain so concurrent writes never race in the db. Every chunk
 * read is re-hashed before it is returned, so bytes that rotted on disk are never served.
 */
import { mkdir, open, stat, type FileHandle } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { Bitfield, chunkLength, chunkOffset, verifyChunk, type Manifest } from '@shoal/content'
import type { ArtifactRecord, StoreDb } from './db.js'
import { StoreError } from './errors.js'
import { moveFile, readFully, syncDir, writeFully } from './fs-utils.js'
import { freeBytes, isNoSpace, noSpaceError } from './space.js'
import type { CID } from 'multiformats/cid'

/** A stored artifact, partial or complete. Obtain one from a {@link Store}. */
export interface ArtifactHandle {
  /** Artifact id (CID of `manifestBytes`). */
  readonly id: CID
  /** The validated manifest. */
  readonly manifest: Manifest
  /** The manifest's dag-cbor bytes, as served to peers. Do not mutate. */
  readonly manifestBytes: Uint8Array
  /** A snapshot copy of the have-bitfield (changing it does not change the store). */
  readonly bitfield: Bitfield
  /** Number of chunks held. */
  readonly haveCount: number
  /** True once the file is complete and in its final place. */
  readonly isComplete: boolean
  /** Final path when complete, else undefined. */
  readonly path: string | undefined
  /**
   * True for a file registered with `addComplete` (e.g. a publisher's source file): the store
   * never moves, archives or deletes it.
   */
  readonly external: boolean
  /** When the store first stored this artifact, ms since the epoch. */
  readonly storedAt: number
  /** Whether chunk `index` is held (false for out-of-range indices). */
  has: (index: number) => boolean
  /** A copy of the have-bitfield's wire bytes (MSB first). */
  bitfieldBytes: () => Uint8Array
  /**
   * Verify `bytes` against the manifest's CID for `index` and, only if they match, write
   * them in place and record the chunk as held.
   *
   * @returns false (and writes nothing) for a bad index, wrong length or hash mismatch;
   * true once written, or if the chunk was already held
   * @throws {StoreError} `'ERR_NO_SPACE'` if the disk is full (the chunk is not recorded as held)
   */
  writeChunk: (index: number, bytes: Uint8Array) => Promise<boolean>
  /**
   * Read chunk `index` from disk and verify it against its CID before returning it.
   *
   * @throws {StoreError} `'ERR_MISSING_CHUNK'` if the chunk is not held;
   * `'ERR_CORRUPT_CHUNK'` if the bytes on disk no longer match (a partial artifact marks the
   * chunk missing so it is fetched again; a complete one is fully re-checked on next open);
   * `'ERR_FILE_CHANGED'` if a complete file became shorter than the artifact
   */
  readChunk: (index: number) => Promise<Uint8Array>
  /**
   * fsync the completed `.part` file and move it to `destPath` (directories are created,
   * an existing file is replaced). Reads afterwards come from `destPath`.
   *
   * @returns the absolute final path
   * @throws {StoreError} `'ERR_INCOMPLETE'` unless every chunk is held; `'ERR_NO_SPACE'` if
   * the destination's disk is full (copying across filesystems): the `.part` and the partial
   * state are left as they were
   */
  finalize: (destPath: string) => Promise<string>
}

/** @internal construction parameters */
export interface ArtifactInit {
  id: CID
  manifest: Manifest
  manifestBytes: Uint8Array
  bitfield: Bitfield
  record: ArtifactRecord
  partPath: string
  db: StoreDb
  fh?: FileHandle
}

/** @internal the store's implementation of {@link ArtifactHandle} */
export class Artifact implements ArtifactHandle {
  readonly id: CID
  readonly key: string
  readonly manifest: Manifest
  readonly manifestBytes: Uint8Array
  readonly partPath: string
  readonly #bitfield: Bitfield
  readonly #db: StoreDb
  #record: ArtifactRecord
  #fh: FileHandle | undefined
  #opening: Promise<FileHandle> | undefined
  #moving: Promise<void> | undefined
  #persisting: Promise<void> = Promise.resolve()
  #dirty = false
  #finalizing: Promise<string> | undefined
  #closed = false

  constructor (init: ArtifactInit) {
    this.id = init.id
    this.key = init.record.id
    this.manifest = init.manifest
    this.manifestBytes = init.manifestBytes
    this.#bitfield = init.bitfield
    this.#record = init.record
    this.partPath = init.partPath
    this.#db = init.db
    this.#fh = init.fh
  }

  get bitfield (): Bitfield { return this.#bitfield.clone() }
  get haveCount (): number { return this.#bitfield.count() }
  get isComplete (): boolean { return this.#record.state === 'complete' }
  get path (): string | undefined { return this.#record.path ?? undefined }
  get external (): boolean { return this.#record.external === true }
  get storedAt (): number { return this.#record.createdAt }
  /** The current persisted record (a copy). */
  get record (): ArtifactRecord { return { ...this.#record } }

  has (index: number): boolean {
    return Number.isInteger(index) && index >= 0 && index < this.#bitfield.size && this.#bitfield.get(index)
  }

  bitfieldBytes (): Uint8Array {
    return this.#bitfield.toBytes()
  }

  async writeChunk (index: number, bytes: Uint8Array): Promise<boolean> {
    this.#assertOpen()
    if (!Number.isInteger(index) || index < 0 || index >= this.#bitfield.size) return false
    if (this.#bitfield.get(index)) return true
    if (!(bytes instanceof Uint8Array) || bytes.byteLength !== chunkLength(this.manifest, index)) return false
    // Verify before touching the disk: unverified bytes never reach the file.
    if (!verifyChunk(this.manifest.chunks[index], bytes)) return false
    const fh = await this.#handle()
    try {
      await writeFully(fh, bytes, chunkOffset(index, this.manifest.chunkSize))
    } catch (err) {
      if (this.#closed) throw this.#closedError(err)
      // Writing into the sparse .part allocates blocks: a full disk shows up here.
      if (isNoSpace(err)) throw noSpaceError(dirname(this.partPath), err)
      throw err
    }
    // Another writer may have delivered the same chunk meanwhile; only the first persists.
    if (this.#bitfield.set(index)) await this.#persistBitfield()
    return true
  }

  async readChunk (index: number): Promise<Uint8Array> {
    this.#assertOpen()
    if (!this.has(index)) {
      throw new StoreError(`chunk ${index} of ${this.key} is not held — check has(index) before reading`, 'ERR_MISSING_CHUNK')
    }
    const length = chunkLength(this.manifest, index)
    const bytes = await this.#read(length, chunkOffset(index, this.manifest.chunkSize))
    if (bytes.byteLength !== length && this.isComplete) {
      await this.#distrust(index)
      throw new StoreError(`${this.path ?? this.partPath}: shorter than its manifest says — the file was truncated; reopen the store to re-check it (re-add a published file)`, 'ERR_FILE_CHANGED')
    }
    // A node must never send bytes that do not match the CID: re-hash what the disk gave.
    if (bytes.byteLength !== length || !verifyChunk(this.manifest.chunks[index], bytes)) {
      await this.#distrust(index)
      throw new StoreError(this.isComplete
        ? `chunk ${index} of ${this.key} in ${this.path ?? ''} is corrupt on disk — reopen the store to re-check the file and fetch bad chunks again`
        : `chunk ${index} of ${this.key} is corrupt on disk — it is marked missing and will be fetched again`, 'ERR_CORRUPT_CHUNK')
    }
    return bytes
  }

  async finalize (destPath: string): Promise<string> {
    this.#assertOpen()
    const dest = resolve(destPath)
    if (this.isComplete) {
      if (this.path === dest) return dest
      throw new StoreError(`${this.key} is already complete at ${this.path} — copy it from there`, 'ERR_ALREADY_COMPLETE')
    }
    if (!this.#bitfield.isComplete()) {
      throw new StoreError(`${this.key} has ${this.haveCount} of ${this.#bitfield.size} chunks — finish downloading before finalize`, 'ERR_INCOMPLETE')
    }
    this.#finalizing ??= this.#finalize(dest).finally(() => { this.#finalizing = undefined })
    return this.#finalizing
  }

  /**
   * Move a complete file to `dest` (directories are created) and read from there afterwards.
   * Reads keep working throughout: opens wait for the move, reads in flight finish on the
   * old fd and one that loses its fd to the switch retries on the new one.
   */
  async relocate (dest: string): Promise<string> {
    this.#assertOpen()
    const opening = this.#opening
    const previous = this.#moving
    let moved!: () => void
    const moving = new Promise<void>(resolve => { moved = resolve })
    this.#moving = moving
    try {
      await previous
      await opening?.catch(() => {})
      const from = this.#record.path
      if (from == null || !this.isComplete) throw new StoreError(`${this.key} is not complete — only complete files can be moved`, 'ERR_INCOMPLETE')
      if (from === dest) return dest
      await mkdir(dirname(dest), { recursive: true })
      await moveFile(from, dest)
      await syncDir(dirname(dest))
      const fh = this.#fh
      this.#record = { ...this.#record, path: dest }
      this.#fh = undefined
      // A copy across filesystems gets a new mtime; a re-check already asked for (0) stays.
      const s = await stat(dest).catch(() => undefined)
      const recheck = this.#record.fileMtimeMs === 0 || s == null
      this.#record = { ...this.#record, fileSize: s?.size ?? this.#record.fileSize, fileMtimeMs: recheck ? 0 : s.mtimeMs }
      await this.#db.putRecord(this.#record)
      await fh?.close().catch(() => {})
      return dest
    } finally {
      moved()
      if (this.#moving === moving) this.#moving = undefined
    }
  }

  /** Wait for pending bitfield writes and close the file; the handle is unusable afterwards. */
  async close (): Promise<void> {
    if (this.#closed) return
    await this.#finalizing?.catch(() => {})
    await this.#moving
    this.#closed = true
    await this.#persisting.catch(() => {})
    const fh = this.#fh ?? await this.#opening?.catch(() => undefined)
    this.#fh = undefined
    this.#opening = undefined
    await fh?.close().catch(() => {})
  }

  async #finalize (dest: string): Promise<string> {
    await this.#persisting.catch(() => {})
    const fh = await this.#handle()
    try {
      await fh.sync()
    } catch (err) {
      // Some filesystems allocate blocks only at fsync: the partial dir's disk is full.
      throw isNoSpace(err) ? noSpaceError(dirname(this.partPath), err) : err
    }
    try {
      await mkdir(dirname(dest), { recursive: true })
      // Across filesystems this copies; if that fails moveFile removes its temp file and
      // leaves the .part alone, so nothing here has changed yet.
      await moveFile(this.partPath, dest)
    } catch (err) {
      if (!isNoSpace(err)) throw err
      const free = await freeBytes(dirname(dest)).catch(() => undefined)
      throw noSpaceError(dirname(dest), err, free == null ? undefined : this.manifest.size, free)
    }
    await syncDir(dirname(dest))
    // Switch state before closing the old fd: reads that start now open the final path,
    // reads already in flight finish on the old fd (close waits for them).
    const s = await stat(dest).catch(() => undefined)
    const record: ArtifactRecord = {
      ...this.#record,
      state: 'complete',
      path: dest,
      external: false,
      fileSize: s?.size ?? this.manifest.size,
      fileMtimeMs: s?.mtimeMs ?? 0 // unknown: re-check on next open
    }
    this.#record = record
    this.#fh = undefined
    this.#opening = undefined
    await fh.close()
    await this.#db.putComplete(record)
    return dest
  }

  // Read at a position; a read whose fd was closed by a concurrent move retries on the new one.
  async #read (length: number, position: number): Promise<Uint8Array> {
    for (let attempt = 0; ; attempt++) {
      const fh = await this.#handle()
      try {
        return await readFully(fh, length, position)
      } catch (err) {
        if (this.#closed) throw this.#closedError(err)
        if (fh !== this.#fh && attempt < 2) continue
        throw err
      }
    }
  }

  // Chunk `index` failed its hash on disk: a partial artifact forgets it (to fetch it again),
  // a complete one zeroes its recorded mtime so the next open re-hashes the whole file.
  async #distrust (index: number): Promise<void> {
    if (this.isComplete) {
      if (this.#record.fileMtimeMs === 0) return
      this.#record = { ...this.#record, fileMtimeMs: 0 }
      await this.#db.putRecord(this.#record).catch(() => {})
    } else if (this.#bitfield.unset(index)) {
      await this.#persistBitfield().catch(() => {})
    }
  }

  // Coalescing: each call queues one run; a run finding nothing dirty returns at once,
  // so a burst of N chunk writes costs far fewer than N db puts.
  async #persistBitfield (): Promise<void> {
    this.#dirty = true
    const run = async (): Promise<void> => {
      if (!this.#dirty || this.#closed || this.isComplete) return
      this.#dirty = false
      try {
        await this.#db.putBitfield(this.key, this.#bitfield.toBytes())
      } catch (err) {
        this.#dirty = true
        throw err
      }
    }
    this.#persisting = this.#persisting.then(run, run)
    return this.#persisting
  }

  async #handle (): Promise<FileHandle> {
    if (this.#fh != null) return this.#fh
    this.#opening ??= (async () => {
      await this.#moving // a file being moved is opened where it ends up
      const path = this.#record.path ?? this.partPath
      const fh = await open(path, this.isComplete ? 'r' : 'r+')
      if (this.#closed) {
        await fh.close()
        throw this.#closedError()
      }
      this.#fh = fh
      return fh
    })().finally(() => { this.#opening = undefined })
    return this.#opening
  }

  #assertOpen (): void {
    if (this.#closed) throw this.#closedError()
  }

  #closedError (cause?: unknown): StoreError {
    return new StoreError(`${this.key}: the store was closed or the artifact removed — reopen the store`, 'ERR_CLOSED', { cause })
  }
}
