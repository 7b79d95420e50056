/**
 * The libp2p service: registers `/shoal/exchange/1.0.0`, opens and accepts sessions, and keeps
 * one {@link Transfer} per artifact. Any artifact in the store is served; artifacts passed to
 * `fetch` are also downloaded.
 */
import { MAX_CHUNK_SIZE } from '@shoal/content'
import { TypedEventEmitter } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import { NULL_HOST, Session } from './session.js'
import { Transfer } from './transfer.js'
import { TokenBucket } from './rate-limit.js'
import { readFrames } from './wire.js'
import { PexDecoder } from './pex-decoder.js'
import type { Candidate, TransferContext, TransferStats } from './transfer.js'
import type { ArtifactHandle, Store } from '@shoal/store'
import type { IdentifyResult, Libp2pEvents, TypedEventTarget, ComponentLogger, Connection, Logger, PeerId, PeerStore, Startable, Stream, StreamHandler, StreamHandlerOptions, AbortOptions } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** The protocol id spoken on exchange streams */
export const EXCHANGE_PROTOCOL = '/shoal/exchange/1.0.0'

export interface ExchangeInit {
  /** Where artifacts are read from and written to */
  store: Store
  /**
   * Protocol id; change it to run separate swarms on one libp2p node.
   *
   * @default '/shoal/exchange/1.0.0'
   */
  protocol?: string
  /**
   * Peers one artifact is exchanged with at once (Kraken uses 10, libtorrent 8 upload slots).
   * A node dials until it has this many sessions for an artifact; see `acceptPeersPerArtifact`
   * for the sessions it accepts.
   *
   * @default 16
   */
  maxPeersPerArtifact?: number
  /**
   * Sessions per artifact beyond which inbound ones are refused (the dialler tries another
   * peer). Only a little above `maxPeersPerArtifact`: a node everyone dials would otherwise
   * split its uplink among twice as many peers as the rest: in the simulator of 1000 nodes,
   * accepting twice the bound held the last copy at 1.31 T*, this limit alone brings it to 1.17.
   * An origin has its own bound, `originPeersPerArtifact`.
   *
   * @default maxPeersPerArtifact + 2
   */
  acceptPeersPerArtifact?: number
  /**
   * Sessions an origin (a super-seeding publisher) accepts per artifact. Its uplink is split
   * among everyone it sends to, and in a swarm larger than this every new chunk waits for a
   * share of it: with 32 sessions the last first copies crawl out together at 1/32 of the
   * origin's rate and hold up the end. In the simulator (256 chunks, 48 to 300 nodes) going from
   * 32 to 16 took the last copy from 1.30–1.34 T* to 1.17–1.25 T* with the origin's upload
   * still 99 % busy; 5 GB to 1000 nodes went from 1.135 to 1.129 T*.
   *
   * @default maxPeersPerArtifact
   */
  originPeersPerArtifact?: number
  /**
   * Ceiling on the requests outstanding at one peer. Below it each peer's pipeline is sized to
   * its measured bandwidth × delay (see `SchedulerInit`).
   *
   * @default 32
   */
  maxInflightPerPeer?: number
  /**
   * A request unanswered this long is re-issued to another peer.
   *
   * @default 30_000
   */
  requestTimeoutMs?: number
  /**
   * Requests a peer may queue with us before we refuse more.
   *
   * @default 64
   */
  maxQueuedRequests?: number
  /**
   * Largest frame accepted: a chunk plus framing, or a manifest.
   *
   * @default 8 MiB
   */
  maxMessageSize?: number
  /**
   * Cap on the block bytes this node sends per second, over all peers and artifacts (a token
   * bucket; 0 = no cap).
   *
   * @default 0
   */
  maxUploadBytesPerSecond?: number
  /**
   * Cap on the block bytes this node receives per second, over all peers and artifacts. Reading
   * pauses while over it, so senders are held back by flow control rather than buffered.
   *
   * @default 0
   */
  maxDownloadBytesPerSecond?: number
  /**
   * How often timeouts and dials are re-checked.
   *
   * @default 1_000
   */
  tickIntervalMs?: number
}

export interface ExchangeComponents {
  peerId: PeerId
  peerStore: PeerStore
  logger: ComponentLogger
  registrar: {
    handle(protocol: string, handler: StreamHandler, options?: StreamHandlerOptions): Promise<void>
    unhandle(protocol: string, options?: AbortOptions): Promise<void>
  }
  connectionManager: {
    openStream(peer: PeerId, protocol: string | string[], options?: AbortOptions): Promise<Stream>
  }
  /** libp2p's event bus; identify results keep the addresses we pass on in peer exchange fresh */
  events?: TypedEventTarget<Libp2pEvents>
}

export interface ExchangeEvents {
  /** A chunk of an artifact being downloaded was verified and stored */
  'artifact:progress': CustomEvent<TransferStats>
  /** Every chunk of a downloaded artifact is verified */
  'artifact:complete': CustomEvent<{ id: CID, handle: ArtifactHandle }>
  /**
   * A problem the exchange works around on its own but an operator should hear of: a full disk
   * (the download pauses and retries; `error.code === 'ERR_NO_SPACE'`) or a chunk found corrupt
   * on disk (refused to peers and fetched again; `'ERR_CORRUPT_CHUNK'`)
   */
  'artifact:error': CustomEvent<{ id: CID, error: Error }>
}

export interface FetchOptions {
  signal?: AbortSignal
}

export class Exchange extends TypedEventEmitter<ExchangeEvents> implements Startable {
  readonly protocol: string
  private readonly components: ExchangeComponents
  private readonly init: Required<Omit<ExchangeInit, 'store' | 'protocol'>>
  private readonly store: Store
  private readonly log: Logger
  private readonly transfers = new Map<string, Transfer>()
  private readonly addrCache = new Map<string, Multiaddr[]>()
  private readonly pex = new PexDecoder()
  private readonly ctx: TransferContext
  private timer?: ReturnType<typeof setInterval>
  private running = false
  private readonly upload?: TokenBucket
  private readonly download?: TokenBucket

  constructor (components: ExchangeComponents, init: ExchangeInit) {
    super()
    this.components = components
    this.store = init.store
    this.protocol = init.protocol ?? EXCHANGE_PROTOCOL
    this.log = components.logger.forComponent('shoal:exchange')
    this.init = {
      maxPeersPerArtifact: init.maxPeersPerArtifact ?? 16,
      acceptPeersPerArtifact: init.acceptPeersPerArtifact ?? (init.maxPeersPerArtifact ?? 16) + 2,
      originPeersPerArtifact: init.originPeersPerArtifact ?? init.maxPeersPerArtifact ?? 16,
      maxInflightPerPeer: init.maxInflightPerPeer ?? 32,
      requestTimeoutMs: init.requestTimeoutMs ?? 30_000,
      maxQueuedRequests: init.maxQueuedRequests ?? 64,
      maxMessageSize: init.maxMessageSize ?? Math.max(8 * 1024 * 1024, MAX_CHUNK_SIZE + 65_536),
      tickIntervalMs: init.tickIntervalMs ?? 1_000,
      maxUploadBytesPerSecond: init.maxUploadBytesPerSecond ?? 0,
      maxDownloadBytesPerSecond: init.maxDownloadBytesPerSecond ?? 0
    }
    if (this.init.maxUploadBytesPerSecond > 0) this.upload = new TokenBucket({ rate: this.init.maxUploadBytesPerSecond })
    if (this.init.maxDownloadBytesPerSecond > 0) this.download = new TokenBucket({ rate: this.init.maxDownloadBytesPerSecond })
    this.ctx = {
      store: this.store,
      self: components.peerId.toString(),
      maxPeers: this.init.maxPeersPerArtifact,
      scheduler: { maxInflightPerPeer: this.init.maxInflightPerPeer, requestTimeoutMs: this.init.requestTimeoutMs },
      now: () => Date.now(),
      dial: (t, c) => { void this.dial(t, c) },
      addrsOf: peer => this.addrCache.get(peer.toString()) ?? [],
      decodePex: peers => this.pex.decode(peers),
      onProgress: t => this.safeDispatch('artifact:progress', t.stats()),
      onComplete: t => { if (t.handle != null) this.safeDispatch('artifact:complete', { id: t.id, handle: t.handle }) },
      onError: (t, error) => { this.safeDispatch('artifact:error', { id: t.id, error }) },
      log: (msg, ...args) => { this.log(msg, ...args) }
    }
  }

  readonly [Symbol.toStringTag] = '@shoal/exchange'

  async start (): Promise<void> {
    await this.components.registrar.handle(this.protocol, (stream, connection) => {
      void this.accept(stream, connection)
    }, { maxInboundStreams: 1024, maxOutboundStreams: 1024 })
    this.timer = setInterval(() => { for (const t of this.transfers.values()) t.tick() }, this.init.tickIntervalMs)
    this.timer.unref?.()
    this.components.events?.addEventListener('peer:identify', this.onIdentify)
    this.running = true
  }

  /** A peer's listen addresses, learned by identify, are what peer exchange passes on */
  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    const addrs = evt.detail.listenAddrs
    if (addrs.length > 0) this.addrCache.set(evt.detail.peerId.toString(), addrs)
  }

  async stop (): Promise<void> {
    this.running = false
    clearInterval(this.timer)
    this.components.events?.removeEventListener('peer:identify', this.onIdentify)
    await this.components.registrar.unhandle(this.protocol)
    for (const t of this.transfers.values()) t.close()
    this.transfers.clear()
  }

  /**
   * Download an artifact. Resolves with its store handle once every chunk is verified; feed it
   * peers with {@link addPeers} (discovery's job). Chunks are served to others as they arrive.
   */
  async fetch (id: CID, options: FetchOptions = {}): Promise<ArtifactHandle> {
    const transfer = this.transfer(id)
    transfer.startDownload()
    if (options.signal == null) return await transfer.completed
    const signal = options.signal
    signal.throwIfAborted()
    return await new Promise<ArtifactHandle>((resolve, reject) => {
      const onAbort = (): void => { reject(signal.reason) }
      signal.addEventListener('abort', onAbort, { once: true })
      transfer.completed.then(resolve, reject).finally(() => { signal.removeEventListener('abort', onAbort) })
    })
  }

  /**
   * Serve a complete artifact as its origin (the publisher): it is super-seeded, each chunk
   * revealed to one peer at a time so the origin's upload goes to chunks no peer has yet.
   */
  superSeed (id: CID): void {
    this.transfer(id).superSeed()
  }

  /** Tell the exchange about peers that may hold an artifact */
  addPeers (id: CID, candidates: Candidate[]): void {
    for (const c of candidates) {
      if (c.multiaddrs.length > 0) this.addrCache.set(c.id.toString(), c.multiaddrs)
    }
    this.transfer(id).addCandidates(candidates)
  }

  /** Counters for one artifact, or for every artifact this node has touched */
  stats (id: CID): TransferStats | undefined
  stats (): TransferStats[]
  stats (id?: CID): TransferStats | TransferStats[] | undefined {
    if (id != null) return this.transfers.get(id.toString())?.stats()
    return [...this.transfers.values()].map(t => t.stats())
  }

  /** Peers currently in a session for an artifact */
  peersOf (id: CID): string[] {
    return [...(this.transfers.get(id.toString())?.sessions.keys() ?? [])]
  }

  /**
   * Stop exchanging an artifact: close its sessions and forget its state (not its files). With
   * a `reason` (say `'evicted'`), each peer is told first, so its outstanding requests go to
   * other holders at once; do this before deleting what peers may still be downloading.
   */
  forget (id: CID, reason?: string): void {
    const t = this.transfers.get(id.toString())
    if (t == null) return
    t.close(reason)
    this.transfers.delete(id.toString())
  }

  /**
   * Whether a peer is downloading this artifact from us: it has requests queued, or we sent it a
   * block within `recentMs`. Retention waits for such peers before evicting.
   */
  isServing (id: CID, recentMs = 5_000): boolean {
    const t = this.transfers.get(id.toString())
    if (t == null) return false
    const since = Date.now() - recentMs
    for (const s of t.sessions.values()) {
      if (s.isUploading || s.lastSentAt > since) return true
    }
    return false
  }

  private transfer (id: CID): Transfer {
    const key = id.toString()
    let t = this.transfers.get(key)
    if (t == null) {
      t = new Transfer(id, this.ctx, this.store.get(id))
      this.transfers.set(key, t)
    }
    return t
  }

  private async dial (transfer: Transfer, candidate: Candidate): Promise<void> {
    const peer = candidate.id.toString()
    let opened = false
    try {
      if (candidate.multiaddrs.length > 0) {
        await this.components.peerStore.merge(candidate.id, { multiaddrs: candidate.multiaddrs })
      }
      const stream = await this.components.connectionManager.openStream(candidate.id, this.protocol, { signal: AbortSignal.timeout(10_000) })
      if (!this.running) { stream.abort(new Error('exchange stopped')); return }
      opened = true
      const session = this.newSession(stream, candidate.id, transfer)
      transfer.dialling.delete(peer)
      if (!transfer.attach(session)) { session.close(); return }
      transfer.greet(session)
      await session.run()
    } catch (err: any) {
      this.log('dial %s for %s failed: %s', peer, transfer.key, err.message)
      if (!opened) transfer.dialFailed(peer)
    } finally {
      transfer.dialling.delete(peer)
    }
  }

  /** An inbound stream: read the peer's handshake, then serve and/or trade */
  private async accept (stream: Stream, connection: Connection): Promise<void> {
    try {
      let session: Session | undefined
      // Bytes are counted once there is a session (the handshake's need not be).
      const frames = readFrames(stream, this.init.maxMessageSize, n => { session?.bytesRead(n) })
      const first = await frames.next()
      const hs = first.done === true ? undefined : first.value.handshake
      if (hs == null) throw new Error('expected a handshake')
      const id = CID.decode(hs.artifact)
      const transfer = this.transfers.get(id.toString()) ?? (this.store.get(id) != null ? this.transfer(id) : undefined)
      session = transfer == null ? undefined : this.newSession(stream, connection.remotePeer, transfer)
      if (transfer == null || session == null) {
        refuse(stream, connection.remotePeer, 'artifact not held here')
        return
      }
      const accept = transfer.seeder != null ? this.init.originPeersPerArtifact : this.init.acceptPeersPerArtifact
      if (transfer.sessions.size >= accept && !transfer.sessions.has(session.peer)) {
        refuse(stream, connection.remotePeer, 'too many peers for this artifact')
        return
      }
      if (!transfer.attach(session)) {
        session.reject([], 'duplicate session')
        session.close()
        return
      }
      await session.run(frames, first.value)
    } catch (err: any) {
      this.log('inbound exchange stream from %p failed: %s', connection.remotePeer, err.message)
      stream.abort(err)
    }
  }

  private newSession (stream: Stream, peer: PeerId, transfer: Transfer): Session {
    const session = new Session(stream, peer, transfer, {
      maxMessageSize: this.init.maxMessageSize,
      maxQueuedRequests: this.init.maxQueuedRequests,
      upload: this.upload,
      download: this.download
    })
    void this.cacheAddrs(session.peerId)
    return session
  }

  private async cacheAddrs (peer: PeerId): Promise<void> {
    try {
      const p = await this.components.peerStore.get(peer)
      const addrs = p.addresses.map(a => a.multiaddr)
      if (addrs.length > 0) this.addrCache.set(peer.toString(), addrs)
    } catch {}
  }

  private safeDispatch<K extends keyof ExchangeEvents> (type: K, detail: ExchangeEvents[K]['detail']): void {
    try {
      this.safeDispatchEvent(type, { detail } as any)
    } catch (err: any) {
      this.log.error('%s listener threw: %s', type, err.message)
    }
  }
}

/** Answer an inbound stream with a session-wide reject in place of a handshake */
function refuse (stream: Stream, peer: PeerId, reason: string): void {
  const refusal = new Session(stream, peer, NULL_HOST, { maxMessageSize: 1024, maxQueuedRequests: 0 })
  refusal.reject([], reason)
  refusal.close()
}

/**
 * The exchange as a libp2p service factory:
 *
 * ```ts
 * const node = await createLibp2p({ services: { exchange: exchange({ store }) } })
 * ```
 */
export function exchange (init: ExchangeInit): (components: ExchangeComponents) => Exchange {
  return (components) => new Exchange(components, init)
}
