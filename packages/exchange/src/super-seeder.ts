/**
 * Super-seeding for the publisher, sans-IO like the {@link Scheduler}: the origin of an artifact
 * does not advertise everything it holds. It shows each peer only a chunk or two at a time,
 * choosing chunks that have gone out the fewest times, so every chunk leaves the origin once
 * before any leaves twice and the peers trade among themselves for the rest. The origin's upload
 * is the swarm's scarcest resource at the start; this keeps it from being spent on copies the
 * peers could have made.
 *
 * A peer's slot opens again as soon as its revealed chunk has been sent, so its next request is
 * already queued while the block is on the wire and the origin's link never waits on a round
 * trip. A revealed chunk the peer announces it got elsewhere first is replaced at once. When a
 * peer leaves, the chunks revealed to it and not yet sent go back to the pool.
 */
import type { Bitfield } from '@shoal/content'

/** Tell `peer`, and only `peer`, that we hold chunk `index` */
export interface RevealAction { type: 'reveal', peer: string, index: number }

export interface SuperSeederInit {
  /** Number of chunks in the artifact */
  chunks: number
  /**
   * Chunks revealed to one peer and not yet sent to it. One keeps each chunk's trip from the
   * origin short; more keep a peer busy over long round trips.
   *
   * @default 1
   */
  revealPerPeer?: number
  /**
   * Reveals outstanding over all peers at least this many, so a swarm of one or two peers
   * still keeps the origin's link busy across round trips.
   *
   * @default 8
   */
  minOutstanding?: number
  /** Random source in [0, 1), for tie-breaks; injectable for deterministic tests @default Math.random */
  random?: () => number
}

interface SeedPeer {
  bitfield: Bitfield
  /** Chunks revealed to this peer and not yet sent to it */
  outstanding: Set<number>
  /** Chunks ever revealed to this peer (never reveal one twice) */
  told: Set<number>
}

export class SuperSeeder {
  readonly chunks: number
  private readonly peers = new Map<string, SeedPeer>()
  /** Times each chunk was revealed (and not taken back) over all peers */
  private readonly revealed: Uint32Array
  /** Times each chunk was actually sent */
  private readonly sent: Uint32Array
  /** Peers known to hold each chunk */
  private readonly availability: Uint32Array
  private readonly perPeer: number
  private readonly minOutstanding: number
  private readonly random: () => number

  constructor (init: SuperSeederInit) {
    this.chunks = init.chunks
    this.revealed = new Uint32Array(init.chunks)
    this.sent = new Uint32Array(init.chunks)
    this.availability = new Uint32Array(init.chunks)
    this.perPeer = Math.max(1, init.revealPerPeer ?? 1)
    this.minOutstanding = init.minOutstanding ?? 8
    this.random = init.random ?? Math.random
  }

  /** True once every chunk has left the origin at least once */
  get everyChunkSent (): boolean {
    return this.sent.every(n => n > 0)
  }

  /** Times chunk `index` has been sent */
  sentCount (index: number): number {
    return this.sent[index] ?? 0
  }

  /** Chunks revealed to `peer` and not yet sent */
  outstandingAt (peer: string): number[] {
    return [...(this.peers.get(peer)?.outstanding.keys() ?? [])]
  }

  /** A peer joined with what it already holds */
  addPeer (peer: string, bitfield: Bitfield): RevealAction[] {
    if (bitfield.size !== this.chunks) throw new RangeError('peer bitfield size does not match chunk count')
    this.removePeer(peer)
    const state: SeedPeer = { bitfield: bitfield.clone(), outstanding: new Set(), told: new Set() }
    this.peers.set(peer, state)
    for (const i of state.bitfield.indices()) this.availability[i]++
    return this.topUpAll()
  }

  /** A peer left: what was revealed to it and never sent goes back to the pool */
  removePeer (peer: string): RevealAction[] {
    const state = this.peers.get(peer)
    if (state == null) return []
    for (const i of state.bitfield.indices()) this.availability[i]--
    for (const i of state.outstanding) this.revealed[i]--
    this.peers.delete(peer)
    return this.topUpAll()
  }

  /** A peer announced it holds chunk `index` (from us or from another peer) */
  onHave (peer: string, index: number): RevealAction[] {
    const state = this.peers.get(peer)
    if (state == null || index >= this.chunks || state.bitfield.get(index)) return []
    state.bitfield.set(index)
    this.availability[index]++
    // Got it elsewhere before we sent it: this reveal never cost us anything.
    if (!state.outstanding.delete(index)) return []
    this.revealed[index]--
    return this.topUpAll()
  }

  /** We sent chunk `index` to `peer`: its slot is free for the next reveal */
  onSent (peer: string, index: number): RevealAction[] {
    if (index >= this.chunks) return []
    this.sent[index]++
    if (this.peers.get(peer)?.outstanding.delete(index) !== true) return []
    return this.topUpAll()
  }

  /**
   * Reveal chunks until every peer has its share outstanding. The share grows when there are
   * few peers, so at least `minOutstanding` reveals are in flight in all.
   */
  private topUpAll (): RevealAction[] {
    const actions: RevealAction[] = []
    if (this.peers.size === 0) return actions
    const share = Math.max(this.perPeer, Math.ceil(this.minOutstanding / this.peers.size))
    for (const [peer, state] of this.peers) {
      while (state.outstanding.size < share) {
        const index = this.pick(state)
        if (index < 0) break
        state.outstanding.add(index)
        state.told.add(index)
        this.revealed[index]++
        actions.push({ type: 'reveal', peer, index })
      }
    }
    return actions
  }

  /**
   * The chunk this peer lacks that has left (or is about to leave) the origin the fewest times,
   * then the one fewest peers hold, ties at random; -1 when there is nothing left to show it.
   * A chunk some peer already holds (a resumed download) counts as gone out once: the swarm can
   * spread it without us.
   */
  private pick (state: SeedPeer): number {
    let best = -1
    let bestRevealed = Infinity
    let bestAvail = Infinity
    let ties = 0
    for (let i = 0; i < this.chunks; i++) {
      if (state.bitfield.get(i) || state.told.has(i)) continue
      const a = this.availability[i]
      const r = Math.max(this.revealed[i], Math.min(1, a))
      if (r < bestRevealed || (r === bestRevealed && a < bestAvail)) {
        best = i
        bestRevealed = r
        bestAvail = a
        ties = 1
      } else if (r === bestRevealed && a === bestAvail && this.random() * ++ties < 1) {
        best = i // reservoir sampling: each tied chunk equally likely
      }
    }
    return best
  }
}
