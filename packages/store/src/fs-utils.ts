/**
 * File helpers: positional I/O loops (a single read/write may be short) and a durable move
 * that falls back to copy when source and destination are on different filesystems.
 */
import { randomBytes } from 'node:crypto'
import { copyFile, open, rename, unlink, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/** Write all of `bytes` at `position`. */
export async function writeFully (fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0
  while (done < bytes.byteLength) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.byteLength - done, position + done)
    done += bytesWritten
  }
}

/** Read exactly `length` bytes at `position`; returns fewer only at end of file. */
export async function readFully (fh: FileHandle, length: number, position: number): Promise<Uint8Array> {
  // allocUnsafeSlow: a buffer of its own, not a view into Node's shared pool
  const buf = Buffer.allocUnsafeSlow(length)
  let done = 0
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done)
    if (bytesRead === 0) break
    done += bytesRead
  }
  return new Uint8Array(buf.buffer, buf.byteOffset, done)
}

/** fsync a directory so a rename in it survives power loss (best effort: not all platforms allow it). */
export async function syncDir (dir: string): Promise<void> {
  let fh: FileHandle | undefined
  try {
    fh = await open(dir, 'r')
    await fh.sync()
  } catch {
    // ignore: e.g. Windows cannot open directories
  } finally {
    await fh?.close().catch(() => {})
  }
}

/**
 * Move `src` to `dest` (replacing it). Across filesystems (EXDEV), copy to a temp file
 * beside `dest`, fsync, rename into place, then unlink `src`.
 */
export async function moveFile (src: string, dest: string): Promise<void> {
  try {
    await rename(src, dest)
    return
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err
  }
  const tmp = join(dirname(dest), `.${basename(dest)}.${randomBytes(4).toString('hex')}.shoal-tmp`)
  try {
    await copyFile(src, tmp)
    const fh = await open(tmp, 'r+')
    try { await fh.sync() } finally { await fh.close() }
    await rename(tmp, dest)
  } catch (err) {
    await unlink(tmp).catch(() => {})
    throw err
  }
  await unlink(src)
}
