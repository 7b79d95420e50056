/**
 * Decodes peer-exchange entries into dial candidates, remembering the peers it has decoded.
 * A swarm's start is a storm of peer exchange: every new session is announced to every other,
 * so a node hears of the same few dozen peers hundreds of times. Building a PeerId (and later its
 * base58 string) and parsing multiaddrs for each of those took 6 % of all CPU in the first 20 s
 * of a 48-node swarm on 2 cores; a repeat now costs a map lookup and the same objects come back.
 */
import { peerIdFromMultihash } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import * as Digest from 'multiformats/hashes/digest'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import type { Candidate } from './transfer.js'
import type { PexPeer } from './pb/message.js'

/** Entries read from one pex message; the rest are ignored */
export const PEX_MAX_PEERS = 64
/** Addresses read per entry */
export const PEX_MAX_ADDRS = 16

interface Remembered {
  /** The entry's addresses, as one string, to tell whether they changed */
  addrsKey: string
  candidate: Candidate
}

export class PexDecoder {
  private readonly known = new Map<string, Remembered>()
  private readonly maxKnown: number

  /**
   * @param maxKnown - peers remembered; past it the one heard of least recently is forgotten
   */
  constructor (maxKnown = 4096) {
    this.maxKnown = Math.max(1, maxKnown)
  }

  /** Candidates for the well-formed entries of `peers`; a malformed entry is skipped */
  decode (peers: PexPeer[]): Candidate[] {
    const out: Candidate[] = []
    for (const p of peers.slice(0, PEX_MAX_PEERS)) {
      const addrs = p.addrs.slice(0, PEX_MAX_ADDRS)
      const idKey = bytesKey(p.id)
      const addrsKey = addrs.map(bytesKey).join('\n')
      const seen = this.known.get(idKey)
      if (seen != null && seen.addrsKey === addrsKey) {
        this.remember(idKey, seen)
        out.push(seen.candidate)
        continue
      }
      try {
        const id = seen?.candidate.id ?? peerIdFromMultihash(Digest.decode(p.id))
        const candidate = { id, multiaddrs: addrs.map(a => multiaddr(a)) }
        this.remember(idKey, { addrsKey, candidate })
        out.push(candidate)
      } catch {
        // a malformed entry is skipped, not fatal
      }
    }
    return out
  }

  private remember (key: string, entry: Remembered): void {
    this.known.delete(key) // re-inserted last: the map's order is the order of use (LRU)
    this.known.set(key, entry)
    if (this.known.size > this.maxKnown) {
      const oldest = this.known.keys().next().value
      if (oldest != null) this.known.delete(oldest)
    }
  }
}

/** A string that is equal for equal byte arrays (one character per byte) */
function bytesKey (bytes: Uint8Array): string {
  return uint8ArrayToString(bytes, 'latin1')
}
