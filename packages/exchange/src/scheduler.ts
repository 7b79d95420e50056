/**
 * The download brain for one artifact, written sans-IO: it takes events (a peer joined with its
 * bitfield, a `have`, a verified or bad block, a reject, the clock) and returns the actions to
 * take (request chunk i from peer p, cancel it at peer q, tell everyone we now have i). It never
 * touches libp2p, timers or the file system, so the libp2p service and a network simulator can
 * drive the very same code.
 */
import { Bitfield } from '@shoal/content'

/** What the driver must do after feeding the scheduler an event. */
export type SchedulerAction =
  | { type: 'request', peer: string, index: number }
  | { type: 'cancel', peer: string, index: number }
  | { type: 'have', index: number }
  | { type: 'complete' }

export interface SchedulerInit {
  /** Number of chunks in the artifact */
  chunks: number
  /** Chunks already held (e.g. resumed from disk) */
  have?: Bitfield
  /**
   * Requests outstanding at one peer at a time: the pipeline that keeps a link busy over a
   * round trip.
   *
   * @default 8
   */
  maxInflightPerPeer?: number
  /**
   * A request unanswered for this long is given up and its chunk asked of another peer.
   *
   * @default 30_000
   */
  requestTimeoutMs?: number
  /**
   * The first few chunks are picked at random rather than rarest-first, so a new peer quickly
   * has something to trade.
   *
   * @default 4
   */
  randomFirst?: number
  /**
   * In endgame (every missing chunk already requested), how many peers may be asked for the
   * same chunk at once. The first copy to arrive cancels the others.
   *
   * @default 2
   */
  endgameDuplicates?: number
  /**
   * Endgame starts only when at most this many chunks are missing (and all are requested).
   * Without this bound a small artifact would be "in endgame" from its first wave of requests
   * and pay for duplicate blocks throughout.
   *
   * @default 4
   */
  endgameThreshold?: number
  /** Random source in [0, 1), injectable for deterministic tests @default Math.random */
  random?: () => number
}

interface PeerState {
  bitfield: Bitfield
  /** chunk index → time requested */
  inflight: Map<number, number>
  /** Consecutive timeouts; a peer that keeps timing out gets a shallower pipeline */
  timeouts: number
}

export class Scheduler {
  readonly chunks: number
  private readonly have: Bitfield
  private readonly peers = new Map<string, PeerState>()
  /** How many known peers hold each chunk: the rarity that drives rarest-first */
  private readonly availability: Uint32Array
  /** chunk index → peers it is currently requested from */
  private readonly requested = new Map<number, Set<string>>()
  private readonly maxInflight: number
  private readonly timeoutMs: number
  private readonly randomFirst: number
  private readonly endgameDuplicates: number
  private readonly endgameThreshold: number
  private readonly random: () => number
  private completed = false

  constructor (init: SchedulerInit) {
    this.chunks = init.chunks
    this.have = init.have?.clone() ?? new Bitfield(init.chunks)
    if (this.have.size !== init.chunks) throw new RangeError('have-bitfield size does not match chunk count')
    this.availability = new Uint32Array(init.chunks)
    this.maxInflight = init.maxInflightPerPeer ?? 8
    this.timeoutMs = init.requestTimeoutMs ?? 30_000
    this.randomFirst = init.randomFirst ?? 4
    this.endgameDuplicates = init.endgameDuplicates ?? 2
    this.endgameThreshold = init.endgameThreshold ?? 4
    this.random = init.random ?? Math.random
  }

  /** True once every chunk is held */
  get isComplete (): boolean {
    return this.have.isComplete()
  }

  /** Number of chunks held */
  get haveCount (): number {
    return this.have.count()
  }

  /** Whether chunk `index` is held */
  has (index: number): boolean {
    return this.have.get(index)
  }

  /** Peers currently known to the scheduler */
  get peerIds (): string[] {
    return [...this.peers.keys()]
  }

  /** Requests outstanding in total (for progress displays and tests) */
  get inflightCount (): number {
    let n = 0
    for (const p of this.peers.values()) n += p.inflight.size
    return n
  }

  /** Requests outstanding at one peer */
  inflightAt (peer: string): number[] {
    return [...(this.peers.get(peer)?.inflight.keys() ?? [])]
  }

  /** A peer joined (or re-sent its bitfield) */
  addPeer (peer: string, bitfield: Bitfield, now: number): SchedulerAction[] {
    if (bitfield.size !== this.chunks) throw new RangeError('peer bitfield size does not match chunk count')
    const old = this.peers.get(peer)
    if (old != null) {
      for (const i of old.bitfield.indices()) this.availability[i]--
    }
    const state: PeerState = { bitfield: bitfield.clone(), inflight: old?.inflight ?? new Map(), timeouts: 0 }
    this.peers.set(peer, state)
    for (const i of state.bitfield.indices()) this.availability[i]++
    return this.fill(now)
  }

  /** A peer left: its outstanding requests go elsewhere */
  removePeer (peer: string, now: number): SchedulerAction[] {
    const state = this.peers.get(peer)
    if (state == null) return []
    for (const i of state.bitfield.indices()) this.availability[i]--
    for (const i of state.inflight.keys()) this.unrequest(i, peer)
    this.peers.delete(peer)
    return this.fill(now)
  }

  /** A peer announced it now holds chunk `index` */
  onHave (peer: string, index: number, now: number): SchedulerAction[] {
    const state = this.peers.get(peer)
    if (state == null || index >= this.chunks || state.bitfield.get(index)) return []
    state.bitfield.set(index)
    this.availability[index]++
    return this.have.get(index) ? [] : this.fill(now)
  }

  /**
   * A block arrived from `peer`. `valid` says whether it matched its CID and was stored; an
   * invalid block is treated like a refusal and the chunk is asked of someone else.
   */
  onBlock (peer: string, index: number, valid: boolean, now: number): SchedulerAction[] {
    if (index >= this.chunks) return []
    const state = this.peers.get(peer)
    if (state != null) {
      state.inflight.delete(index)
      state.timeouts = 0
    }
    this.unrequest(index, peer)
    if (!valid || this.have.get(index)) return this.fill(now)

    this.have.set(index)
    const actions: SchedulerAction[] = [{ type: 'have', index }]
    // Strict endgame: whoever else was asked for this chunk is told to stop.
    for (const other of this.requested.get(index) ?? []) {
      this.peers.get(other)?.inflight.delete(index)
      actions.push({ type: 'cancel', peer: other, index })
    }
    this.requested.delete(index)
    if (this.have.isComplete()) {
      if (!this.completed) {
        this.completed = true
        actions.push({ type: 'complete' })
      }
      return actions
    }
    return actions.concat(this.fill(now))
  }

  /** The peer refused chunk `index` (it no longer has it, or is overloaded) */
  onReject (peer: string, index: number, now: number): SchedulerAction[] {
    const state = this.peers.get(peer)
    if (state == null) return []
    state.inflight.delete(index)
    this.unrequest(index, peer)
    if (index < this.chunks && state.bitfield.get(index)) {
      state.bitfield.unset(index)
      this.availability[index]--
    }
    return this.fill(now)
  }

  /** The clock moved: give up on requests that took too long and re-ask elsewhere */
  tick (now: number): SchedulerAction[] {
    const actions: SchedulerAction[] = []
    for (const [peer, state] of this.peers) {
      for (const [index, at] of state.inflight) {
        if (now - at < this.timeoutMs) continue
        state.inflight.delete(index)
        state.timeouts++
        this.unrequest(index, peer)
        actions.push({ type: 'cancel', peer, index })
      }
    }
    return actions.concat(this.fill(now))
  }

  /** Fill every peer's pipeline with the best chunks it can give us */
  fill (now: number): SchedulerAction[] {
    if (this.have.isComplete()) return []
    const actions: SchedulerAction[] = []
    const missing = [...this.have.missing()]
    // Peers in random order, so no peer is always first to be given the rarest chunks.
    const peers = shuffle([...this.peers.entries()], this.random)
    for (const [peer, state] of peers) {
      const slots = this.pipelineDepth(state) - state.inflight.size
      if (slots <= 0) continue
      for (const index of this.pick(state, missing, slots)) {
        state.inflight.set(index, now)
        let set = this.requested.get(index)
        if (set == null) this.requested.set(index, set = new Set())
        set.add(peer)
        actions.push({ type: 'request', peer, index })
      }
    }
    return actions
  }

  private pipelineDepth (state: PeerState): number {
    return Math.max(1, this.maxInflight >> Math.min(state.timeouts, 3))
  }

  /** Up to `slots` chunks this peer holds: unrequested ones first, endgame duplicates after */
  private pick (state: PeerState, missing: number[], slots: number): number[] {
    const fresh: number[] = []
    const endgame: number[] = []
    for (const i of missing) {
      if (!state.bitfield.get(i) || state.inflight.has(i)) continue
      const askedOf = this.requested.get(i)?.size ?? 0
      if (askedOf === 0) fresh.push(i)
      else if (askedOf < this.endgameDuplicates) endgame.push(i)
    }
    if (fresh.length > 0) {
      if (this.have.count() < this.randomFirst) return shuffle(fresh, this.random).slice(0, slots)
      return this.rarestFirst(fresh, slots)
    }
    // Endgame only for the last few chunks, once nothing anywhere is left unrequested: every
    // peer that could help may duplicate at most `endgameDuplicates` outstanding requests.
    if (missing.length > this.endgameThreshold || this.anyUnrequested(missing)) return []
    return this.rarestFirst(endgame, slots)
  }

  private anyUnrequested (missing: number[]): boolean {
    for (const i of missing) {
      if ((this.requested.get(i)?.size ?? 0) === 0 && this.availability[i] > 0) return true
    }
    return false
  }

  /** The `slots` least-available chunks, ties broken at random */
  private rarestFirst (candidates: number[], slots: number): number[] {
    const keyed = candidates.map(i => ({ i, a: this.availability[i], r: this.random() }))
    keyed.sort((x, y) => x.a - y.a || x.r - y.r)
    return keyed.slice(0, slots).map(k => k.i)
  }

  private unrequest (index: number, peer: string): void {
    const set = this.requested.get(index)
    if (set == null) return
    set.delete(peer)
    if (set.size === 0) this.requested.delete(index)
  }
}

function shuffle<T> (items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const t = items[i]
    items[i] = items[j]
    items[j] = t
  }
  return items
}
