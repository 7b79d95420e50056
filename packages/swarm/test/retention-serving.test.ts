/**
 * Retention never pulls an artifact from under a peer that is downloading it: a node keeping one
 * version per name receives version 2 while another node is still fetching version 1 from it.
 * Version 1 must move aside (version 2 takes the name in the output dir), keep being served
 * until that peer has it, and only then be evicted, files and metadata, for good.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { useTestSwarm, completeOn, sha256, sha256File, statsOf, until } from './helpers.js'

const CHUNK = 256 * 1024
const SIZE = 16 * CHUNK

const ctx = useTestSwarm('shoal-retention-', 'retention-test')

async function version (n: number): Promise<{ path: string, digest: string }> {
  const data = randomBytes(SIZE)
  await mkdir(join(ctx.swarm.dir, `v${n}`), { recursive: true })
  const path = join(ctx.swarm.dir, `v${n}`, 'model.bin')
  await writeFile(path, data)
  // Versions are ordered by the manifest's createdAt, which is the file's mtime.
  const t = new Date(Date.UTC(2026, 0, n))
  await utimes(path, t, t)
  return { path, digest: sha256(data) }
}

it('keeps serving an old version to a peer mid-download, then evicts it', async () => {
  const v1 = await version(1)
  const v2 = await version(2)
  const keeper = await ctx.swarm.start('keeper', { retention: { keepPerName: 1 } })
  const events: Array<{ id: string }> = []
  keeper.addEventListener('evicted', (evt) => { events.push({ id: evt.detail.id }) })

  // Version 1 reaches the keeper; its publisher leaves, so the keeper is the only holder.
  const pub1 = await ctx.swarm.start('pub1', { fetchAnnounced: false })
  const { id: id1 } = await pub1.publish(v1.path, { chunkSize: CHUNK })
  const k1 = id1.toString()
  await until('the keeper to hold version 1', () => completeOn(keeper, k1), 60_000)
  await pub1.stop()

  // A slow peer starts fetching version 1 from the keeper.
  const slow = await ctx.swarm.start('slow', { fetchAnnounced: false, exchange: { maxDownloadBytesPerSecond: 256 * 1024 } })
  const slowDone = slow.fetch(id1, [{ id: keeper.peerId, multiaddrs: keeper.libp2p.getMultiaddrs() }])
  slowDone.catch(() => {})
  await until('the slow peer to be mid-download', () => (statsOf(slow, k1)?.have ?? 0) >= 2, 60_000)

  // Version 2 arrives at the keeper and takes the name.
  const pub2 = await ctx.swarm.start('pub2', { fetchAnnounced: false })
  const { id: id2 } = await pub2.publish(v2.path, { chunkSize: CHUNK })
  const k2 = id2.toString()
  await until('the keeper to hold version 2', () => completeOn(keeper, k2), 60_000)
  expect(await sha256File(join(keeper.config.outputDir, 'model.bin'))).toBe(v2.digest)

  // Version 1 is still there for the slow peer, which finishes it byte-identical.
  const path = await slowDone
  expect(await sha256File(path)).toBe(v1.digest)
  expect(statsOf(slow, k1)?.bytesReceivedFrom[keeper.peerId.toString()]).toBe(SIZE)

  // Only then is version 1 evicted: gone from the store, its archived file deleted.
  await until('the keeper to evict version 1', () => events.some(e => e.id === k1), 30_000)
  expect(events.some(e => e.id === k2)).toBe(false)
  expect(keeper.store.get(k1)).toBeUndefined()
  expect(keeper.store.wasRemoved(k1)).toBe(true)
  expect(await readdir(join(keeper.config.dataDir, 'store', 'archive')).catch(() => [])).not.toContain(k1)
  expect(await readdir(keeper.config.outputDir)).toEqual(['model.bin'])
}, 180_000)
