/**
 * The manifest: what an artifact is (name, size, ordered chunk CIDs). Encoded as dag-cbor;
 * the CID of those bytes is the artifact id. Decoding is strict because manifests come from
 * untrusted peers and drive what gets written to disk.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { DAG_CBOR_CODEC, RAW_CODEC, isSha256Cid, matchesId, sha256Cid } from './cid.js'
import { ManifestError } from './errors.js'

/** Default chunk size: 1 MiB. */
export const DEFAULT_CHUNK_SIZE = 1_048_576

/** Largest accepted chunk size: 4 MiB (bounds per-request memory). */
export const MAX_CHUNK_SIZE = 4 * 1_048_576

/** Smallest accepted chunk size: 1 KiB. */
export const MIN_CHUNK_SIZE = 1024

/** Most chunks a manifest may list (2^20: 1 TiB at the default chunk size). */
export const MAX_CHUNKS = 1_048_576

/** Largest encoded manifest a decoder accepts (~40 bytes per chunk CID, plus slack). */
export const MAX_MANIFEST_BYTES = 64 * 1_048_576

const MAX_NAME_BYTES = 255
const MAX_PUBLISHER_LENGTH = 256
const MAX_SIGNATURE_BYTES = 1024
const FIELDS = new Set(['version', 'name', 'size', 'chunkSize', 'chunks', 'createdAt', 'publisher', 'signature'])

/** Description of one artifact; its dag-cbor encoding's CID is the artifact id. */
export interface Manifest {
  /** Format version, always 1. */
  version: 1
  /** File name to save as: a safe basename (see {@link isSafeName}). */
  name: string
  /** Total size in bytes. */
  size: number
  /** Size of every chunk but the last. */
  chunkSize: number
  /** Raw/sha2-256 CID of each chunk, in file order. */
  chunks: CID[]
  /** Creation time, ms since the epoch. */
  createdAt: number
  /** Peer id string of the publisher. */
  publisher?: string
  /** Publisher's signature over {@link manifestSigningBytes}; not itself signed. */
  signature?: Uint8Array
}

/** Number of chunks of a `size`-byte file cut into `chunkSize` pieces. */
export function chunkCount (size: number, chunkSize: number): number {
  return Math.ceil(size / chunkSize)
}

/** Byte offset of chunk `index`. */
export function chunkOffset (index: number, chunkSize: number): number {
  return index * chunkSize
}

/**
 * Length of chunk `index` of `manifest` (the last one may be shorter).
 *
 * @throws {RangeError} if `index` is not a chunk of this manifest
 */
export function chunkLength (manifest: Pick<Manifest, 'size' | 'chunkSize'>, index: number): number {
  const count = chunkCount(manifest.size, manifest.chunkSize)
  if (!Number.isInteger(index) || index < 0 || index >= count) throw new RangeError(`chunk index ${index} out of range [0, ${count})`)
  return Math.min(manifest.chunkSize, manifest.size - chunkOffset(index, manifest.chunkSize))
}

/** True iff `n` is an integer chunk size within [MIN_CHUNK_SIZE, MAX_CHUNK_SIZE]. */
export function isValidChunkSize (n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= MIN_CHUNK_SIZE && n <= MAX_CHUNK_SIZE
}

/**
 * True iff `name` is safe to use as a file name in a download directory: non-empty,
 * at most 255 UTF-8 bytes, no `/`, `\` or NUL, and not `.` or `..`.
 */
export function isSafeName (name: unknown): name is string {
  return typeof name === 'string' &&
    name.length > 0 &&
    name !== '.' && name !== '..' &&
    !/[/\\\0]/.test(name) &&
    Buffer.byteLength(name, 'utf8') <= MAX_NAME_BYTES
}

/**
 * The bytes a publisher signs: the dag-cbor encoding of the manifest without `signature`.
 */
export function manifestSigningBytes (m: Manifest): Uint8Array {
  const { signature: _, ...unsigned } = toPlain(m)
  return dagCbor.encode(unsigned)
}

/**
 * Validate and encode a manifest.
 *
 * @returns the dag-cbor bytes and the artifact id (CIDv1, dag-cbor, sha2-256)
 * @throws {ManifestError} if the manifest is invalid (so bad manifests are never produced)
 */
export function encodeManifest (m: Manifest): { bytes: Uint8Array, id: CID } {
  validateManifest(m)
  const bytes = dagCbor.encode(toPlain(m))
  return { bytes, id: sha256Cid(DAG_CBOR_CODEC, bytes) }
}

/**
 * Decode and strictly validate manifest bytes, typically received from a peer.
 *
 * @param expectedId - if given, the bytes must hash to this id
 * @throws {ManifestError} with a one-line reason on any mismatch or invalid field
 */
export function decodeManifest (bytes: Uint8Array, expectedId?: CID): Manifest {
  if (!(bytes instanceof Uint8Array)) throw new ManifestError('manifest must be bytes')
  if (bytes.byteLength > MAX_MANIFEST_BYTES) throw new ManifestError(`manifest is ${bytes.byteLength} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit — refusing it`)
  if (expectedId != null && !matchesId(expectedId, bytes)) {
    throw new ManifestError(`manifest bytes do not hash to ${String(expectedId)} — the peer sent the wrong or a tampered manifest`)
  }
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (err) {
    throw new ManifestError(`manifest is not valid dag-cbor (${(err as Error).message}) — the peer sent garbage`, { cause: err })
  }
  validateManifest(value)
  return value
}

/**
 * Check that `m` is a well-formed version-1 manifest.
 *
 * @throws {ManifestError} naming the first bad field
 */
export function validateManifest (m: unknown): asserts m is Manifest {
  if (m == null || typeof m !== 'object' || Array.isArray(m)) throw new ManifestError('manifest must be a map')
  const o = m as Record<string, unknown>
  for (const key of Object.keys(o)) {
    // Undefined optional fields are fine in memory; they are dropped on encode.
    if (!FIELDS.has(key) && o[key] !== undefined) throw new ManifestError(`manifest has unknown field "${key}" — it was made by an incompatible publisher`)
  }
  if (o.version !== 1) throw new ManifestError(`manifest version ${String(o.version)} is not supported (need 1) — upgrade Shoal`)
  if (!isSafeName(o.name)) throw new ManifestError(`manifest name ${JSON.stringify(o.name)} is not a safe file name (non-empty, ≤ 255 bytes, no / \\ or NUL, not . or ..)`)
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) throw new ManifestError(`manifest size ${String(o.size)} is not a non-negative integer`)
  if (!isValidChunkSize(o.chunkSize)) throw new ManifestError(`manifest chunkSize ${String(o.chunkSize)} is not an integer in [${MIN_CHUNK_SIZE}, ${MAX_CHUNK_SIZE}]`)
  if (!Array.isArray(o.chunks)) throw new ManifestError('manifest chunks must be a list of CIDs')
  const expected = chunkCount(o.size, o.chunkSize)
  if (expected > MAX_CHUNKS) throw new ManifestError(`manifest has ${expected} chunks, over the ${MAX_CHUNKS} limit — publish with a larger chunkSize`)
  if (o.chunks.length !== expected) throw new ManifestError(`manifest lists ${o.chunks.length} chunks but size ${o.size} / chunkSize ${o.chunkSize} needs ${expected}`)
  for (let i = 0; i < o.chunks.length; i++) {
    if (!isSha256Cid(o.chunks[i], RAW_CODEC)) throw new ManifestError(`manifest chunk ${i} is not a raw sha2-256 CIDv1`)
  }
  if (typeof o.createdAt !== 'number' || !Number.isFinite(o.createdAt)) throw new ManifestError(`manifest createdAt ${String(o.createdAt)} is not a finite number`)
  if (o.publisher !== undefined && (typeof o.publisher !== 'string' || o.publisher.length === 0 || o.publisher.length > MAX_PUBLISHER_LENGTH)) {
    throw new ManifestError('manifest publisher must be a non-empty peer id string')
  }
  if (o.signature !== undefined && (!(o.signature instanceof Uint8Array) || o.signature.byteLength > MAX_SIGNATURE_BYTES)) {
    throw new ManifestError(`manifest signature must be at most ${MAX_SIGNATURE_BYTES} bytes`)
  }
}

// dag-cbor rejects undefined, so optional fields are left out when unset.
function toPlain (m: Manifest): Record<string, unknown> {
  const out: Record<string, unknown> = {
    version: m.version,
    name: m.name,
    size: m.size,
    chunkSize: m.chunkSize,
    chunks: m.chunks.map(c => CID.asCID(c) ?? c),
    createdAt: m.createdAt
  }
  if (m.publisher !== undefined) out.publisher = m.publisher
  if (m.signature !== undefined) out.signature = m.signature
  return out
}
