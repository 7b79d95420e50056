/**
 * Re-hashing chunks already on disk. Streams one chunk at a time through two reused buffers:
 * the next chunk is read while the current one is hashed, so memory stays at two chunks
 * and the disk and the hash overlap instead of taking turns.
 */
import type { FileHandle } from 'node:fs/promises'
import { chunkLength, chunkOffset, verifyChunk, type Manifest } from '@shoal/content'

/** Options for {@link findBadChunks}. */
export interface ScanOptions {
  /**
   * Stop at the first bad chunk (when only "is it all good?" matters).
   *
   * @default false
   */
  stopAtFirst?: boolean
}

/**
 * Check chunks `indices` (ascending) of the file open as `fh` against `manifest`.
 * A chunk that cannot be read whole (file too short, I/O error) counts as bad.
 *
 * @returns the indices that do not match their CID
 */
export async function findBadChunks (fh: FileHandle, manifest: Manifest, indices: Iterable<number>, options: ScanOptions = {}): Promise<number[]> {
  const bad: number[] = []
  const it = indices[Symbol.iterator]()
  let current = it.next()
  if (current.done === true) return bad
  const buffers = [Buffer.allocUnsafeSlow(manifest.chunkSize), Buffer.allocUnsafeSlow(manifest.chunkSize)]
  let slot = 0
  let reading = readChunkInto(fh, manifest, current.value, buffers[slot])
  while (current.done !== true) {
    const index: number = current.value
    const got = await reading
    const buf = buffers[slot]
    const next = it.next()
    slot ^= 1
    if (next.done !== true) reading = readChunkInto(fh, manifest, next.value, buffers[slot])
    if (got == null || !verifyChunk(manifest.chunks[index], got === buf.byteLength ? buf : buf.subarray(0, got))) {
      bad.push(index)
      if (options.stopAtFirst === true) {
        if (next.done !== true) await reading // never rejects; leave no read behind
        break
      }
    }
    current = next
  }
  return bad
}

// Read chunk `index` into `buf`; resolves to its length, or undefined if it could not be read whole.
async function readChunkInto (fh: FileHandle, manifest: Manifest, index: number, buf: Buffer): Promise<number | undefined> {
  const length = chunkLength(manifest, index)
  const position = chunkOffset(index, manifest.chunkSize)
  let done = 0
  try {
    while (done < length) {
      const { bytesRead } = await fh.read(buf, done, length - done, position + done)
      if (bytesRead === 0) return undefined
      done += bytesRead
    }
  } catch {
    return undefined
  }
  return length
}
