import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A fresh temp dir; call the returned cleanup in afterAll. */
export async function tempDir (): Promise<{ dir: string, cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-content-'))
  return { dir, cleanup: async () => { await rm(dir, { recursive: true, force: true }) } }
}

/** Write `size` random bytes to `dir/name`. */
export async function randomFile (dir: string, name: string, size: number): Promise<{ path: string, data: Uint8Array }> {
  const data = new Uint8Array(randomBytes(size))
  const path = join(dir, name)
  await writeFile(path, data)
  return { path, data }
}

/** Concatenate byte arrays. */
export function concat (parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.byteLength }
  return out
}
