/**
 * Everything one node knows about one artifact: the stored handle, the sessions with peers,
 * the candidate peers not yet connected, and (while downloading) the scheduler. It turns
 * session events into scheduler events and scheduler actions into frames.
 */
import { Bitfield, MAX_MANIFEST_BYTES, decodeManifest } from '@shoal/content'
import { Scheduler } from './scheduler.js'
import { SuperSeeder } from './super-seeder.js'
import type { SchedulerAction } from './scheduler.js'
import type { RevealAction } from './super-seeder.js'
import { bytes } from './wire.js'
import { PEX_MAX_PEERS } from './pex-decoder.js'
import type { Session, SessionHost } from './session.js'
import type { Handshake, ManifestPart, PexPeer } from './pb/message.js'
import type { ArtifactHandle, Store } from '@shoal/store'
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'

/** A peer that may hold the artifact, learned from discovery or peer exchange */
export interface Candidate {
  id: PeerId
  multiaddrs: Multiaddr[]
}

/** Counters for one artifact on this node */
export interface TransferStats {
  id: string
  name?: string
  size?: number
  chunks?: number
  have: number
  complete: boolean
  downloading: boolean
  peers: number
  /** Verified block bytes received, in total and per peer */
  bytesReceived: number
  bytesReceivedFrom: Record<string, number>
  /** Block bytes served to others */
  bytesSent: number
  /** Block bytes received that we already had (endgame duplicates, late arrivals) */
  duplicateBytes: number
  /** Chunks announced to peers with `have`, counted once per peer told */
  havesSent: number
  /** Copies of the manifest sent to peers that asked for it */
  manifestsSent: number
  /** Blocks that failed verification against their CID */
  invalidBlocks: number
  /** When this node started downloading (epoch ms); absent for artifacts it published */
  startedAt?: number
  /** When this node verified its last missing chunk (epoch ms) */
  completedAt?: number
}

/** What a transfer needs from the service that owns it */
export interface TransferContext {
  store: Store
  self: string
  maxPeers: number
  scheduler: { maxInflightPerPeer: number, requestTimeoutMs: number }
  now(): number
  dial(transfer: Transfer, candidate: Candidate): void
  addrsOf(peer: PeerId): Multiaddr[]
  decodePex(peers: PexPeer[]): Candidate[]
  onProgress(transfer: Transfer): void
  onComplete(transfer: Transfer): void
  /** The download hit a problem it waits out (the disk is full); it is retried later */
  onError(transfer: Transfer, err: Error): void
  log(msg: string, ...args: unknown[]): void
}

/**
 * A candidate is redialled no sooner than this, doubled for each further failed or refused dial
 * in a row up to 16 times (80 s): in a swarm larger than the peer bound most peers are full, and
 * redialling them every 5 s cost thousands of refused sessions at 48 nodes.
 */
const DIAL_BACKOFF_MS = 5_000
const MAX_BACKOFF_DOUBLINGS = 4
/** A download stopped by a full disk tries again this much later */
export const STALL_RETRY_MS = 15_000
const PEX_LIMIT = 16
/**
 * Sessions a download opens before it has the manifest. Until then a session can only bring
 * the manifest (and peers that lack it too have nothing else to give): when a big swarm hears
 * an announcement together, every node opening all its sessions at once was a storm of
 * handshakes and exchanged peer lists that took the CPU from the publisher for its first 30 s
 * at 48 nodes on this 2-core machine. The rest are opened once the manifest is stored.
 */
const PEERS_BEFORE_MANIFEST = 4
/**
 * Manifest copies a holder has on their way at once. Every node of a swarm asks for the manifest
 * the moment it hears of an artifact, and nothing else moves until it has it. An origin's uplink
 * bounds the whole transfer: 16 copies of a 512-chunk manifest were 2.4 s of it at 1 Mbit/s, and
 * a 5 GB artifact has a 180 KB manifest. A peer that passed it to everyone who asked at once
 * split its uplink as many ways: at 48 nodes (a 37 KB manifest on 48 KB/s links) every copy took
 * ~12 s, and the median node saw its first chunk 20 s after the announcement. Two at a time,
 * each copy takes a fraction of that and its receiver passes it on in turn, so the holders
 * double every few moments; the others wait in line, and most get it sooner elsewhere.
 */
const MANIFEST_COPIES = 2
/**
 * An origin's manifest copies at once. Its uplink is the one every chunk must cross first, and
 * a copy in parts is passed on as it lands: one copy at full speed reaches a relay, which feeds
 * two more, as soon as two at half speed would. At 48 nodes on 96 KB/s links the origin's second
 * copy of a 168 KB manifest was 1.75 s of its uplink, and its first block went out at 4.1 s.
 */
const ORIGIN_MANIFEST_COPIES = 1
/**
 * Size of the pieces a manifest travels in to a peer that asks for it in parts. A relay (a node
 * still receiving the manifest) passes each piece on as it lands, so a copy crosses a chain of
 * nodes in about the time it crosses one link, plus one piece's time per hop. Whole, it crossed
 * one link at a time: at 48 nodes a 168 KB manifest (4096 chunks) on 96 KB/s links reached the
 * median node 16.6 s after the announcement (5.0–24.1 s), and no chunk moved before it. The
 * relays there form trees up to 8 deep; a piece waits for the whole piece at every hop, ~0.09 s
 * at half a link in 4 KiB pieces, ~0.35 s in 16 KiB.
 */
export const MANIFEST_PART_BYTES = 4 * 1024
/**
 * How long haves to an origin may wait to go out together: its reveals do not wait on them (a
 * peer's next reveal follows the block it was sent), and every node telling it of every chunk
 * at once was ~56 small packets a second at 16 nodes: their ACKs took 2.4 % of its uplink. Held
 * for a second, they still came ~16 times a second at 48 nodes (one per session), and the ACKs
 * were 1.8 % of its uplink; held for five, most ride along with the request that follows each
 * reveal, and the origin sent 13 % fewer segments (25.3–25.5 k against 28.9–29.5 k, 16 MiB).
 */
export const ORIGIN_HAVE_DELAY_MS = 5_000
/**
 * Haves to other peers wait until this many are held or {@link PEER_HAVE_DELAY_MS} has passed,
 * and meanwhile go ahead of any request or block we send that peer. Each alone is a small
 * packet, and an ACK on its sender's downlink: at 48 nodes on 384 kbit/s links, held until 4
 * or 1 s, they and their ACKs still took ~4 % of each downlink (the second always came first);
 * until 8 or 3 s, the links carried 1.15–1.16 × the verified bytes instead of 1.17 and the CPU
 * was 64–65 % busy instead of 70–71 % (completion 1.25–1.27 T*, within the runs' spread). A
 * hold by time alone hid dozens of chunks on a fast link, where they land in milliseconds. Nor
 * do they wait while the peer knows of fewer than this many chunks it could get from us: it may
 * run out of things to ask us for, and our uplink would idle for the news (at a swarm's start,
 * where each node holds a chunk or two, and at its end).
 */
export const PEER_HAVES_HELD = 8
/** The longest a have to a peer (not an origin) waits; see {@link PEER_HAVES_HELD} */
export const PEER_HAVE_DELAY_MS = 3_000
/** A manifest copy not confirmed (by a handshake update or a `have`) this long frees its place */
const MANIFEST_COPY_TIMEOUT_MS = 10_000
/**
 * Bytes from the peer asked for the manifest, since the ask, that show its copy is on its way
 * (more than the handshakes, haves and peer lists it may send meanwhile). A smaller manifest
 * arrives whole before this matters.
 */
const MANIFEST_STARTED_BYTES = 4096

export class Transfer implements SessionHost {
  readonly id: CID
  readonly key: string
  handle?: ArtifactHandle
  scheduler?: Scheduler
  /** Set when this node is the artifact's origin and reveals chunks a few at a time */
  seeder?: SuperSeeder
  readonly sessions = new Map<string, Session>()
  readonly candidates = new Map<string, Candidate & { lastDial?: number, failures?: number }>()
  /** Sessions begun since the last tick, to tell the other sessions about (see `sendPex`) */
  private readonly pexNews = new Map<string, PexPeer>()
  /** Peers dialled but not yet in `sessions` */
  readonly dialling = new Set<string>()
  /** Whether this node wants the artifact (as opposed to only serving it) */
  downloading = false
  private startedAt?: number
  /** While set, the download is stopped (disk full) until this time */
  private stalledUntil?: number
  private completedAt?: number
  private readonly ctx: TransferContext
  private readonly pendingBitfields = new Map<string, Uint8Array>()
  /**
   * Peers that told us they lack the manifest, in the order they asked: they get it once we have
   * it and a place is free (see {@link MANIFEST_COPIES})
   */
  private readonly wantManifest = new Set<string>()
  /** Peers we asked for the manifest: once we have it we tell them, so they do not send it */
  private readonly askedManifest = new Set<string>()
  /** Manifest copies on their way, by peer, with when each was sent */
  private readonly manifestCopies = new Map<string, number>()
  /** While we lack the manifest: peers that hold it, the one we heard of last at the end */
  private readonly manifestHolders = new Set<string>()
  /**
   * The one holder asked for the manifest (see `askForManifest`): when, bytes from it since, and
   * whether it answered that we wait in its line
   */
  private manifestAsk?: { peer: string, at: number, bytes: number, queued: boolean }
  /** A manifest being stored (see `adoptManifest`) */
  private adopting?: Promise<void>
  /** While we lack the manifest: the one coming in parts, from one peer (see `onManifestPart`) */
  private incoming?: { peer: string, bytes: Uint8Array, received: number, lastAt: number }
  /** Copies we pass on while the manifest comes in (we relay it): bytes sent to each peer */
  private readonly relayed = new Map<string, number>()
  /** Peers whose ask for the manifest takes it in parts */
  private readonly takesParts = new Set<string>()
  /** Peers whose last handshake said they lack the manifest */
  private readonly lacking = new Set<string>()
  private readonly counters = { received: 0, sent: 0, duplicate: 0, invalid: 0, haves: 0, manifests: 0, from: new Map<string, number>() }
  /** Peers that super-seed this artifact: they count every copy, so they get every `have` */
  private readonly origins = new Set<string>()
  /** Chunk writes in progress, so a copy arriving meanwhile counts as a duplicate, not twice */
  private readonly writing = new Map<number, Promise<boolean>>()
  private readonly done: { promise: Promise<ArtifactHandle>, resolve(h: ArtifactHandle): void, reject(e: Error): void }

  constructor (id: CID, ctx: TransferContext, handle?: ArtifactHandle) {
    this.id = id
    this.key = id.toString()
    this.ctx = ctx
    this.handle = handle
    let resolve!: (h: ArtifactHandle) => void
    let reject!: (e: Error) => void
    const promise = new Promise<ArtifactHandle>((res, rej) => { resolve = res; reject = rej })
    promise.catch(() => {})
    this.done = { promise, resolve, reject }
    if (handle?.isComplete === true) resolve(handle)
  }

  /** Resolves with the handle once every chunk is held and verified */
  get completed (): Promise<ArtifactHandle> {
    return this.done.promise
  }

  get isComplete (): boolean {
    return this.handle?.isComplete === true || (this.handle != null && this.handle.haveCount === this.handle.manifest.chunks.length)
  }

  /** Start (or keep) downloading */
  startDownload (): void {
    this.downloading = true
    this.startedAt ??= this.ctx.now()
    if (this.isComplete) {
      this.done.resolve(this.handle as ArtifactHandle)
      return
    }
    if (this.handle != null) this.ensureScheduler()
    this.connectMore()
  }

  addCandidates (candidates: Candidate[]): void {
    for (const c of candidates) {
      const peer = c.id.toString()
      if (peer === this.ctx.self) continue
      const known = this.candidates.get(peer)
      if (known != null) {
        if (c.multiaddrs.length > 0) known.multiaddrs = c.multiaddrs
      } else {
        this.candidates.set(peer, { ...c })
      }
    }
    this.connectMore()
  }

  /** Dial candidates while we want the artifact and have room for more peers */
  connectMore (): void {
    if (!this.downloading || this.isComplete) return
    const now = this.ctx.now()
    const room = this.handle == null ? Math.min(PEERS_BEFORE_MANIFEST, this.ctx.maxPeers) : this.ctx.maxPeers
    for (const [peer, c] of this.candidates) {
      if (this.sessions.size + this.dialling.size >= room) return
      if (this.sessions.has(peer) || this.dialling.has(peer)) continue
      const doublings = Math.min(Math.max((c.failures ?? 0) - 1, 0), MAX_BACKOFF_DOUBLINGS)
      if (c.lastDial != null && now - c.lastDial < DIAL_BACKOFF_MS * 2 ** doublings) continue
      c.lastDial = now
      this.dialling.add(peer)
      this.ctx.dial(this, c)
    }
  }

  /** A dial to `peer` failed or was refused: wait longer before the next */
  dialFailed (peer: string): void {
    const c = this.candidates.get(peer)
    if (c != null) c.failures = (c.failures ?? 0) + 1
  }

  /**
   * Serve this (complete) artifact as its origin: super-seed it, revealing chunks one peer at a
   * time so each leaves this node once before any leaves twice.
   */
  superSeed (): void {
    if (this.seeder != null || this.handle == null || !this.isComplete) return
    this.seeder = new SuperSeeder({ chunks: this.handle.manifest.chunks.length })
  }

  /** Open a session we dialled with our handshake */
  greet (session: Session): void {
    this.sendHandshake(session)
  }

  /** Our handshake: opening a session, or answering the peer's */
  private ourHandshake (): Handshake {
    const wantManifest = this.handle == null
    return {
      artifact: this.id.bytes,
      // A super-seeding origin shows nothing up front; it reveals chunks with `have`s.
      bitfield: bytes(this.seeder != null ? new Uint8Array(0) : this.handle?.bitfieldBytes() ?? new Uint8Array(0)),
      wantManifest,
      manifest: new Uint8Array(0),
      superSeeding: this.seeder != null,
      sendManifest: false,
      relaysManifest: wantManifest && this.incoming != null,
      manifestInParts: false
    }
  }

  /**
   * Adopt a new session. When a session with the same peer exists (both sides dialled at
   * once), the one opened by the peer with the smaller id wins on both ends.
   */
  attach (session: Session): boolean {
    const existing = this.sessions.get(session.peer)
    if (existing != null && !existing.isClosed) {
      const ours = existing.outbound ? this.ctx.self : existing.peer
      const theirs = session.outbound ? this.ctx.self : session.peer
      if (ours <= theirs) return false
      existing.close()
    }
    this.sessions.set(session.peer, session)
    // Keep an existing candidate's lastDial: replacing the entry would defeat the dial backoff,
    // and a peer that refuses us or sends bad blocks would be redialled in a tight loop.
    const addrs = this.ctx.addrsOf(session.peerId)
    const known = this.candidates.get(session.peer)
    if (known == null) this.candidates.set(session.peer, { id: session.peerId, multiaddrs: addrs })
    else if (addrs.length > 0) known.multiaddrs = addrs
    return true
  }

  // --- SessionHost ---------------------------------------------------------------------

  /**
   * The peer's first handshake opens the session; a later one updates it: it brings the
   * manifest we asked for, or says the peer no longer needs ours, with its current bitfield.
   */
  async onHandshake (session: Session, hs: Handshake): Promise<void> {
    const update = session.handshakesReceived > 1
    this.ctx.log('handshake%s from %s for %s (%s)', update ? ' update' : '', session.peer, this.key, session.outbound ? 'we dialled' : 'they dialled')
    // A peer without the manifest that asks us for it gets it as soon as we have it and a place
    // is free (see MANIFEST_COPIES): in our reply, or pushed as a handshake update.
    const lacks = hs.wantManifest && hs.manifest.byteLength === 0
    const wants = lacks && hs.sendManifest
    // Out of our line before we store a manifest it brings, or we would send it straight back.
    if (!lacks) this.manifestDelivered(session.peer)
    else if (!wants && !this.manifestCopies.has(session.peer)) this.wantManifest.delete(session.peer) // a withdrawn ask
    if (lacks) this.lacking.add(session.peer)
    else this.lacking.delete(session.peer)
    if (this.handle == null && hs.manifest.byteLength > 0) {
      await this.adoptManifest(hs.manifest)
    }
    if (update && this.incoming?.peer === session.peer && lacks && !hs.relaysManifest) {
      this.dropIncoming('the peer stopped passing it on') // its own source failed it
    }
    if (wants) {
      this.wantManifest.add(session.peer)
      if (hs.manifestInParts) this.takesParts.add(session.peer)
      else this.takesParts.delete(session.peer)
    }
    const pushed = wants && this.sendManifestTo(session)
    // An ask we cannot serve now is answered too: the asker then knows it waits in our line.
    const serves = this.handle != null || this.incoming != null
    if (!pushed && ((wants && serves) || (!update && !session.outbound))) this.sendHandshake(session)
    if (hs.superSeeding) this.origins.add(session.peer)
    else this.origins.delete(session.peer)
    if (!update) {
      const candidate = this.candidates.get(session.peer)
      if (candidate != null) candidate.failures = 0
      this.sendPex(session)
    }
    if (this.seeder != null) {
      // An origin learns what a peer holds from its haves; an update changes nothing here.
      if (!update) this.reveal(this.seeder.addPeer(session.peer, this.bitsOf(hs.bitfield)))
      return
    }
    if (this.handle == null) {
      // An update adds to what the peer showed before (an origin's shows nothing: it reveals
      // chunks with haves, kept here with its first handshake's bitfield).
      const pending = this.pendingBitfields.get(session.peer)
      this.pendingBitfields.set(session.peer, update && pending != null ? orBytes(pending, hs.bitfield) : hs.bitfield)
      if (!hs.wantManifest || hs.relaysManifest) this.heardManifestHolder(session.peer, update)
      if (this.downloading && !update) this.connectMore()
      return
    }
    this.peerBitfield(session.peer, hs.bitfield, update)
  }

  onHave (session: Session, indices: number[]): void {
    if (this.seeder != null) {
      this.manifestDelivered(session.peer) // it holds chunks, so it holds the manifest
      for (const i of indices) this.reveal(this.seeder.onHave(session.peer, i))
      return
    }
    if (this.scheduler == null) {
      // Before the manifest is known, remember haves in the pending bitfield.
      const pending = this.pendingBitfields.get(session.peer)
      if (pending != null) this.pendingBitfields.set(session.peer, orBits(pending, indices))
      return
    }
    const now = this.ctx.now()
    for (const i of indices) this.apply(this.scheduler.onHave(session.peer, i, now))
  }

  async onBlock (session: Session, index: number, data: Uint8Array): Promise<void> {
    const handle = this.handle
    if (handle == null || index >= handle.manifest.chunks.length) return
    // Another copy of this chunk (endgame) may be being verified and written right now.
    for (let pending = this.writing.get(index); pending != null; pending = this.writing.get(index)) {
      await pending.catch(() => false)
    }
    const now = this.ctx.now()
    if (handle.has(index)) {
      this.counters.duplicate += data.byteLength
      if (this.scheduler != null) this.apply(this.scheduler.onBlock(session.peer, index, true, now))
      return
    }
    const write = handle.writeChunk(index, data)
    this.writing.set(index, write)
    let ok: boolean
    try {
      ok = await write
    } catch (err: any) {
      if (err?.code !== 'ERR_NO_SPACE') throw err
      // Not the peer's fault: keep the session (we still serve what we hold), stop asking.
      this.stall(err)
      return
    } finally {
      this.writing.delete(index)
    }
    if (ok) {
      this.ctx.log('got chunk %d of %s from %s', index, this.key, session.peer)
      this.counters.received += data.byteLength
      this.counters.from.set(session.peer, (this.counters.from.get(session.peer) ?? 0) + data.byteLength)
    } else {
      this.counters.invalid++
      this.ctx.log('chunk %d of %s from %s failed verification', index, this.key, session.peer)
    }
    if (this.scheduler != null) this.apply(this.scheduler.onBlock(session.peer, index, ok, this.ctx.now()))
    else if (ok) this.broadcastHave([index])
    if (!ok) session.close(new Error('peer sent a block that does not match its CID'))
  }

  onReject (session: Session, indices: number[], reason: string): void {
    if (indices.length === 0) {
      this.ctx.log('%s refused session for %s: %s', session.peer, this.key, reason)
      this.dialFailed(session.peer)
      session.close()
      return
    }
    if (this.scheduler == null) return
    const now = this.ctx.now()
    for (const i of indices) this.apply(this.scheduler.onReject(session.peer, i, now))
  }

  onBytes (session: Session, bytes: number): void {
    if (this.manifestAsk?.peer === session.peer) this.manifestAsk.bytes += bytes
    this.scheduler?.onBytes(session.peer, bytes)
  }

  onPex (_session: Session, peers: PexPeer[]): void {
    const found = this.ctx.decodePex(peers)
    this.addCandidates(found)
  }

  onSent (session: Session, index: number): void {
    this.ctx.log('sent chunk %d of %s to %s', index, this.key, session.peer)
    if (this.seeder != null) this.reveal(this.seeder.onSent(session.peer, index))
  }

  onClose (session: Session, err?: Error): void {
    this.counters.sent += session.bytesSent
    if (this.sessions.get(session.peer) !== session) return
    this.sessions.delete(session.peer)
    if (this.seeder != null) this.reveal(this.seeder.removePeer(session.peer))
    this.pendingBitfields.delete(session.peer)
    this.askedManifest.delete(session.peer)
    this.manifestDelivered(session.peer) // it no longer waits, and its place in line is free
    this.origins.delete(session.peer)
    this.pexNews.delete(session.peer)
    this.manifestHolders.delete(session.peer)
    this.relayed.delete(session.peer)
    this.takesParts.delete(session.peer)
    this.lacking.delete(session.peer)
    if (this.incoming?.peer === session.peer) this.dropIncoming()
    if (this.manifestAsk?.peer === session.peer) {
      this.manifestAsk = undefined
      this.askForManifest()
    }
    if (err != null) this.ctx.log('session with %s for %s ended: %s', session.peer, this.key, err.message)
    if (this.scheduler != null) this.apply(this.scheduler.removePeer(session.peer, this.ctx.now()))
    this.connectMore()
  }

  async readChunk (index: number): Promise<Uint8Array | undefined> {
    const handle = this.handle
    if (handle == null || index >= handle.manifest.chunks.length || !handle.has(index)) return undefined
    try {
      return await handle.readChunk(index)
    } catch (err: any) {
      // The store re-hashes what it reads; a chunk gone bad on disk is refused, never sent.
      if (err?.code !== 'ERR_CORRUPT_CHUNK') throw err
      this.ctx.log('chunk %d of %s is corrupt on disk: %s', index, this.key, err.message)
      this.ctx.onError(this, err)
      if (this.scheduler != null && !handle.has(index)) this.apply(this.scheduler.onLost(index, this.ctx.now()))
      return undefined
    }
  }

  // --- driving the scheduler --------------------------------------------------------------

  /** Periodic: time out slow requests, retry dials, retry after a full disk */
  tick (): void {
    const now = this.ctx.now()
    if (this.stalledUntil != null && now >= this.stalledUntil) {
      this.stalledUntil = undefined
      this.ctx.log('retrying %s after a full disk', this.key)
      if (this.scheduler != null) this.apply(this.scheduler.resume(now))
      else this.retryManifest()
    }
    if (this.scheduler != null && !this.scheduler.isComplete) this.apply(this.scheduler.tick(now))
    for (const [peer, sentAt] of this.manifestCopies) {
      if (now - sentAt >= MANIFEST_COPY_TIMEOUT_MS) this.manifestDelivered(peer)
    }
    if (this.incoming != null && now - this.incoming.lastAt >= MANIFEST_COPY_TIMEOUT_MS) {
      // A copy that stopped half way (its relay's own source failed it, say): ask another.
      this.dropIncoming('no part for a while')
    }
    const ask = this.manifestAsk
    if (ask != null && ask.bytes < MANIFEST_STARTED_BYTES && now - ask.at >= MANIFEST_COPY_TIMEOUT_MS) {
      // Nothing from that holder: ask the newest other one, and that holder last of all (at the
      // end it would be the newest again, and an answer "wait in line" from the next one would
      // send the ask straight back to it).
      const others = [...this.manifestHolders].filter(p => p !== ask.peer)
      this.manifestHolders.clear()
      for (const p of [ask.peer, ...others]) this.manifestHolders.add(p)
      this.askForManifest(true)
    }
    this.flushPexNews()
    this.connectMore()
  }

  /** True while the download waits out a full disk */
  private isStalled (): boolean {
    return this.stalledUntil != null && this.ctx.now() < this.stalledUntil
  }

  stats (): TransferStats {
    let sent = this.counters.sent
    for (const s of this.sessions.values()) sent += s.bytesSent
    const m = this.handle?.manifest
    return {
      id: this.key,
      name: m?.name,
      size: m?.size,
      chunks: m?.chunks.length,
      have: this.handle?.haveCount ?? 0,
      complete: this.isComplete,
      downloading: this.downloading && !this.isComplete,
      peers: this.sessions.size,
      bytesReceived: this.counters.received,
      bytesReceivedFrom: Object.fromEntries(this.counters.from),
      bytesSent: sent,
      duplicateBytes: this.counters.duplicate,
      havesSent: this.counters.haves,
      manifestsSent: this.counters.manifests,
      invalidBlocks: this.counters.invalid,
      startedAt: this.startedAt,
      completedAt: this.completedAt
    }
  }

  /**
   * End every session and fail a pending download. With a `reason`, each peer is first told
   * (a session-wide reject), so its outstanding requests go elsewhere at once instead of
   * waiting for a timeout.
   */
  close (reason?: string): void {
    for (const s of [...this.sessions.values()]) {
      if (reason != null && s.handshaken) s.reject([], reason)
      s.close()
    }
    this.done.reject(new Error(reason ?? 'transfer closed'))
  }

  /** Stop asking for chunks until {@link STALL_RETRY_MS} from now; sessions stay up */
  private stall (err: Error): void {
    if (this.stalledUntil == null) {
      this.ctx.log('%s: %s', this.key, err.message)
      this.ctx.onError(this, err)
    }
    this.stalledUntil = this.ctx.now() + STALL_RETRY_MS
    if (this.scheduler != null) this.apply(this.scheduler.pause())
  }

  /** Our handshake, remembering whether it asked the peer for the manifest */
  private sendHandshake (session: Session): void {
    const hs = this.ourHandshake()
    if (hs.wantManifest) this.askedManifest.add(session.peer)
    session.handshake(hs)
  }

  /**
   * Send the manifest to a peer that asked for it: in parts followed by a handshake carrying our
   * current bitfield, or whole in that handshake to a peer that did not ask for parts. While the
   * manifest still comes in, a peer that takes parts gets those we have and the rest as they
   * land (we relay it). {@link MANIFEST_COPIES} go at a time; false when this one must wait.
   */
  private sendManifestTo (session: Session): boolean {
    if (session.isClosed || this.manifestCopies.size >= this.copiesAtOnce) return false
    const parts = this.takesParts.has(session.peer)
    if (this.handle == null && (this.incoming == null || !parts)) return false
    this.manifestCopies.set(session.peer, this.ctx.now())
    this.wantManifest.delete(session.peer)
    this.counters.manifests++
    this.ctx.log('manifest of %s on its way to %s%s', this.key, session.peer, this.handle == null ? ' (relayed)' : '')
    if (this.handle == null) {
      this.relayed.set(session.peer, 0)
      this.relayParts()
    } else if (parts) {
      this.finishCopy(session, this.handle.manifestBytes, 0)
    } else {
      session.handshake({ ...this.ourHandshake(), manifest: bytes(this.handle.manifestBytes) })
    }
    return true
  }

  /** Pass on the parts that came in since each relayed copy's last */
  private relayParts (): void {
    const incoming = this.incoming
    if (incoming == null) return
    for (const [peer, sent] of this.relayed) {
      const session = this.openSession(peer)
      if (session == null) this.relayed.delete(peer)
      else if (sent < incoming.received) {
        sendParts(session, incoming.bytes, sent, incoming.received)
        this.relayed.set(peer, incoming.received)
      }
    }
  }

  /**
   * A piece of the manifest we asked for in parts. Pieces are taken from one peer at a time, in
   * order; the first makes us a relay (we tell the peers that lack it), each is passed on to the
   * copies we relay, and the last has the whole verified and stored.
   */
  async onManifestPart (session: Session, part: ManifestPart): Promise<void> {
    if (this.handle != null) return
    const now = this.ctx.now()
    let incoming = this.incoming
    // A new copy starts at 0, from the peer we asked (a copy nobody asked for would have us
    // hold up to MAX_MANIFEST_BYTES for it); it replaces one still coming from a peer asked
    // before (an ask that moved on while an old copy trickled).
    if (part.offset === 0 && incoming?.peer !== session.peer && this.manifestAsk?.peer === session.peer) {
      if (part.total === 0 || part.total > MAX_MANIFEST_BYTES) {
        this.ctx.log('%s sent a manifest part of a %d-byte manifest for %s', session.peer, part.total, this.key)
        return
      }
      const first = incoming == null
      if (!first) this.dropIncoming()
      incoming = this.incoming = { peer: session.peer, bytes: new Uint8Array(part.total), received: 0, lastAt: now }
      this.ctx.log('manifest of %s coming in parts from %s', this.key, session.peer)
      if (first) this.announceRelay()
    }
    if (incoming == null || incoming.peer !== session.peer || part.offset < incoming.received) return
    const end = part.offset + part.data.byteLength
    if (part.offset > incoming.received || part.total !== incoming.bytes.byteLength || end > part.total) {
      this.dropIncoming(`${session.peer} sent a manifest part out of order`)
      return
    }
    incoming.bytes.set(part.data, part.offset)
    incoming.received = end
    incoming.lastAt = now
    this.relayParts()
    if (end < part.total) return
    await this.adoptManifest(incoming.bytes)
    if (this.handle != null || this.incoming !== incoming) return
    // Not stored: no room (the stall retries later, with fresh sessions; asking again now would
    // have the copy sent again and again), or not the manifest the artifact id names.
    if (this.isStalled()) this.dropIncoming('no room to store it', false)
    else this.dropIncoming('not the manifest the artifact id names')
  }

  /** Tell the peers that lack the manifest that we relay it: they may ask us for it */
  private announceRelay (): void {
    for (const peer of this.lacking) {
      const session = this.openSession(peer)
      if (session != null && peer !== this.incoming?.peer) this.sendHandshake(session)
    }
    this.sendManifestInLine()
  }

  /**
   * The manifest coming in stopped, or was not the right one: forget it, end the copies we
   * relayed (their peers hear we no longer do, and ask another), and if it came from the peer
   * we asked and `askAnother`, ask another holder (that one last: it is heard of again once it
   * holds it).
   */
  private dropIncoming (why?: string, askAnother = true): void {
    const incoming = this.incoming
    if (incoming == null) return
    if (why != null) this.ctx.log('manifest copy from %s for %s dropped: %s', incoming.peer, this.key, why)
    this.incoming = undefined
    for (const peer of this.relayed.keys()) {
      this.manifestCopies.delete(peer)
      const session = this.openSession(peer)
      if (session != null) this.sendHandshake(session)
    }
    this.relayed.clear()
    if (!askAnother || this.manifestAsk?.peer !== incoming.peer) return
    this.manifestAsk = undefined
    this.manifestHolders.delete(incoming.peer)
    this.openSession(incoming.peer)?.handshake(this.ourHandshake()) // the ask withdrawn
    this.askForManifest()
  }

  /** The rest of a manifest copy in parts, from `from`, then our handshake: it says we hold it */
  private finishCopy (session: Session, manifest: Uint8Array, from: number): void {
    sendParts(session, manifest, from, manifest.byteLength)
    session.handshake(this.ourHandshake())
  }

  /** Our session with `peer`, if it is still open */
  private openSession (peer: string): Session | undefined {
    const session = this.sessions.get(peer)
    return session != null && !session.isClosed ? session : undefined
  }

  /** Manifest copies on their way at once: {@link ORIGIN_MANIFEST_COPIES} or {@link MANIFEST_COPIES} */
  private get copiesAtOnce (): number {
    return this.seeder != null ? ORIGIN_MANIFEST_COPIES : MANIFEST_COPIES
  }

  /** A peer has the manifest, or is gone: it no longer waits for it, and its place is free */
  private manifestDelivered (peer: string): void {
    this.wantManifest.delete(peer)
    if (this.manifestCopies.delete(peer)) this.sendManifestInLine()
  }

  /**
   * Send the manifest to the peers waiting for it, in the order they asked, while a place is
   * free (see {@link MANIFEST_COPIES}); the rest wait in line. Returns the peers it went to.
   */
  private sendManifestInLine (): string[] {
    const sent: string[] = []
    for (const peer of [...this.wantManifest]) {
      if (this.manifestCopies.size >= this.copiesAtOnce) break
      const session = this.sessions.get(peer)
      if (session == null) this.wantManifest.delete(peer)
      else if (this.sendManifestTo(session)) sent.push(peer)
    }
    return sent
  }

  /** A peer's handshake says it holds the manifest we lack: it may be the one to ask */
  private heardManifestHolder (peer: string, update: boolean): void {
    const ask = this.manifestAsk
    if (update && ask?.peer === peer) {
      // Its answer to our ask: we wait in its line; or it now holds what it was passing on to us.
      if (this.incoming?.peer !== peer) ask.queued = true
    } else {
      this.manifestHolders.delete(peer)
      this.manifestHolders.add(peer)
    }
    this.askForManifest()
  }

  /**
   * Ask one holder at a time for the manifest. Asking all of them (every holder sending it to
   * every peer that lacked it) put ~4 copies on each node's downlink at once, on their senders'
   * uplinks too: at 48 nodes 203 copies for 44 needed, a 37 KB manifest on 48 KB/s links, and
   * the median node held it only 12 s after the announcement. The holder heard of last is asked,
   * an origin only when no other holds it (its uplink is for chunks): a new holder has the
   * shortest line. A holder sends at once or answers that we wait in its line (it serves two at
   * a time); while we wait, the ask moves to any newer holder. A copy on its way is waited for;
   * an ask that brought nothing for MANIFEST_COPY_TIMEOUT_MS moves to the next holder
   * (`rotate`: skip the one asked now).
   */
  private askForManifest (rotate = false): void {
    if (this.handle != null) return
    const ask = this.manifestAsk
    let peer: string | undefined
    for (const p of this.manifestHolders) {
      if (rotate && p === ask?.peer) continue
      if (peer == null || !this.origins.has(p) || this.origins.has(peer)) peer = p
    }
    if (peer == null || peer === ask?.peer) return
    if (ask != null && !rotate && !ask.queued) return
    const session = this.sessions.get(peer)
    if (session == null) return
    if (ask != null) this.sessions.get(ask.peer)?.handshake(this.ourHandshake()) // withdrawn
    this.manifestAsk = { peer, at: this.ctx.now(), bytes: 0, queued: false }
    this.askedManifest.add(peer)
    session.handshake({ ...this.ourHandshake(), sendManifest: true, manifestInParts: true })
  }

  /** After a full disk stopped us before the manifest was stored: ask a peer for it again */
  private retryManifest (): void {
    if (this.handle != null) return
    // Sessions opened without the manifest carried only bitfields; a fresh dial asks for it.
    for (const s of [...this.sessions.values()]) s.close()
    for (const c of this.candidates.values()) c.lastDial = undefined
  }

  /**
   * Store a manifest a peer sent, once: several peers' handshakes often bring it within one
   * moment, and each must not create the download anew while the first is being stored.
   */
  private async adoptManifest (bytes: Uint8Array): Promise<void> {
    while (this.adopting != null) await this.adopting
    if (this.handle != null) return
    const adopting = this.storeManifest(bytes)
    this.adopting = adopting.then(() => {}, () => {}).finally(() => { this.adopting = undefined })
    await adopting
  }

  private async storeManifest (bytes: Uint8Array): Promise<void> {
    let manifest
    try {
      manifest = decodeManifest(bytes, this.id)
    } catch (err: any) {
      this.ctx.log('bad manifest for %s: %s', this.key, err.message)
      return
    }
    if (this.handle != null || this.isStalled()) return
    try {
      this.handle = await this.ctx.store.create(manifest, bytes, this.id)
    } catch (err: any) {
      if (err?.code !== 'ERR_NO_SPACE') throw err
      this.stall(err)
      return
    }
    this.ctx.log('manifest of %s stored: %d chunks', this.key, manifest.chunks.length)
    this.manifestAsk = undefined
    this.manifestHolders.clear()
    this.incoming = undefined
    // The copies we relayed get the rest, and hear that we hold it now.
    for (const [peer, sent] of this.relayed) {
      const session = this.openSession(peer)
      if (session == null) continue
      this.finishCopy(session, bytes, sent)
      this.askedManifest.delete(peer)
    }
    this.relayed.clear()
    this.ensureScheduler()
    for (const [peer, bits] of this.pendingBitfields) this.peerBitfield(peer, bits)
    this.pendingBitfields.clear()
    // Those that asked us get it, two at a time in the order they asked; those we asked hear
    // that we have it (a handshake update), so they do not send it when they get it: it took a
    // second or more of each uplink.
    const asked = new Set(this.askedManifest)
    this.askedManifest.clear()
    for (const peer of this.sendManifestInLine()) asked.delete(peer) // the copy's handshake tells them as well
    for (const peer of asked) this.openSession(peer)?.handshake(this.ourHandshake())
    this.connectMore()
  }

  private ensureScheduler (): void {
    const handle = this.handle
    if (handle == null || this.scheduler != null || !this.downloading) return
    const chunks = handle.manifest.chunks.length
    this.scheduler = new Scheduler({
      chunks,
      have: Bitfield.fromBytes(chunks, handle.bitfieldBytes()),
      chunkSize: handle.manifest.chunkSize,
      ...this.ctx.scheduler
    })
    if (this.scheduler.isComplete) this.finish()
  }

  /**
   * What a peer's handshake shows it holds. An update adds to what we knew: an origin's shows
   * nothing, though it revealed chunks to us (haves kept with its first handshake's bitfield
   * until the manifest it brings is stored).
   */
  private peerBitfield (peer: string, bytes: Uint8Array, update = false): void {
    const scheduler = this.scheduler
    if (scheduler == null || this.handle == null) return
    const chunks = this.handle.manifest.chunks.length
    if (bytes.byteLength > Math.ceil(chunks / 8)) {
      this.sessions.get(peer)?.close(new Error('peer sent a bitfield of the wrong size'))
      return
    }
    const bits = this.bitsOf(bytes)
    if (update) for (let i = 0; i < chunks; i++) if (scheduler.peerHas(peer, i)) bits.set(i)
    this.apply(scheduler.addPeer(peer, bits, this.ctx.now()))
  }

  /** A peer's raw bitfield, sized to the manifest; spare or excess bits are ignored */
  private bitsOf (bytes: Uint8Array): Bitfield {
    const chunks = this.handle?.manifest.chunks.length ?? 0
    const bits = new Bitfield(chunks)
    // Bit by bit rather than fromBytes: haves gathered before the manifest may set spare bits.
    for (let i = 0; i < Math.min(chunks, bytes.byteLength * 8); i++) {
      if ((bytes[i >> 3] & (0x80 >> (i & 7))) !== 0) bits.set(i)
    }
    return bits
  }

  /** Send each revealed chunk as a `have` to the one peer it is meant for */
  private reveal (actions: RevealAction[]): void {
    const byPeer = new Map<string, number[]>()
    for (const a of actions) push(byPeer, a.peer, a.index)
    for (const [peer, indices] of byPeer) {
      const session = this.sessions.get(peer)
      if (session == null) continue
      this.counters.haves += indices.length
      session.have(indices)
    }
  }

  private apply (actions: SchedulerAction[]): void {
    const requests = new Map<string, number[]>()
    const cancels = new Map<string, number[]>()
    const haves: number[] = []
    let complete = false
    for (const a of actions) {
      if (a.type === 'request') push(requests, a.peer, a.index)
      else if (a.type === 'cancel') push(cancels, a.peer, a.index)
      else if (a.type === 'have') haves.push(a.index)
      else complete = true
    }
    for (const [peer, idx] of cancels) this.sessions.get(peer)?.cancel(idx)
    for (const [peer, idx] of requests) this.sessions.get(peer)?.request(idx)
    if (haves.length > 0) {
      this.broadcastHave(haves)
      this.ctx.onProgress(this)
    }
    if (complete) this.finish()
  }

  /**
   * Tell peers what we just verified, so they can fetch it from us: within a few seconds or
   * chunks, gathered into one frame per peer, and at once to a peer short of things to ask us
   * for (see {@link PEER_HAVES_HELD}). A peer known to hold a chunk has no use for the news
   * (near the end that is most of them), except an origin: its super-seeder needs every copy to
   * know which reveals the swarm passed on.
   */
  private broadcastHave (indices: number[]): void {
    const scheduler = this.scheduler
    for (const s of this.sessions.values()) {
      const origin = this.origins.has(s.peer)
      const news = scheduler == null || origin ? indices : indices.filter(i => !scheduler.peerHas(s.peer, i))
      this.counters.haves += news.length
      if (origin) {
        s.haveLater(news, ORIGIN_HAVE_DELAY_MS)
        continue
      }
      // What the peer already knows it could ask us for (our held news not counted)
      const known = scheduler == null ? PEER_HAVES_HELD : scheduler.peerLacks(s.peer) - s.heldHaves - news.length
      s.haveLater(news, PEER_HAVE_DELAY_MS, known < PEER_HAVES_HELD ? 1 : PEER_HAVES_HELD)
    }
  }

  private finish (): void {
    if (this.handle == null) return
    if (this.downloading) this.completedAt ??= this.ctx.now()
    this.done.resolve(this.handle)
    this.ctx.onComplete(this)
  }

  /**
   * Peer exchange: tell a new peer who else we trade this artifact with, and tell those peers
   * about the new one, so holders find each other without waiting for the DHT. The news of new
   * peers goes out at the next tick, all of it in one message per session: at a swarm's start a
   * node gains a dozen sessions within seconds, and one message per newcomer per session was
   * O(sessions²) frames, each encrypted, sent and decoded.
   */
  private sendPex (to: Session): void {
    const peers: PexPeer[] = []
    for (const s of this.sessions.values()) {
      if (peers.length >= PEX_LIMIT) break
      if (s === to) continue
      const entry = this.pexEntry(s)
      if (entry != null) peers.push(entry)
    }
    to.pex(peers)
    const newcomer = this.pexEntry(to)
    if (newcomer != null) this.pexNews.set(to.peer, newcomer)
  }

  /** Send the newcomers since the last tick to every session (each but itself) */
  private flushPexNews (): void {
    if (this.pexNews.size === 0) return
    const news = [...this.pexNews]
    this.pexNews.clear()
    for (const s of this.sessions.values()) {
      if (!s.handshaken) continue
      const entries: PexPeer[] = []
      for (const [peer, entry] of news) if (peer !== s.peer) entries.push(entry)
      s.pex(entries.slice(0, PEX_MAX_PEERS))
    }
  }

  private pexEntry (s: Session): PexPeer | undefined {
    const addrs = this.ctx.addrsOf(s.peerId)
    if (addrs.length === 0) return undefined
    return { id: s.peerId.toMultihash().bytes, addrs: addrs.map(a => a.bytes) }
  }

}

function push (map: Map<string, number[]>, key: string, value: number): void {
  const list = map.get(key)
  if (list == null) map.set(key, [value])
  else list.push(value)
}

/** The union of two raw MSB-first bitfields we cannot size yet (manifest unknown) */
function orBytes (a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.max(a.byteLength, b.byteLength))
  out.set(a)
  for (let i = 0; i < b.byteLength; i++) out[i] |= b[i]
  return out
}

/** Set bits in a raw MSB-first bitfield we cannot size yet (manifest unknown) */
function orBits (bytes: Uint8Array, indices: number[]): Uint8Array {
  const max = Math.max(...indices, -1)
  const out = new Uint8Array(Math.max(bytes.byteLength, (max >> 3) + 1))
  out.set(bytes)
  for (const i of indices) out[i >> 3] |= 0x80 >> (i & 7)
  return out
}

/** Send `manifest[from, to)` in parts of at most {@link MANIFEST_PART_BYTES} */
function sendParts (session: Session, manifest: Uint8Array, from: number, to: number): void {
  for (let offset = from; offset < to; offset += MANIFEST_PART_BYTES) {
    const end = Math.min(to, offset + MANIFEST_PART_BYTES)
    session.manifestPart({ offset, data: bytes(manifest.subarray(offset, end)), total: manifest.byteLength })
  }
}
