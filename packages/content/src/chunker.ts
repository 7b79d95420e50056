/**
 * Streaming chunker: cuts a byte stream into fixed-size chunks and hashes each one, holding
 * at most about one chunk plus one input piece, so a 50 GB file never sits in memory.
 */
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { basename } from 'node:path'
import type { CID } from 'multiformats/cid'
import { chunkCid } from './cid.js'
import { ContentError } from './errors.js'
import { DEFAULT_CHUNK_SIZE, MAX_CHUNKS, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, chunkCount, encodeManifest, isSafeName, isValidChunkSize, type Manifest } from './manifest.js'

/** One fixed-size slice of an artifact. */
export interface Chunk {
  /** Position in the manifest's `chunks`. */
  index: number
  /** Byte offset in the file. */
  offset: number
  /** The chunk's bytes (may be a view into an input piece). */
  bytes: Uint8Array
  /** Raw/sha2-256 CID of `bytes`. */
  cid: CID
}

/** Options for {@link chunkFile}. */
export interface ChunkFileOptions {
  /**
   * Chunk size in bytes, an integer in [MIN_CHUNK_SIZE, MAX_CHUNK_SIZE].
   *
   * @default DEFAULT_CHUNK_SIZE
   */
  chunkSize?: number
  /**
   * Name recorded in the manifest; must be a safe basename.
   *
   * @default basename(path)
   */
  name?: string
  /**
   * Creation time recorded in the manifest, ms since the epoch.
   *
   * @default the file's mtime in whole ms, so the same unchanged file gives the same id
   */
  createdAt?: number
  /**
   * Publisher's peer id string.
   *
   * @default undefined (omitted)
   */
  publisher?: string
  /** Called after each chunk is hashed (and once with `(0, 0)` for an empty file). */
  onProgress?: (bytesDone: number, totalBytes: number) => void
  /** Aborts reading; the promise rejects with ContentError `'ERR_ABORTED'`. */
  signal?: AbortSignal
}

/** Result of {@link chunkFile}. */
export interface ChunkedFile {
  /** Artifact id: CID of `manifestBytes`. */
  id: CID
  /** The decoded manifest. */
  manifest: Manifest
  /** dag-cbor encoding of `manifest`. */
  manifestBytes: Uint8Array
}

const READ_HIGH_WATER_MARK = 1_048_576

/**
 * Re-slice arbitrary input pieces into `chunkSize` chunks (the last one shorter; empty input
 * yields nothing). Pieces that already cover a whole chunk are passed through as views, so
 * copying is bounded by the bytes that straddle chunk boundaries.
 *
 * @throws {ContentError} `'ERR_INVALID_CHUNK_SIZE'` if `chunkSize` is out of range
 */
export async function * chunkStream (source: AsyncIterable<Uint8Array>, chunkSize: number): AsyncGenerator<Chunk> {
  assertChunkSize(chunkSize)
  let index = 0
  let offset = 0
  let pending: Uint8Array | undefined // partly filled chunk
  let filled = 0

  const emit = (bytes: Uint8Array): Chunk => {
    const chunk = { index: index++, offset, bytes, cid: chunkCid(bytes) }
    offset += bytes.byteLength
    return chunk
  }

  for await (const piece of source) {
    let pos = 0
    if (pending != null) {
      const n = Math.min(chunkSize - filled, piece.byteLength)
      pending.set(piece.subarray(0, n), filled)
      filled += n
      pos = n
      if (filled < chunkSize) continue
      const full = pending
      pending = undefined
      filled = 0
      yield emit(full)
    }
    while (piece.byteLength - pos >= chunkSize) {
      yield emit(piece.subarray(pos, pos + chunkSize))
      pos += chunkSize
    }
    if (pos < piece.byteLength) {
      // A fresh buffer per chunk: yielded bytes stay valid after the consumer moves on.
      pending = new Uint8Array(chunkSize)
      pending.set(piece.subarray(pos), 0)
      filled = piece.byteLength - pos
    }
  }
  if (pending != null && filled > 0) yield emit(pending.subarray(0, filled))
}

/**
 * Chunk and hash a file on disk, producing its manifest and artifact id. Streams the file;
 * only the chunk CIDs are kept.
 *
 * @throws {ContentError} `'ERR_NOT_FOUND'`, `'ERR_IS_DIRECTORY'`, `'ERR_NOT_A_FILE'`, `'ERR_UNREADABLE'`,
 * `'ERR_INVALID_CHUNK_SIZE'`, `'ERR_INVALID_NAME'`, `'ERR_FILE_CHANGED'` or `'ERR_ABORTED'`
 */
export async function chunkFile (path: string, options: ChunkFileOptions = {}): Promise<ChunkedFile> {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE
  assertChunkSize(chunkSize)
  const name = options.name ?? basename(path)
  if (!isSafeName(name)) throw new ContentError(`${JSON.stringify(name)} is not a safe file name — pass a plain basename as name`, 'ERR_INVALID_NAME')
  const { signal, onProgress } = options
  throwIfAborted(signal, path)

  const before = await statFile(path)
  const size = before.size
  const count = chunkCount(size, chunkSize)
  if (count > MAX_CHUNKS) {
    throw new ContentError(`${path}: ${size} bytes at chunkSize ${chunkSize} makes ${count} chunks (max ${MAX_CHUNKS}) — use a larger chunkSize`, 'ERR_INVALID_CHUNK_SIZE')
  }

  const chunks: CID[] = []
  let done = 0
  if (size > 0) {
    // Read exactly the size we stat'ed; a file that grows meanwhile is caught below.
    const stream = createReadStream(path, { highWaterMark: READ_HIGH_WATER_MARK, start: 0, end: size - 1 })
    try {
      for await (const chunk of chunkStream(stream, chunkSize)) {
        throwIfAborted(signal, path)
        chunks.push(chunk.cid)
        done += chunk.bytes.byteLength
        onProgress?.(done, size)
      }
    } catch (err) {
      throw toContentError(err, path)
    } finally {
      stream.destroy()
    }
  } else {
    onProgress?.(0, 0)
  }

  const after = await statFile(path)
  if (done !== size || after.size !== size || after.mtimeMs !== before.mtimeMs) {
    throw new ContentError(`${path}: file changed while it was being read — retry once nothing is writing to it`, 'ERR_FILE_CHANGED')
  }

  const manifest: Manifest = {
    version: 1,
    name,
    size,
    chunkSize,
    chunks,
    createdAt: options.createdAt ?? Math.floor(before.mtimeMs)
  }
  if (options.publisher !== undefined) manifest.publisher = options.publisher
  const { bytes, id } = encodeManifest(manifest)
  return { id, manifest, manifestBytes: bytes }
}

function assertChunkSize (chunkSize: number): void {
  if (!isValidChunkSize(chunkSize)) {
    throw new ContentError(`chunk size ${String(chunkSize)} is invalid — use an integer from ${MIN_CHUNK_SIZE} to ${MAX_CHUNK_SIZE} bytes`, 'ERR_INVALID_CHUNK_SIZE')
  }
}

async function statFile (path: string): Promise<{ size: number, mtimeMs: number }> {
  let s
  try {
    s = await stat(path)
  } catch (err) {
    throw toContentError(err, path)
  }
  if (s.isDirectory()) throw new ContentError(`${path}: is a directory — pass a file`, 'ERR_IS_DIRECTORY')
  if (!s.isFile()) throw new ContentError(`${path}: not a regular file — pass a file`, 'ERR_NOT_A_FILE')
  return { size: s.size, mtimeMs: s.mtimeMs }
}

function throwIfAborted (signal: AbortSignal | undefined, path: string): void {
  if (signal?.aborted === true) throw new ContentError(`${path}: chunking was aborted`, 'ERR_ABORTED', { cause: signal.reason })
}

function toContentError (err: unknown, path: string): Error {
  if (err instanceof ContentError) return err
  const code = (err as NodeJS.ErrnoException)?.code
  switch (code) {
    case 'ENOENT': return new ContentError(`${path}: no such file — check the path`, 'ERR_NOT_FOUND', { cause: err })
    case 'ENOTDIR': return new ContentError(`${path}: a parent of this path is not a directory — check the path`, 'ERR_NOT_FOUND', { cause: err })
    case 'EISDIR': return new ContentError(`${path}: is a directory — pass a file`, 'ERR_IS_DIRECTORY', { cause: err })
    case 'EACCES':
    case 'EPERM': return new ContentError(`${path}: permission denied — make the file readable by this user`, 'ERR_UNREADABLE', { cause: err })
    default: return new ContentError(`${path}: cannot read (${(err as Error)?.message ?? String(err)}) — check the file and disk`, 'ERR_UNREADABLE', { cause: err })
  }
}
