import * as cbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { MAX_MESSAGE_BYTES } from './constants.js'

/**
 * "A new artifact exists": published by the publisher on the swarm's announce
 * topic.
 */
export interface Announcement {
  /** Artifact id: the manifest's CID, as a string */
  id: string
  /** Human-readable artifact name (usually the file name) */
  name: string
  /** Artifact size in bytes */
  size: number
  /** Publisher's peer id, as a string */
  publisher: string
  /** Multiaddrs the publisher can be dialled on */
  addrs: string[]
  /** When this announcement was made, ms since the epoch */
  at: number
}

/**
 * "I hold this much of an artifact": progress published (throttled) on the
 * swarm's beacon topic; it feeds peer choice.
 */
export interface HolderBeacon {
  /** Artifact id: the manifest's CID, as a string */
  id: string
  /** The holder's peer id, as a string; must be the peer that signed the message */
  peer: string
  /** Multiaddrs the holder can be dialled on */
  addrs: string[]
  /** How many chunks the holder has verified */
  have: number
  /** How many chunks the artifact has */
  total: number
  /** True once the holder has every chunk (it is now a seeder) */
  complete: boolean
  /** When this beacon was made, ms since the epoch */
  at: number
}

// Bounds for each field: generous for real use, tight enough that a hostile
// peer cannot make us hold large strings or arrays.
const MAX_ID = 256
const MAX_NAME = 1024
const MAX_PEER = 256
const MAX_ADDR = 512
const MAX_ADDRS = 64

function isShortString (v: unknown, max: number): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= max
}

function isCount (v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}

function isTime (v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0
}

function isCidString (v: unknown): v is string {
  if (!isShortString(v, MAX_ID)) return false
  try {
    CID.parse(v)
    return true
  } catch {
    return false
  }
}

function isAddrs (v: unknown): v is string[] {
  return Array.isArray(v) && v.length <= MAX_ADDRS && v.every(a => isShortString(a, MAX_ADDR))
}

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)
}

/** True if `v` is a well-formed {@link Announcement} within Shoal's size limits. */
export function isAnnouncement (v: unknown): v is Announcement {
  return isRecord(v) &&
    isCidString(v.id) &&
    typeof v.name === 'string' && v.name.length <= MAX_NAME &&
    isCount(v.size) &&
    isShortString(v.publisher, MAX_PEER) &&
    isAddrs(v.addrs) &&
    isTime(v.at)
}

/** True if `v` is a well-formed {@link HolderBeacon} within Shoal's size limits. */
export function isHolderBeacon (v: unknown): v is HolderBeacon {
  return isRecord(v) &&
    isCidString(v.id) &&
    isShortString(v.peer, MAX_PEER) &&
    isAddrs(v.addrs) &&
    isCount(v.have) &&
    isCount(v.total) &&
    v.have <= v.total &&
    typeof v.complete === 'boolean' &&
    isTime(v.at)
}

// Copy only the known fields so extra properties a caller (or peer) added are
// never put on the wire or handed on.
function pickAnnouncement (a: Announcement): Announcement {
  return { id: a.id, name: a.name, size: a.size, publisher: a.publisher, addrs: [...a.addrs], at: a.at }
}

function pickBeacon (b: HolderBeacon): HolderBeacon {
  return { id: b.id, peer: b.peer, addrs: [...b.addrs], have: b.have, total: b.total, complete: b.complete, at: b.at }
}

function encodeChecked<T> (value: T, valid: (v: unknown) => boolean, what: string): Uint8Array {
  if (!valid(value)) {
    throw new TypeError(`invalid ${what}`)
  }
  const bytes = cbor.encode(value)
  if (bytes.byteLength > MAX_MESSAGE_BYTES) {
    throw new RangeError(`${what} is ${bytes.byteLength} bytes, more than ${MAX_MESSAGE_BYTES}`)
  }
  return bytes
}

function decodeChecked<T> (bytes: Uint8Array, valid: (v: unknown) => v is T, pick: (v: T) => T): T | undefined {
  if (bytes.byteLength === 0 || bytes.byteLength > MAX_MESSAGE_BYTES) return undefined
  let value: unknown
  try {
    value = cbor.decode(bytes)
  } catch {
    return undefined
  }
  return valid(value) ? pick(value) : undefined
}

/**
 * Encode an announcement as dag-cbor.
 *
 * @throws TypeError if a field is missing or malformed, RangeError if the
 * encoding exceeds {@link MAX_MESSAGE_BYTES}
 */
export function encodeAnnouncement (a: Announcement): Uint8Array {
  return encodeChecked(pickAnnouncement(a), isAnnouncement, 'announcement')
}

/** Decode an announcement; `undefined` for anything malformed or oversized (never throws). */
export function decodeAnnouncement (bytes: Uint8Array): Announcement | undefined {
  return decodeChecked(bytes, isAnnouncement, pickAnnouncement)
}

/**
 * Encode a holder beacon as dag-cbor.
 *
 * @throws TypeError if a field is missing or malformed, RangeError if the
 * encoding exceeds {@link MAX_MESSAGE_BYTES}
 */
export function encodeHolderBeacon (b: HolderBeacon): Uint8Array {
  return encodeChecked(pickBeacon(b), isHolderBeacon, 'holder beacon')
}

/** Decode a holder beacon; `undefined` for anything malformed or oversized (never throws). */
export function decodeHolderBeacon (bytes: Uint8Array): HolderBeacon | undefined {
  return decodeChecked(bytes, isHolderBeacon, pickBeacon)
}
