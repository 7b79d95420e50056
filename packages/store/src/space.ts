/**
 * Disk space: free bytes of a filesystem, and turning "disk full" errno values into one
 * typed error so callers can pause downloads or evict instead of crashing.
 */
import { statfs } from 'node:fs/promises'
import { formatBytes } from '@shoal/content'
import { StoreError } from './errors.js'

/** Bytes an unprivileged process may still write on the filesystem holding `dir`. */
export async function freeBytes (dir: string): Promise<number> {
  const s = await statfs(dir)
  return s.bavail * s.bsize
}

/** True for errors meaning the disk (or the user's quota) is full. */
export function isNoSpace (err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return code === 'ENOSPC' || code === 'EDQUOT'
}

/** The `'ERR_NO_SPACE'` error for `dir`; `needed`/`free` are added when known. */
export function noSpaceError (dir: string, cause?: unknown, needed?: number, free?: number): StoreError {
  const amounts = needed != null && free != null ? ` (need ${formatBytes(needed)}, ${formatBytes(free)} free)` : ''
  return new StoreError(`${dir}: not enough disk space${amounts} — free space or lower the retention budget`, 'ERR_NO_SPACE', { cause })
}
