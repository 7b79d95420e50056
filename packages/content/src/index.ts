/**
 * @packageDocumentation
 *
 * Chunking, CIDs, manifests and verification for Shoal artifacts. No networking.
 *
 * A file is cut into fixed-size chunks (default 1 MiB), each addressed by the same
 * CIDv1/raw/sha2-256 IPFS gives a raw leaf. The ordered chunk CIDs go into a dag-cbor
 * manifest whose CID is the artifact id.
 *
 * @example
 *
 * ```ts
 * import { chunkFile, decodeManifest, verifyChunk, Bitfield } from '@shoal/content'
 *
 * // publisher side
 * const { id, manifest, manifestBytes } = await chunkFile('/srv/build.tar', {
 *   onProgress: (done, total) => console.log(`${done}/${total}`)
 * })
 * console.log('artifact id', id.toString())
 *
 * // receiver side: bytes from an untrusted peer
 * const m = decodeManifest(manifestBytes, id) // throws ManifestError on mismatch
 * const have = new Bitfield(m.chunks.length)
 * if (verifyChunk(m.chunks[0], receivedBytes)) have.set(0)
 * ```
 */

export { ContentError, ManifestError, type ContentErrorCode } from './errors.js'
export { RAW_CODEC, DAG_CBOR_CODEC, SHA2_256_CODE, chunkCid, verifyChunk, parseArtifactId, sha256 } from './cid.js'
export {
  DEFAULT_CHUNK_SIZE,
  MAX_CHUNK_SIZE,
  MIN_CHUNK_SIZE,
  MAX_CHUNKS,
  MAX_MANIFEST_BYTES,
  type Manifest,
  chunkCount,
  chunkOffset,
  chunkLength,
  isSafeName,
  isValidChunkSize,
  manifestSigningBytes,
  encodeManifest,
  decodeManifest,
  validateManifest
} from './manifest.js'
export { chunkStream, chunkFile, type Chunk, type ChunkFileOptions, type ChunkedFile } from './chunker.js'
export { Bitfield } from './bitfield.js'
export type { CID } from 'multiformats/cid'
export { formatBytes, formatRate, parseBytes, parseRate } from './format.js'
