/**
 * One artifact in the store. While partial, chunks are written in place into the `.part`
 * file through one kept-open FileHandle; the have-bitfield lives in memory and is persisted
 * through a coalescing promise chain so concurrent writes never race in the db.
 */
import { mkdir, open, type FileHandle } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { Bitfield, chunkLength, chunkOffset, verifyChunk, type Manifest } from '@shoal/content'
import type { ArtifactRecord, StoreDb } from './db.js'
import { StoreError } from './errors.js'
import { moveFile, readFully, syncDir, writeFully } from './fs-utils.js'
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
   */
  writeChunk: (index: number, bytes: Uint8Array) => Promise<boolean>
  /**
   * Read chunk `index` from disk.
   *
   * @throws {StoreError} `'ERR_MISSING_CHUNK'` if the chunk is not held
   */
  readChunk: (index: number) => Promise<Uint8Array>
  /**
   * fsync the completed `.part` file and move it to `destPath` (directories are created,
   * an existing file is replaced). Reads afterwards come from `destPath`.
   *
   * @returns the absolute final path
   * @throws {StoreError} `'ERR_INCOMPLETE'` unless every chunk is held
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
  get createdAt (): number { return this.#record.createdAt }

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
      throw this.#closed ? this.#closedError(err) : err
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
    const fh = await this.#handle()
    let bytes: Uint8Array
    try {
      bytes = await readFully(fh, length, chunkOffset(index, this.manifest.chunkSize))
    } catch (err) {
      throw this.#closed ? this.#closedError(err) : err
    }
    if (bytes.byteLength !== length) {
      throw new StoreError(`${this.path ?? this.partPath}: shorter than its manifest says — the file was truncated or modified; remove and re-add it`, 'ERR_FILE_CHANGED')
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

  /** Wait for pending bitfield writes and close the file; the handle is unusable afterwards. */
  async close (): Promise<void> {
    if (this.#closed) return
    await this.#finalizing?.catch(() => {})
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
    await fh.sync()
    await mkdir(dirname(dest), { recursive: true })
    await moveFile(this.partPath, dest)
    await syncDir(dirname(dest))
    // Switch state before closing the old fd: reads that start now open the final path,
    // reads already in flight finish on the old fd (close waits for them).
    const record: ArtifactRecord = { ...this.#record, state: 'complete', path: dest }
    this.#record = record
    this.#fh = undefined
    this.#opening = undefined
    await fh.close()
    await this.#db.putComplete(record)
    return dest
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
