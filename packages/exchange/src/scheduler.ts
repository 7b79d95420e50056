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
   * Bytes in a chunk (the last may be shorter); with the measured rate and round trip of each
   * peer it sizes that peer's request pipeline.
   *
   * @default 1 MiB
   */
  chunkSize?: number
  /**
   * Requests outstanding at one peer before anything is measured, and the floor after: one in
   * service and one queued behind it, so the peer never idles while our next request travels.
   * The floor drops to one while `spreadPeers` or more peers are serving us.
   *
   * @default 2 (or maxInflightPerPeer if smaller)
   */
  minInflightPerPeer?: number
  /**
   * Ceiling on the requests outstanding at one peer. Between the floor and this, a peer's
   * pipeline holds its bandwidth × delay: measured rate × shortest request-to-block time,
   * in chunks, plus one (without the one while `spreadPeers` or more peers serve us).
   *
   * @default 32
   */
  maxInflightPerPeer?: number
  /**
   * With requests outstanding at this many peers or more, each peer's pipeline holds just its
   * bandwidth × delay, at least one request, instead of one more than that: the other peers
   * keep our download busy while a peer's next request travels, and a request queued at a peer
   * only waits there, ahead of the rarer chunk we will want next (in a big swarm each such wait
   * adds a block-time to every hop a new chunk takes).
   *
   * @default 4
   */
  spreadPeers?: number
  /**
   * Peers kept busy at once, the fastest by measured rate: while this many have requests
   * outstanding, a slower one is not asked, unless nobody else has what it offers us (a
   * super-seeding origin's reveals) or it announces a chunk when it had nothing else for us.
   * A peer splits its uplink among everyone asking it, so a node that keeps all of its many peers
   * busy takes shares from nodes with few peers, which fall behind and finish last; leaving its
   * slowest, most shared peers to others evens that out.
   *
   * @default 14
   */
  maxBusyPeers?: number
  /**
   * How long a peer's measured rate counts against it once it is idle. An idle peer whose last
   * block came longer ago than this is asked again, however slow it was then: it was slow
   * because others were asking it too, and they may have stopped. Without this, a peer most of
   * its neighbours once measured as slow is asked by none of them and its uplink stays idle.
   *
   * @default 10_000
   */
  rateStaleMs?: number
  /**
   * A request is given up, and its chunk asked of another peer, once the peer has sent us no
   * block bytes for this long (see {@link Scheduler.onBytes}). A peer still sending is slow,
   * not gone: on a thin link shared by many, one block can take longer than this, and giving up
   * on it would only start it over elsewhere.
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
   * and pay for duplicate blocks throughout. In the simulator (48 nodes, 128 chunks; 1000
   * nodes, 1192 chunks) 1 finished as fast as 4 with a third (a quarter) of the duplicates.
   *
   * @default 1
   */
  endgameThreshold?: number
  /** Random source in [0, 1), injectable for deterministic tests @default Math.random */
  random?: () => number
}

interface PeerState {
  id: string
  bitfield: Bitfield
  /** chunk index → time requested */
  inflight: Map<number, number>
  /** Consecutive timeouts; a peer that keeps timing out gets a shallower pipeline */
  timeouts: number
  /** Bytes per ms this peer delivers to us (moving average); 0 until measured */
  rate: number
  /** Shortest request-to-block time seen (ms): round trip plus one chunk's transfer */
  latency: number
  /** When its last block arrived */
  lastArrival: number
  /** When it was last seen part way through sending us a block (see `onBytes`) */
  lastProgress: number
  /** Bytes it sent us since the last tick */
  arrived: number
  /** Chunks we hold that it is not known to hold: what it could ask us for */
  lacks: number
}

/**
 * A peer sending us at least this many bytes a second is part way through a block: `have`s and
 * the like are a few dozen bytes a second, while a block shared among 32 downloads of a
 * 384 kbit/s link still arrives at 1.5 kB/s. Its requests are then not timed out.
 */
const PROGRESS_BYTES_PER_SECOND = 1024
/** A request older than this many `requestTimeoutMs` is given up even while its peer sends */
const MAX_AGE_TIMEOUTS = 10
/** Weight of a new rate sample in the moving average */
const RATE_GAIN = 0.25

export class Scheduler {
  readonly chunks: number
  private readonly have: Bitfield
  private readonly peers = new Map<string, PeerState>()
  /** How many known peers hold each chunk: the rarity that drives rarest-first */
  private readonly availability: Uint32Array
  /** How many peers each chunk is currently requested from */
  private readonly asked: Uint16Array
  private readonly maxInflight: number
  private readonly minInflight: number
  private readonly spreadPeers: number
  private readonly maxBusy: number
  private readonly rateStaleMs: number
  /** Peers with requests outstanding */
  private activePeers = 0
  private readonly chunkSize: number
  private readonly timeoutMs: number
  private readonly randomFirst: number
  private readonly endgameDuplicates: number
  private readonly endgameThreshold: number
  private readonly random: () => number
  /** Peers whose last scan found no unrequested chunk to ask them for */
  private readonly idle = new Set<string>()
  private completed = false
  private paused = false
  /** When `tick` last ran */
  private lastTick?: number

  constructor (init: SchedulerInit) {
    this.chunks = init.chunks
    this.have = init.have?.clone() ?? new Bitfield(init.chunks)
    if (this.have.size !== init.chunks) throw new RangeError('have-bitfield size does not match chunk count')
    this.availability = new Uint32Array(init.chunks)
    this.asked = new Uint16Array(init.chunks)
    this.maxInflight = Math.max(1, init.maxInflightPerPeer ?? 32)
    this.minInflight = Math.max(1, Math.min(init.minInflightPerPeer ?? 2, this.maxInflight))
    this.spreadPeers = Math.max(1, init.spreadPeers ?? 4)
    this.maxBusy = Math.max(1, init.maxBusyPeers ?? 14)
    this.rateStaleMs = init.rateStaleMs ?? 10_000
    this.chunkSize = init.chunkSize ?? 1024 * 1024
    this.timeoutMs = init.requestTimeoutMs ?? 30_000
    this.randomFirst = init.randomFirst ?? 4
    this.endgameDuplicates = init.endgameDuplicates ?? 2
    this.endgameThreshold = init.endgameThreshold ?? 1
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

  /**
   * How many chunks we hold that `peer` is not known to hold: what it could ask us for once it
   * hears of them (0 for an unknown peer)
   */
  peerLacks (peer: string): number {
    return this.peers.get(peer)?.lacks ?? 0
  }

  /** Whether `peer` is known to hold chunk `index` (from its handshake or a `have`) */
  peerHas (peer: string, index: number): boolean {
    return this.peers.get(peer)?.bitfield.get(index) === true
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

  /** How many requests this peer's pipeline holds now: its bandwidth × delay in chunks */
  pipelineDepth (peer: string): number {
    const state = this.peers.get(peer)
    return state == null ? 0 : this.depthOf(state)
  }

  /** Bytes per second this peer has been delivering to us (0 until measured) */
  rateOf (peer: string): number {
    return (this.peers.get(peer)?.rate ?? 0) * 1000
  }

  /** True while {@link pause}d */
  get isPaused (): boolean {
    return this.paused
  }

  /**
   * Stop asking for chunks (the disk is full, say): every outstanding request is cancelled and
   * none is made until {@link resume}. Peers' bitfields and haves are still tracked meanwhile.
   */
  pause (): SchedulerAction[] {
    this.paused = true
    const actions: SchedulerAction[] = []
    for (const state of this.peers.values()) {
      for (const index of state.inflight.keys()) {
        this.asked[index]--
        actions.push({ type: 'cancel', peer: state.id, index })
      }
      state.inflight.clear()
    }
    this.activePeers = 0
    this.idle.clear()
    return actions
  }

  /** Ask for chunks again after {@link pause} */
  resume (now: number): SchedulerAction[] {
    if (!this.paused) return []
    this.paused = false
    return this.fillAll(now)
  }

  /** A peer joined (or re-sent its bitfield) */
  addPeer (peer: string, bitfield: Bitfield, now: number): SchedulerAction[] {
    if (bitfield.size !== this.chunks) throw new RangeError('peer bitfield size does not match chunk count')
    const old = this.peers.get(peer)
    if (old != null) {
      for (const i of old.bitfield.indices()) this.availability[i]--
    }
    const state: PeerState = {
      id: peer,
      bitfield: bitfield.clone(),
      inflight: old?.inflight ?? new Map(),
      timeouts: 0,
      rate: old?.rate ?? 0,
      latency: old?.latency ?? Infinity,
      lastArrival: old?.lastArrival ?? -Infinity,
      lastProgress: old?.lastProgress ?? -Infinity,
      arrived: old?.arrived ?? 0,
      lacks: this.have.count()
    }
    this.peers.set(peer, state)
    this.idle.delete(peer)
    for (const i of state.bitfield.indices()) {
      this.availability[i]++
      if (this.have.get(i)) state.lacks--
    }
    return this.fill([state], now)
  }

  /** A peer left: its outstanding requests go elsewhere */
  removePeer (peer: string, now: number): SchedulerAction[] {
    const state = this.peers.get(peer)
    if (state == null) return []
    for (const i of state.bitfield.indices()) this.availability[i]--
    for (const i of state.inflight.keys()) this.asked[i]--
    if (state.inflight.size > 0) this.activePeers--
    this.peers.delete(peer)
    this.idle.delete(peer)
    return this.fillAll(now)
  }

  /** A peer announced it now holds chunk `index` */
  onHave (peer: string, index: number, now: number): SchedulerAction[] {
    const state = this.peers.get(peer)
    if (state == null || index >= this.chunks || state.bitfield.get(index)) return []
    state.bitfield.set(index)
    this.availability[index]++
    if (this.have.get(index)) state.lacks--
    if (this.have.get(index) || this.depthOf(state) <= state.inflight.size) return []
    // A peer with room and nothing else unrequested to give: the new chunk is its only
    // candidate, so ask for it without rescanning the artifact (this is the hot path of big
    // swarms, where every verified chunk is announced to every neighbour).
    if (this.idle.has(peer) && this.asked[index] === 0 && !this.paused && !this.inEndgame()) {
      return [this.request(state, index, now)]
    }
    return this.fill([state], now)
  }

  /**
   * A block arrived from `peer`. `valid` says whether it matched its CID and was stored; an
   * invalid block is treated like a refusal and the chunk is asked of someone else.
   */
  onBlock (peer: string, index: number, valid: boolean, now: number): SchedulerAction[] {
    if (index >= this.chunks) return []
    const state = this.peers.get(peer)
    const requestedAt = state?.inflight.get(index)
    if (state != null && requestedAt != null) {
      this.untrack(state, index)
      state.timeouts = 0
      if (valid) this.measure(state, requestedAt, now)
    }
    if (!valid) return this.fillAll(now)
    if (this.have.get(index)) return state == null ? [] : this.fill([state], now)

    this.have.set(index)
    this.lackedByPeers(index, 1)
    // Forward at once: the driver announces it to every peer, who may ask us for it right away.
    const actions: SchedulerAction[] = [{ type: 'have', index }]
    const freed: PeerState[] = state == null ? [] : [state]
    // Strict endgame: whoever else was asked for this chunk is told to stop.
    if (this.asked[index] > 0) {
      for (const other of this.peers.values()) {
        if (!this.untrack(other, index)) continue
        freed.push(other)
        actions.push({ type: 'cancel', peer: other.id, index })
      }
    }
    if (this.have.isComplete()) {
      if (!this.completed) {
        this.completed = true
        actions.push({ type: 'complete' })
      }
      return actions
    }
    // Entering endgame can give idle peers work (duplicates of the last requests).
    const more = this.inEndgame() ? this.fillAll(now) : this.fill(freed, now)
    return actions.concat(more)
  }

  /** The peer refused chunk `index` (it no longer has it, or is overloaded) */
  onReject (peer: string, index: number, now: number): SchedulerAction[] {
    const state = this.peers.get(peer)
    if (state == null || index >= this.chunks) return []
    this.untrack(state, index)
    if (state.bitfield.get(index)) {
      state.bitfield.unset(index)
      this.availability[index]--
      if (this.have.get(index)) state.lacks++
    }
    return this.fillAll(now)
  }

  /** A chunk we held was lost (found corrupt on disk): fetch it again */
  onLost (index: number, now: number): SchedulerAction[] {
    if (index >= this.chunks || !this.have.unset(index)) return []
    this.lackedByPeers(index, -1)
    this.completed = false
    return this.fillAll(now)
  }

  /**
   * `bytes` arrived from `peer`, whole frames or not. A peer that sends enough between two ticks
   * is part way through a block: its outstanding requests are alive, however long they take.
   * Without this only whole blocks show that a peer is alive.
   */
  onBytes (peer: string, bytes: number): void {
    const state = this.peers.get(peer)
    if (state != null) state.arrived += bytes
  }

  /**
   * The clock moved: give up on requests at peers that have sent nothing for `requestTimeoutMs`
   * and re-ask elsewhere
   */
  tick (now: number): SchedulerAction[] {
    const actions: SchedulerAction[] = []
    const elapsed = this.lastTick == null ? 0 : now - this.lastTick
    this.lastTick = now
    for (const state of this.peers.values()) {
      if (elapsed > 0 && state.arrived >= PROGRESS_BYTES_PER_SECOND * elapsed / 1000) state.lastProgress = now
      state.arrived = 0
      for (const [index, at] of state.inflight) {
        // A peer that keeps sending other blocks but never this one gets a hard limit too.
        const quiet = now - Math.max(at, state.lastProgress, state.lastArrival)
        if (quiet < this.timeoutMs && now - at < MAX_AGE_TIMEOUTS * this.timeoutMs) continue
        this.untrack(state, index)
        state.timeouts++
        actions.push({ type: 'cancel', peer: state.id, index })
      }
    }
    return actions.concat(this.fillAll(now))
  }

  /** Fill every peer's pipeline with the best chunks it can give us */
  fillAll (now: number): SchedulerAction[] {
    return this.fill([...this.peers.values()], now)
  }

  private fill (peers: PeerState[], now: number): SchedulerAction[] {
    if (this.paused || this.have.isComplete()) return []
    const actions: SchedulerAction[] = []
    // Peers in random order, so no peer is always first to be given the rarest chunks.
    if (peers.length > 1) shuffle(peers, this.random)
    for (const state of peers) {
      const slots = this.depthOf(state) - state.inflight.size
      if (slots <= 0) continue
      // A peer too slow to keep busy is still asked for what no other peer has.
      const slow = this.tooSlow(state, now)
      const picked = this.pick(state, slots, slow)
      if (slow && picked.length === 0) continue
      if (picked.length < slots) this.idle.add(state.id)
      else this.idle.delete(state.id)
      for (const index of picked) actions.push(this.request(state, index, now))
    }
    return actions
  }

  private request (state: PeerState, index: number, now: number): SchedulerAction {
    if (state.inflight.size === 0) this.activePeers++
    state.inflight.set(index, now)
    this.asked[index]++
    return { type: 'request', peer: state.id, index }
  }

  /**
   * Whether to leave this idle peer to others: `maxBusyPeers` peers are busy already and at least
   * that many have been measured faster (an unmeasured peer, or one measured more than
   * `rateStaleMs` ago, is never too slow, so new and rested peers get tried).
   */
  private tooSlow (state: PeerState, now: number): boolean {
    if (state.inflight.size > 0 || state.rate === 0 || this.activePeers < this.maxBusy) return false
    if (now - state.lastArrival > this.rateStaleMs) return false
    let faster = 0
    for (const other of this.peers.values()) {
      if (other.rate > state.rate && ++faster >= this.maxBusy) return true
    }
    return false
  }

  /** We gained (+1) or lost (-1) chunk `index`: every peer without it could ask for one more (less) */
  private lackedByPeers (index: number, delta: number): void {
    for (const state of this.peers.values()) {
      if (!state.bitfield.get(index)) state.lacks += delta
    }
  }

  /** Forget the request for `index` at this peer; false if there was none */
  private untrack (state: PeerState, index: number): boolean {
    if (!state.inflight.delete(index)) return false
    this.asked[index]--
    if (state.inflight.size === 0) this.activePeers--
    return true
  }

  /**
   * Bandwidth × delay: the rate this peer delivers at times the shortest request-to-block time
   * (a round trip plus one chunk's transfer), in chunks, plus one so the next request is already
   * queued at the peer when a block leaves. While `spreadPeers` or more peers serve us, just the
   * bandwidth × delay, rounded, at least one: the others fill our link meanwhile, and a second
   * request would only queue at the peer. A peer that keeps timing out gets less.
   */
  private depthOf (state: PeerState): number {
    const spread = this.activePeers >= this.spreadPeers
    const floor = spread ? 1 : this.minInflight
    let depth = floor
    if (state.rate > 0 && Number.isFinite(state.latency)) {
      const bdp = state.rate * state.latency / this.chunkSize
      depth = spread ? Math.round(bdp) : Math.ceil(bdp) + 1
      depth = Math.min(this.maxInflight, Math.max(floor, depth))
    }
    return Math.max(1, depth >> Math.min(state.timeouts, 3))
  }

  /** Update a peer's delivery rate and round-trip estimate from one block */
  private measure (state: PeerState, requestedAt: number, now: number): void {
    // The block was in service from when it was asked for or the previous block arrived,
    // whichever is later (before that it waited in the peer's queue behind that block).
    const serviceMs = now - Math.max(requestedAt, state.lastArrival)
    if (serviceMs > 0) {
      const sample = this.chunkSize / serviceMs
      state.rate = state.rate === 0 ? sample : state.rate + RATE_GAIN * (sample - state.rate)
    }
    state.latency = Math.min(state.latency, Math.max(now - requestedAt, 0))
    state.lastArrival = now
  }

  /**
   * Up to `slots` chunks this peer holds that nobody has been asked for: a few at random first,
   * then rarest-first with random tie-breaks. In endgame, duplicates of outstanding requests.
   * `uniqueOnly`: none at all if anything it could give us is also held by another peer.
   */
  private pick (state: PeerState, slots: number, uniqueOnly = false): number[] {
    const randomPhase = this.have.count() < this.randomFirst
    // Best `slots` candidates kept sorted by (availability, random key).
    const best: number[] = []
    const keys: number[] = []
    const bytes = (this.chunks + 7) >> 3
    // A byte at a time: chunks the peer has and we lack; most bytes are all-or-nothing.
    for (let j = 0; j < bytes; j++) {
      const mask = state.bitfield.byteAt(j) & ~this.have.byteAt(j) & 0xff
      if (mask === 0) continue
      for (let bit = 0; bit < 8; bit++) {
        if ((mask & (0x80 >> bit)) === 0) continue
        const i = (j << 3) | bit
        if (this.asked[i] !== 0) continue
        if (uniqueOnly && this.availability[i] > 1) return []
        const key = randomPhase ? this.random() : this.availability[i] + this.random()
        if (best.length === slots && key >= keys[slots - 1]) continue
        let at = best.length === slots ? slots - 1 : best.length
        while (at > 0 && keys[at - 1] > key) {
          if (at < slots) { best[at] = best[at - 1]; keys[at] = keys[at - 1] }
          at--
        }
        best[at] = i
        keys[at] = key
      }
    }
    if (best.length > 0 || !this.inEndgame()) return best
    // Strict endgame: the last few chunks are all in flight; every peer that holds one may
    // duplicate it, up to `endgameDuplicates` copies in flight. The first to arrive cancels
    // the rest.
    const dupes: number[] = []
    for (let i = 0; i < this.chunks && dupes.length < slots; i++) {
      if (this.have.get(i) || !state.bitfield.get(i) || state.inflight.has(i)) continue
      if (this.asked[i] < this.endgameDuplicates) dupes.push(i)
    }
    return dupes
  }

  /**
   * Endgame: at most `endgameThreshold` chunks missing and every one that anyone holds is
   * already requested. Without the threshold a small artifact would be "in endgame" from its
   * first wave of requests and pay for duplicates throughout.
   */
  private inEndgame (): boolean {
    if (this.chunks - this.have.count() > this.endgameThreshold) return false
    for (const i of this.have.missing()) {
      if (this.asked[i] === 0 && this.availability[i] > 0) return false
    }
    return true
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
