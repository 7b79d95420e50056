/**
 * The check run on open: makes every loaded record agree with what is really on disk after a
 * crash, a power loss, a full disk or someone editing files behind the store's back. Each
 * fix is reported as a {@link StoreRepair} so the node can log it.
 */
import type { Stats } from 'node:fs'
import { open, stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import { Bitfield, type Manifest } from '@shoal/content'
import type { ArtifactRecord, StoreDb } from './db.js'
import { moveFile, syncDir } from './fs-utils.js'
import { findBadChunks } from './verify.js'

/** Something the open-time check found wrong with one artifact, and what it did about it. */
export interface StoreRepair {
  /** Artifact id (CID string). */
  id: string
  /** The manifest's file name. */
  name: string
  /** What was wrong, one line for humans. */
  problem: string
  /**
   * What the store did:
   * - `'refetch'`: a partial artifact's bad chunks were marked missing, to be fetched again;
   * - `'demoted'`: a complete file the store wrote had bad chunks; it was moved back to
   *   `<dataDir>/partial/<id>.part` and is partial again, keeping the chunks that verified;
   * - `'dropped'`: the record was forgotten (file missing, or an external file changed —
   *   which the store never touches).
   */
  action: 'refetch' | 'demoted' | 'dropped'
  /**
   * Chunks found bad (all of them when the file is missing). For a changed external file the
   * check stops at the first bad chunk, so this is then a lower bound.
   */
  badChunks: number
}

/** @internal what the check needs to know about one artifact */
export interface RecoverContext {
  db: StoreDb
  manifest: Manifest
  manifestBytes: Uint8Array
  record: ArtifactRecord
  partPath: string
  /** Re-hash held chunks (verifyOnOpen); when false only cheap repairs are made. */
  verify: boolean
  report: (repair: StoreRepair) => void
}

/** @internal the artifact as it stands after the check */
export interface Recovered {
  record: ArtifactRecord
  bitfield: Bitfield
}

/**
 * Check a partial artifact: recreate a missing `.part`, re-size a wrong-sized one and re-hash
 * every chunk the bitfield says is held.
 *
 * Chunk writes are not fsync'ed one by one (that would cost a disk flush per chunk), and the
 * bitfield is persisted on its own schedule, so after a SIGKILL or power loss the bitfield
 * may be ahead of the data. Re-hashing here is what makes that safe: a chunk whose bytes did
 * not reach the disk fails its CID and is fetched again.
 */
export async function recoverPartial (ctx: RecoverContext, bitfield: Bitfield): Promise<Bitfield> {
  const { db, manifest, record, partPath } = ctx
  const size = await stat(partPath).then(s => s.size, () => undefined)
  if (size == null) {
    const lost = bitfield.count()
    await createSparse(partPath, manifest.size)
    const empty = new Bitfield(manifest.chunks.length)
    await db.putBitfield(record.id, empty.toBytes())
    if (lost > 0) ctx.report(repair(ctx, `${partPath} is missing — its ${lost} chunks will be fetched again`, 'refetch', lost))
    return empty
  }
  if (size !== manifest.size) {
    const fh = await open(partPath, 'r+')
    try { await fh.truncate(manifest.size) } finally { await fh.close() }
  }
  if (!ctx.verify || bitfield.count() === 0) return bitfield
  const held = bitfield.count()
  const bad = await scan(partPath, manifest, bitfield.indices())
  if (bad.length === 0) return bitfield
  for (const i of bad) bitfield.unset(i)
  await db.putBitfield(record.id, bitfield.toBytes())
  ctx.report(repair(ctx, `${bad.length} of ${held} held chunks failed verification (unclean shutdown or disk corruption)`, 'refetch', bad.length))
  return bitfield
}

/**
 * Check a complete artifact: a missing file drops the record; a file whose size or mtime
 * changed since it was last known good is re-hashed. Good → the new mtime is recorded. Bad →
 * a file the store wrote is demoted to partial (its good chunks kept), an external file's
 * record is dropped (the file is never touched).
 *
 * @returns the artifact's new state, or undefined if its record was dropped
 */
export async function recoverComplete (ctx: RecoverContext): Promise<Recovered | undefined> {
  const { db, manifest, record } = ctx
  const path = record.path ?? ''
  const count = manifest.chunks.length
  let s: Stats
  try {
    s = await stat(path)
    if (!s.isFile()) throw Object.assign(new Error('not a file'), { code: 'ENOENT' })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    // Anything but "not there" (EACCES, EIO…) may pass: keep the record, reads will tell.
    if (code !== 'ENOENT' && code !== 'ENOTDIR') return { record, bitfield: full(count) }
    await db.delete(record.id)
    ctx.report(repair(ctx, `${path} is missing — forgot it`, 'dropped', count))
    return undefined
  }
  if (!ctx.verify || (s.size === record.fileSize && s.mtimeMs === record.fileMtimeMs)) return { record, bitfield: full(count) }
  if (record.fileMtimeMs == null && s.size === manifest.size) {
    // Written before records kept mtimes: take today's file as the baseline, as reads did.
    return { record: await rebase(ctx, s), bitfield: full(count) }
  }
  const external = record.external === true
  const wrongSize = s.size !== manifest.size
  if (external && wrongSize) {
    await db.delete(record.id)
    ctx.report(repair(ctx, `${path} is ${s.size} bytes but the artifact is ${manifest.size} — it changed since it was added; forgot it`, 'dropped', 1))
    return undefined
  }
  const bad = await scan(path, manifest, range(count), external)
  if (bad.length === 0 && !wrongSize) return { record: await rebase(ctx, s), bitfield: full(count) }
  if (external) {
    await db.delete(record.id)
    ctx.report(repair(ctx, `${path} no longer matches the artifact (chunk ${bad[0]} differs) — it changed since it was added; forgot it`, 'dropped', bad.length))
    return undefined
  }
  // Move it out of the output dir first: a crash before the db write then leaves a record
  // whose file is missing (dropped next open), never a bad file sitting there looking complete.
  await moveFile(path, ctx.partPath)
  await syncDir(dirname(ctx.partPath))
  if (wrongSize) {
    const fh = await open(ctx.partPath, 'r+')
    try { await fh.truncate(manifest.size) } finally { await fh.close() }
  }
  const bitfield = full(count)
  for (const i of bad) bitfield.unset(i)
  const { fileSize: _s, fileMtimeMs: _m, ...rest } = record
  const partial: ArtifactRecord = { ...rest, state: 'partial', path: null, external: false }
  await db.put(partial, ctx.manifestBytes, bitfield.toBytes())
  const what = wrongSize ? `is ${s.size} bytes but the artifact is ${manifest.size}` : `has ${bad.length} corrupt chunks`
  ctx.report(repair(ctx, `${path} ${what} — moved back to ${ctx.partPath} to fetch them again`, 'demoted', bad.length))
  return { record: partial, bitfield }
}

/** A pre-sized (sparse) file, replacing any leftover. */
export async function createSparse (path: string, size: number): Promise<void> {
  const fh = await open(path, 'w+')
  try { await fh.truncate(size) } finally { await fh.close() }
}

/** A bitfield with every one of `size` bits set. */
export function full (size: number): Bitfield {
  const b = new Bitfield(size)
  for (let i = 0; i < size; i++) b.set(i)
  return b
}

async function rebase (ctx: RecoverContext, s: Stats): Promise<ArtifactRecord> {
  const record: ArtifactRecord = { ...ctx.record, fileSize: s.size, fileMtimeMs: s.mtimeMs }
  await ctx.db.putRecord(record)
  return record
}

async function scan (path: string, manifest: Manifest, indices: Iterable<number>, stopAtFirst = false): Promise<number[]> {
  const fh = await open(path, 'r')
  try {
    return await findBadChunks(fh, manifest, indices, { stopAtFirst })
  } finally {
    await fh.close()
  }
}

function * range (n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i
}

function repair (ctx: RecoverContext, problem: string, action: StoreRepair['action'], badChunks: number): StoreRepair {
  return { id: ctx.record.id, name: ctx.manifest.name, problem, action, badChunks }
}
