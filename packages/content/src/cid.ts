/**
 * Content ids. Hashing is synchronous node:crypto (SHA-NI makes it ~2 GB/s), wrapped in
 * multiformats types so the CIDs are exactly what IPFS produces.
 */
import { createHash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { ContentError } from './errors.js'

/** Multicodec of a raw chunk (an IPFS raw leaf). */
export const RAW_CODEC = 0x55

/** Multicodec of dag-cbor, the encoding of manifests. */
export const DAG_CBOR_CODEC = 0x71

/** Multihash code of sha2-256. */
export const SHA2_256_CODE = 0x12

const SHA2_256_LENGTH = 32

/** sha2-256 of `bytes` as a plain Uint8Array (not a Buffer, so it deep-equals decoded values). */
export function sha256 (bytes: Uint8Array): Uint8Array {
  const d = createHash('sha256').update(bytes).digest()
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
}

/** CIDv1 with the given codec over the sha2-256 of `bytes`. */
export function sha256Cid (codec: number, bytes: Uint8Array): CID {
  return CID.createV1(codec, Digest.create(SHA2_256_CODE, sha256(bytes)))
}

/**
 * The CID of a chunk: CIDv1, raw codec, sha2-256 — the same CID IPFS gives a raw leaf.
 */
export function chunkCid (bytes: Uint8Array): CID {
  return sha256Cid(RAW_CODEC, bytes)
}

/** True iff `cid` is CIDv1 with `codec` and a 32-byte sha2-256 multihash. */
export function isSha256Cid (cid: unknown, codec: number): cid is CID {
  try {
    const c = CID.asCID(cid)
    return c != null &&
      c.version === 1 &&
      c.code === codec &&
      c.multihash.code === SHA2_256_CODE &&
      c.multihash.digest.byteLength === SHA2_256_LENGTH
  } catch {
    return false
  }
}

/**
 * True iff `cid` is a raw/sha2-256 CID whose digest matches `bytes`.
 * Never throws: garbage input (from the network) just gives `false`.
 */
export function verifyChunk (cid: CID, bytes: Uint8Array): boolean {
  try {
    if (!isSha256Cid(cid, RAW_CODEC) || !(bytes instanceof Uint8Array)) return false
    return equalBytes(CID.asCID(cid)!.multihash.digest, sha256(bytes))
  } catch {
    return false
  }
}

/** True iff `bytes` hash to `id` (a dag-cbor/sha2-256 CID). */
export function matchesId (id: CID, bytes: Uint8Array): boolean {
  return isSha256Cid(id, DAG_CBOR_CODEC) && equalBytes(id.multihash.digest, sha256(bytes))
}

/**
 * Parse an artifact id (a manifest CID) typed by a user or received from a peer.
 *
 * @throws {ContentError} `'ERR_BAD_ARTIFACT_ID'` unless `s` is a CIDv1, dag-cbor, sha2-256 CID
 */
export function parseArtifactId (s: string): CID {
  let cid: CID
  try {
    cid = CID.parse(s)
  } catch (err) {
    throw new ContentError(`"${String(s).slice(0, 100)}" is not a CID — expected an artifact id like bafyrei…`, 'ERR_BAD_ARTIFACT_ID', { cause: err })
  }
  if (!isSha256Cid(cid, DAG_CBOR_CODEC)) {
    throw new ContentError(`${s} is not an artifact id (need CIDv1, dag-cbor, sha2-256) — pass the id printed by the publisher`, 'ERR_BAD_ARTIFACT_ID')
  }
  return cid
}

function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) {
    if (a[i] !== b[i]) return false
  }
  return true
}
