/**
 * @packageDocumentation
 *
 * The on-disk artifact store. As in BitTorrent and Kraken, the file itself is the store:
 * verified chunks are written at their offsets into `<dataDir>/partial/<id>.part`, a
 * have-bitfield is persisted in a level db at `<dataDir>/db`, and the file is fsync'ed and
 * renamed into its final place once every chunk is held. No artifact is read whole into
 * memory.
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

export { openStore, type Store, type StoreInit } from './store.js'
export type { ArtifactHandle } from './artifact.js'
export { StoreError, type StoreErrorCode } from './errors.js'
