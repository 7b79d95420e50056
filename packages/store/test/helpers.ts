// Shared by the store's test files: random source files, chunk slicing, error capture and
// a small tmpfs for disk-full tests.
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { open, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { chunkFile, type ChunkedFile } from '@shoal/content'
import { StoreError } from '../src/index.js'

/** A random file of `size` bytes in `dir`, chunked. */
export async function makeSource (dir: string, size: number, chunkSize: number, name = 'src.bin'): Promise<{ path: string, data: Buffer, chunked: ChunkedFile }> {
  const data = randomBytes(size)
  const path = join(dir, name)
  await writeFile(path, data)
  return { path, data, chunked: await chunkFile(path, { chunkSize }) }
}

/** Chunk `i` of `data`. */
export function chunkOf (data: Uint8Array, i: number, chunkSize: number): Uint8Array {
  return data.subarray(i * chunkSize, (i + 1) * chunkSize)
}

export function sha (b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex')
}

/** The StoreError `p` rejects with (fails the test if it resolves or throws something else). */
export async function errorOf (p: Promise<unknown>): Promise<StoreError> {
  const err = await p.then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(StoreError)
  return err as StoreError
}

/** Flip one byte of `path` at `position` in place. */
export async function flipByte (path: string, position: number): Promise<void> {
  const fh = await open(path, 'r+')
  try {
    const b = Buffer.alloc(1)
    await fh.read(b, 0, 1, position)
    b[0] ^= 0xff
    await fh.write(b, 0, 1, position)
  } finally {
    await fh.close()
  }
}

/** Set a file's atime and mtime to `seconds` (whole seconds survive a stat round trip exactly). */
export async function setTimes (path: string, seconds: number): Promise<void> {
  await utimes(path, seconds, seconds)
}

/** Mount a tmpfs of `size` (e.g. '4m') on `dir`; returns why not, or undefined on success. */
export function mountTmpfs (dir: string, size: string): string | undefined {
  if (process.platform !== 'linux') return `tmpfs needs Linux (this is ${process.platform})`
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root'
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' })
    return undefined
  } catch (err) {
    return `mount failed: ${String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim()}`
  }
}

/** Unmount `dir` (lazily if it is busy). */
export function unmount (dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' })
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' })
  }
}

/** Write to `path` until the filesystem is full. */
export async function fillDisk (path: string): Promise<void> {
  const fh = await open(path, 'w')
  const buf = Buffer.alloc(64 * 1024, 0xaa)
  try {
    for (;;) {
      const { bytesWritten } = await fh.write(buf, 0, buf.byteLength)
      if (bytesWritten === 0) break
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
  } finally {
    await fh.close()
  }
}
