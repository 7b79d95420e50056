/**
 * @packageDocumentation
 *
 * The on-disk artifact store. As in BitTorrent and Kraken, the file itself is the store:
 * verified chunks are written at their offsets into `<dataDir>/partial/<id>.part`, a
 * have-bitfield is persisted in a level db at `<dataDir>/db`, and the file is fsync'ed and
 * renamed into its final place once every chunk is held. No artifact is read whole into
 * memory.
 *
 * Durability and faults:
 *
 * - **Verify on open.** Chunk writes are not fsync'ed one by one, so after a crash the
 *   bitfield may be ahead of the data. On open the store re-hashes every held chunk of each
 *   partial artifact and marks bad ones missing; a complete file whose size or mtime changed
 *   is re-hashed too: a file the store wrote is demoted back to partial (keeping the chunks
 *   that verify), a record whose file is missing, or whose external file changed, is dropped.
 *   What it found is in `store.repairs` (`verifyOnOpen: false` skips the re-hashing).
 * - **Verify on read.** `readChunk` re-hashes what it read: bytes that do not match their
 *   CID are never returned (`'ERR_CORRUPT_CHUNK'`); a partial artifact marks the chunk
 *   missing, a complete file is fully re-checked on the next open.
 * - **Disk space.** `create` refuses an artifact that does not fit (`'ERR_NO_SPACE'`,
 *   nothing created); a full disk during `writeChunk` or `finalize` gives `'ERR_NO_SPACE'`
 *   and leaves the artifact as it was, ready to retry once space is freed.
 * - **Retention.** `usage()`, `remove(id, { deleteFile, tombstone })` with `wasRemoved(id)`
 *   surviving restarts, `archive(id)` to keep serving an old version from
 *   `<dataDir>/archive/`, and `findByPath` so re-publishing an unchanged file skips hashing.
 *   Files registered with `addComplete` are never moved or deleted by the store.
 *
 * @example
 *
 * ```ts
 * import { openStore } from '@shoal/store'
 * import { decodeManifest } from '@shoal/content'
 *
 * const store = await openStore({ dataDir: '/var/lib/shoal' })
 * const manifest = decodeManifest(manifestBytes, id)
 * const artifact = await store.create(manifest, manifestBytes, id)
 *
 * // bytes from a peer: verified against the manifest before anything is written
 * if (!await artifact.writeChunk(index, bytes)) {
 *   // bad chunk: drop the peer
 * }
 *
 * if (artifact.haveCount === manifest.chunks.length) {
 *   await artifact.finalize(`/srv/downloads/${manifest.name}`)
 * }
 * const chunk = await artifact.readChunk(0) // serve it to another peer
 * await store.close()
 * ```
 */

export { openStore, type Store, type StoreInit, type RemoveOptions, type FindByPathOptions, type StoreUsage } from './store.js'
export type { ArtifactHandle } from './artifact.js'
export type { StoreRepair } from './recover.js'
export { StoreError, type StoreErrorCode } from './errors.js'
