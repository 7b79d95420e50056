/**
 * A Shoal node: one libp2p host running the exchange and discovery, plus the glue between them
 * (discovery finds holders, the exchange trades with them) and the artifact lifecycle
 * (announce → fetch → verify → write to the output dir → keep serving).
 */
import './polyfill.js'
import { mkdir, access, constants as fsConstants } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { join, resolve } from 'node:path'
import { setMaxListeners } from 'node:events'
import { chunkFile, parseArtifactId, DEFAULT_CHUNK_SIZE } from '@shoal/content'
import { openStore } from '@shoal/store'
import { exchange } from '@shoal/exchange'
import { Discovery, discoveryServices, localPeers } from '@shoal/discovery'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { bootstrap } from '@libp2p/bootstrap'
import { mdns } from '@libp2p/mdns'
import { TypedEventEmitter } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { LevelDatastore } from 'datastore-level'
import { resolveConfig } from './config.js'
import { chooseEvictions } from './retention.js'
import { ShoalError } from './errors.js'
import { loadOrCreateKey } from './identity.js'
import { LookupBackoff } from './lookup-backoff.js'
import type { ResolvedConfig, ShoalNodeInit } from './config.js'
import type { Exchange, TransferStats } from '@shoal/exchange'
import type { Announcement, DiscoveryServices, HolderBeacon } from '@shoal/discovery'
import type { ChunkFileOptions, Manifest } from '@shoal/content'
import type { Store } from '@shoal/store'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Below this many connections a node redials peers it knows, `RECONNECT_BATCH` at a time (see `reconnect`) */
const MIN_CONNECTIONS = 4
const RECONNECT_BATCH = 8
const RECONNECT_INTERVAL_MS = 5_000
/** How often a holder offers to repeat its complete beacons; discovery's throttle, sized to the swarm, decides when they go out */
const HOLDER_BEACON_REPEAT_MS = 15_000
/**
 * How long a node gathers peers that joined the announce topic before it re-announces for
 * them: peers join together, and a joining peer's exchange session (proof it heard) often
 * opens within this moment.
 */
const NEWCOMER_WAIT_MS = 1_000
/**
 * How long a download that starts from an announcement waits before it may ask the DHT for
 * holders: at that moment the DHT knows none it does not (the publisher provides after
 * PUBLISH_PROVIDE_DELAY_MS, downloaders once complete), and a whole swarm asking at once made
 * the DHT a quarter of all CPU in the first 10 s at 48 nodes.
 */
const LOOKUP_GRACE_MS = 10_000
/** Longest wait between two DHT lookups for holders of one artifact that keep finding no one new */
const LOOKUP_BACKOFF_MAX_MS = 60_000
/** Longest random wait before providing a downloaded artifact (see `provide`) */
const PROVIDE_JITTER_MS = 15_000
/**
 * How long a publisher waits to provide what it published. The swarm starts from the
 * announcement; the DHT record is for nodes that come later. A provide is a lookup plus ~20
 * RPCs, each a new stream and peer-store work on both ends: run at the announcement it held the
 * publisher's CPU for its first 4 s at 16 nodes, while its first blocks waited.
 */
const PUBLISH_PROVIDE_DELAY_MS = 10_000

export type ShoalServices = DiscoveryServices & { exchange: Exchange, identify: unknown }

/** Progress of one artifact on this node */
export interface ArtifactProgress extends TransferStats {
  /** Peer id of the publisher, when learned from an announcement */
  publisher?: string
  /** Where the complete file was written */
  path?: string
}

export interface ShoalNodeEvents {
  /** An artifact was announced in the swarm */
  announcement: CustomEvent<Announcement>
  /** A chunk of an artifact being fetched was verified and stored */
  progress: CustomEvent<ArtifactProgress>
  /** An artifact was fetched, verified and written to the output dir */
  complete: CustomEvent<ArtifactProgress>
  /** Something went wrong in the background (a fetch that failed, a DHT error) */
  error: CustomEvent<Error>
  /** A peer reported it holds a complete copy of an artifact */
  replica: CustomEvent<{ id: string, peer: string, replicas: number }>
  /** The retention policy removed an artifact (peers fetching it from us were told first) */
  evicted: CustomEvent<{ id: string, name: string, reason: string }>
}

export interface PublishOptions extends Pick<ChunkFileOptions, 'chunkSize' | 'name' | 'onProgress' | 'signal'> {}

export interface Published {
  id: CID
  manifest: Manifest
  /** True when the file was unchanged since it was last published here, so it was not re-hashed */
  reused: boolean
}

export class ShoalNode extends TypedEventEmitter<ShoalNodeEvents> {
  readonly libp2p: Libp2p<ShoalServices>
  readonly store: Store
  readonly discovery: Discovery
  readonly config: ResolvedConfig
  private readonly publishers = new Map<string, string>()
  private readonly fetching = new Map<string, Promise<string>>()
  private readonly paths = new Map<string, string>()
  private readonly published = new Map<string, Announcement>()
  /** Announcements heard for artifacts we may hold, kept to relay them to late joiners */
  private readonly heard = new Map<string, Announcement>()
  /** Relays waiting out their random delay; another node's announcement cancels ours */
  private readonly relays = new Map<string, ReturnType<typeof setTimeout>>()
  private retaining: Promise<void> = Promise.resolve()
  private providing: Promise<void> = Promise.resolve()
  /** When each pending eviction first fell due (it waits while peers download it from us) */
  private readonly evictionDue = new Map<string, number>()
  private retentionTimer?: ReturnType<typeof setTimeout>
  private readonly provided = new Set<string>()
  private readonly finding = new Set<string>()
  private readonly lookups: LookupBackoff
  /** artifact id → peers that reported a complete copy */
  private readonly replicas = new Map<string, Set<string>>()
  private readonly timers: Array<ReturnType<typeof setInterval>> = []
  /** Dials of peers found by discovery (or reconnect) still under way */
  private discoveryDials = 0
  private readonly stopping = new AbortController()
  /** Our addresses as strings, rebuilt when libp2p reports a change */
  private addrs?: string[]
  /** Peers that joined the announce topic since the last {@link NEWCOMER_WAIT_MS} round */
  private readonly newcomers = new Map<string, PeerId>()
  private newcomerTimer?: ReturnType<typeof setTimeout>
  /** When holder beacons were last repeated (epoch ms) */
  private holderBeaconsAt = 0

  private readonly datastore?: LevelDatastore

  private constructor (libp2p: Libp2p<ShoalServices>, store: Store, datastore: LevelDatastore | undefined, config: ResolvedConfig) {
    super()
    this.libp2p = libp2p
    this.datastore = datastore
    this.store = store
    this.config = config
    this.discovery = new Discovery(libp2p, { swarm: config.swarm })
    this.lookups = new LookupBackoff(config.findIntervalMs, LOOKUP_BACKOFF_MAX_MS)
    libp2p.addEventListener('self:peer:update', () => { this.addrs = undefined })
    // Every fetch and DHT query listens on this signal; that is expected, not a leak.
    setMaxListeners(Infinity, this.stopping.signal)
  }

  /** Check the configuration, open the store and build (not start) the node */
  static async create (init: ShoalNodeInit = {}): Promise<ShoalNode> {
    const config = resolveConfig(init)
    await ensureWritableDir(config.dataDir, 'ERR_DATA_DIR', 'data dir')
    await ensureWritableDir(config.outputDir, 'ERR_OUTPUT_DIR', 'output dir')
    const store = await openStore({ dataDir: join(config.dataDir, 'store') })
    const datastore = config.persistPeerStore ? new LevelDatastore(join(config.dataDir, 'libp2p')) : undefined
    try {
      await datastore?.open()
      const peerDiscovery: any[] = []
      if (config.bootstrap.length > 0) peerDiscovery.push(bootstrap({ list: config.bootstrap.map(a => a.toString()) }))
      if (config.mdns) peerDiscovery.push(mdns())
      if (config.localPeersDir !== false) peerDiscovery.push(localPeers({ dir: config.localPeersDir }))
      const libp2p = await createLibp2p({
        privateKey: await loadOrCreateKey(config.dataDir),
        datastore,
        addresses: { listen: config.listen.map(a => a.toString()) },
        transports: [tcp()],
        connectionEncrypters: [noise()],
        // Exchange sessions pause reading while a block is paced and written; what the peer may
        // send meanwhile (its window) must fit in the read buffer, or yamux resets the stream.
        streamMuxers: [yamux({ streamOptions: { maxStreamWindowSize: 4 * 1024 * 1024, maxReadBufferLength: 8 * 1024 * 1024 } })],
        peerDiscovery,
        connectionGater: config.connectionGater,
        // A whole swarm on one host dials in at once; the default 5/s per host would reset it.
        connectionManager: { inboundConnectionThreshold: 10_000, maxIncomingPendingConnections: 256 },
        // No connection monitor: it pinged every connection on a stream of its own (negotiation,
        // 32 bytes each way, two closes: ~12 small packets a side), and a node keeps connections
        // to much of its swarm for gossip and the DHT, not only to its exchange peers. At 48
        // nodes on 384 kbit/s links, pinging every 30-45 s took 4.3 % of the origin's uplink (33
        // idle connections, 20 packets a second), the one link every node waits on; 1.2 % with
        // it off. Dead peers are still found: a closed socket at once, a quiet exchange peer by
        // the scheduler's request timeouts, and one that vanished without a word by TCP, which
        // closes the connection after minutes of retransmitting the 12-byte keep-alive ping
        // yamux sends on it every 30 s. (Pings with a short timeout also aborted live sessions
        // whose pings queued behind blocks on a saturated link.) Peers that ping us still get an
        // answer (the `ping` service, which kad-dht uses).
        connectionMonitor: { enabled: false },
        services: {
          ...discoveryServices(),
          identify: identify(),
          exchange: exchange({ ...config.exchange, store })
        },
        start: false
      })
      return new ShoalNode(libp2p as unknown as Libp2p<ShoalServices>, store, datastore, config)
    } catch (err) {
      await store.close()
      await Promise.resolve(datastore?.close()).catch(() => {})
      throw err
    }
  }

  get peerId (): PeerId {
    return this.libp2p.peerId
  }

  /** Addresses other nodes can reach this one at (with /p2p/<peer id>) */
  get multiaddrs (): string[] {
    // Beacons carry them once per verified chunk; libp2p rebuilds the list on every call.
    if (this.addrs == null || this.addrs.length === 0) this.addrs = this.libp2p.getMultiaddrs().map(a => a.toString())
    return [...this.addrs]
  }

  get exchange (): Exchange {
    return this.libp2p.services.exchange
  }

  async start (): Promise<void> {
    // Dial what discovery finds, so gossip and the DHT have peers to work with. Listen before
    // starting: discovery modules report what they already know while libp2p starts, once.
    this.libp2p.addEventListener('peer:discovery', (evt) => {
      const peer = evt.detail.id
      setImmediate(() => {
        // Not a full mesh: at 48 nodes on one host, dialling everyone found (1128 handshakes,
        // identifies and DHT table churn) took most of the CPU for the first minute.
        if (this.libp2p.getConnections().length + this.discoveryDials < this.config.discoveryDialTarget) this.dialIfApart(peer)
      })
    })
    try {
      await this.libp2p.start()
    } catch (err: any) {
      await Promise.resolve(this.libp2p.stop()).catch(() => {})
      await this.store.close().catch(() => {})
      await this.datastore?.close().catch(() => {})
      if (/EADDRINUSE|address already in use/i.test(`${err.message} ${err.cause?.message ?? ''}`) || err.code === 'EADDRINUSE') {
        throw new ShoalError('ERR_ADDRESS_IN_USE', `listen address ${this.config.listen.join(', ')} is already in use — pick another port with --listen`, { cause: err })
      }
      throw err
    }
    // A peer that speaks the exchange may hold what we are missing; gossip and the DHT can lag or
    // miss (a peer that restarted under the same id), a handshake settles it. Downloads with
    // enough peers do not dial, and a refusal backs the candidate off.
    this.libp2p.addEventListener('peer:identify', (evt) => {
      const { peerId, protocols, listenAddrs } = evt.detail
      if (!protocols.includes(this.exchange.protocol)) return
      for (const key of this.fetching.keys()) {
        try { this.exchange.addPeers(parseArtifactId(key), [{ id: peerId, multiaddrs: listenAddrs }]) } catch {}
      }
    })
    this.discovery.addEventListener('announcement', (evt) => { this.onAnnouncement(evt.detail) })
    this.discovery.addEventListener('beacon', (evt) => { this.onBeacon(evt.detail) })
    this.discovery.addEventListener('subscriber', (evt) => { this.onSubscriber(evt.detail) })
    this.exchange.addEventListener('artifact:progress', (evt) => { this.onProgress(evt.detail) })
    this.exchange.addEventListener('artifact:error', (evt) => {
      this.emitError(new Error(`${evt.detail.id.toString()}: ${evt.detail.error.message}`, { cause: evt.detail.error }))
    })
    await this.discovery.start()
    this.every(this.config.announceIntervalMs, () => { void this.reannounce() })
    this.every(this.config.findIntervalMs, () => { void this.findMoreHolders() })
    this.every(RECONNECT_INTERVAL_MS, () => { void this.reconnect() })
    // After a restart, finished artifacts are served again at once and partial ones resume.
    for (const handle of this.store.list()) {
      if (handle.isComplete && handle.path != null) {
        this.paths.set(handle.id.toString(), handle.path)
      } else if (this.config.fetchAnnounced) {
        this.fetch(handle.id).catch(err => { if (!this.stopping.signal.aborted) this.emitError(err) })
      }
    }
    void this.enforceRetention()
  }

  /**
   * A node with few connections redials peers it has heard of, a few at a time. Discovery
   * reports a peer once; if that first dial failed (say a publisher joining 48 nodes over a slow
   * link, its dials all timing out together) the node would otherwise stay alone for good.
   */
  private async reconnect (): Promise<void> {
    if (this.stopping.signal.aborted || this.libp2p.getConnections().length >= MIN_CONNECTIONS) return
    const connected = new Set(this.libp2p.getPeers().map(p => p.toString()))
    let known
    try {
      known = await this.libp2p.peerStore.all()
    } catch {
      return
    }
    const idle = known.filter(p => !connected.has(p.id.toString()) && p.addresses.length > 0)
    for (const p of idle.sort(() => Math.random() - 0.5).slice(0, RECONNECT_BATCH)) this.dialIfApart(p.id)
  }

  /** Dial a peer we have no connection to; a failure is left to the next discovery or reconnect */
  private dialIfApart (peer: PeerId): void {
    if (this.stopping.signal.aborted || this.libp2p.getConnections(peer).length > 0) return
    this.discoveryDials++
    this.libp2p.dial(peer, { signal: AbortSignal.timeout(10_000) }).catch(() => {}).finally(() => { this.discoveryDials-- })
  }

  /** Stop networking and close the store; also releases a node that was created but never started */
  async stop (): Promise<void> {
    this.stopping.abort()
    for (const t of this.timers) clearInterval(t)
    for (const t of this.relays.values()) clearTimeout(t)
    clearTimeout(this.retentionTimer)
    await this.retaining
    clearTimeout(this.newcomerTimer)
    await this.discovery.stop().catch(() => {})
    await this.libp2p.stop()
    await this.store.close()
    await this.datastore?.close()
  }

  /**
   * Chunk a file, keep it in the store (served in place, not copied), provide it in the DHT and
   * announce it to the swarm. Re-announced every `announceIntervalMs` while the node runs.
   */
  async publish (path: string, options: PublishOptions = {}): Promise<Published> {
    // The same unchanged file (same size and mtime) was chunked here before: serve that again.
    const known = options.name == null ? await this.store.findByPath(path, { chunkSize: options.chunkSize ?? DEFAULT_CHUNK_SIZE }) : undefined
    const reused = known != null && known.manifest.publisher === this.peerId.toString()
    const { id, manifest, manifestBytes } = reused
      ? known
      : await chunkFile(path, { ...options, publisher: this.peerId.toString() })
    await this.store.addComplete(manifest, manifestBytes, id, path)
    this.exchange.superSeed(id)
    const key = id.toString()
    this.paths.set(key, path)
    this.published.set(key, {
      id: key, name: manifest.name, size: manifest.size, publisher: this.peerId.toString(), addrs: this.multiaddrs, at: Date.now()
    })
    // Announce first: the swarm's nodes start at once from it, the DHT is for whoever comes later.
    await this.reannounce()
    void this.provide(id, PUBLISH_PROVIDE_DELAY_MS)
    return { id, manifest, reused }
  }

  /**
   * Fetch an artifact by id and write it to the output dir under its name once every chunk is
   * verified. Resolves with the file's path. Peers come from `hints`, the DHT, beacons and PEX.
   */
  async fetch (id: CID | string, hints: Array<{ id: PeerId, multiaddrs: Multiaddr[] }> = []): Promise<string> {
    const cid = typeof id === 'string' ? parseArtifactId(id) : id
    const key = cid.toString()
    if (hints.length > 0) this.exchange.addPeers(cid, hints)
    const running = this.fetching.get(key)
    if (running != null) return await running
    const done = this.paths.get(key)
    if (done != null) return done
    const job = (async () => {
      // A hint with addresses (say, the publisher from its announcement) is a holder already: the
      // DHT would find that same one, and a whole swarm querying it the moment an announcement
      // lands is a burst of lookups that delays the first blocks. If sessions stay short of
      // peers, the periodic check asks the DHT once LOOKUP_GRACE_MS have passed.
      if (!hints.some(h => h.multiaddrs.length > 0)) void this.findHolders(cid)
      else this.lookups.hold(key, Date.now(), LOOKUP_GRACE_MS)
      void this.offerConnectedPeers(cid)
      const handle = await this.exchange.fetch(cid, { signal: this.stopping.signal })
      const dest = resolve(this.config.outputDir, handle.manifest.name)
      if (handle.path == null) await this.archiveVersionsAt(dest, key)
      const path = handle.path ?? await handle.finalize(dest)
      this.paths.set(key, path)
      const progress = this.progressOf(key)
      void this.sendCompleteBeacon(key)
      this.provideDownloaded(cid)
      this.safeDispatchEvent('complete', { detail: progress })
      void this.enforceRetention()
      return path
    })()
    this.fetching.set(key, job)
    try {
      return await job
    } finally {
      this.fetching.delete(key)
      this.lookups.forget(key)
    }
  }

  /** Peers known to hold a complete copy of an artifact (from their beacons) */
  replicasOf (id: CID | string): string[] {
    return [...(this.replicas.get(id.toString()) ?? [])]
  }

  /** Resolve once at least `count` other peers report a complete copy */
  async waitForReplicas (id: CID | string, count: number, options: { signal?: AbortSignal } = {}): Promise<string[]> {
    const key = id.toString()
    if (this.replicasOf(key).length >= count) return this.replicasOf(key)
    return await new Promise((resolve, reject) => {
      const onReplica = (evt: CustomEvent<{ id: string }>): void => {
        if (evt.detail.id !== key || this.replicasOf(key).length < count) return
        cleanup()
        resolve(this.replicasOf(key))
      }
      const onAbort = (): void => { cleanup(); reject(options.signal?.reason ?? new Error('aborted')) }
      const cleanup = (): void => {
        this.removeEventListener('replica', onReplica)
        options.signal?.removeEventListener('abort', onAbort)
      }
      this.addEventListener('replica', onReplica)
      options.signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  /** Progress and counters of every artifact this node has touched */
  stats (): ArtifactProgress[] {
    return this.exchange.stats().map(s => this.decorate(s))
  }

  private progressOf (key: string): ArtifactProgress {
    const s = this.exchange.stats(parseArtifactId(key))
    return this.decorate(s ?? { id: key } as TransferStats)
  }

  private decorate (s: TransferStats): ArtifactProgress {
    return { ...s, publisher: this.publishers.get(s.id), path: this.paths.get(s.id) }
  }

  private onAnnouncement (a: Announcement): void {
    this.publishers.set(a.id, a.publisher)
    if (!this.heard.has(a.id) || (this.heard.get(a.id)?.addrs.length ?? 0) === 0) this.heard.set(a.id, a)
    // Someone else already told the newcomers; our relay would only repeat it.
    clearTimeout(this.relays.get(a.id))
    this.relays.delete(a.id)
    this.safeDispatchEvent('announcement', { detail: a })
    if (this.store.wasRemoved(a.id)) return // evicted here on purpose: not fetched again
    if (this.fetching.has(a.id) && a.addrs.length > 0) {
      // A restarted publisher comes back on new addresses.
      try {
        this.exchange.addPeers(parseArtifactId(a.id), [{ id: peerIdFromAnnouncement(a), multiaddrs: toMultiaddrs(a.addrs) }])
      } catch {}
    }
    if (!this.config.fetchAnnounced || this.paths.has(a.id) || this.fetching.has(a.id) || this.published.has(a.id)) return
    let cid: CID
    let publisher: PeerId
    try {
      cid = parseArtifactId(a.id)
      publisher = peerIdFromAnnouncement(a)
    } catch (err: any) {
      this.emitError(new Error(`ignoring announcement with bad id or publisher: ${err.message}`))
      return
    }
    this.fetch(cid, [{ id: publisher, multiaddrs: toMultiaddrs(a.addrs) }])
      .catch(err => { if (!this.stopping.signal.aborted) this.emitError(err) })
  }

  private onBeacon (b: HolderBeacon): void {
    if (b.complete) {
      let set = this.replicas.get(b.id)
      if (set == null) this.replicas.set(b.id, set = new Set())
      if (!set.has(b.peer)) {
        set.add(b.peer)
        this.safeDispatchEvent('replica', { detail: { id: b.id, peer: b.peer, replicas: set.size } })
      }
    }
    // A holder of something we are fetching is a peer worth trading with.
    if (this.fetching.has(b.id) && b.have > 0) {
      try {
        this.exchange.addPeers(parseArtifactId(b.id), [{ id: peerIdFromString(b.peer), multiaddrs: toMultiaddrs(b.addrs) }])
      } catch {}
    }
  }

  private onProgress (s: TransferStats): void {
    const cid = parseArtifactId(s.id)
    // Provide once there is something worth finding, but not while the swarm is at its busiest:
    // a DHT provide is a lookup of the k closest peers, and a whole swarm providing at the same
    // moment (each at its first chunk) costs more CPU than the transfer. Until then, peer
    // exchange points others at partial holders (progress is not beaconed: see
    // `sendCompleteBeacon`).
    if (s.complete) this.provideDownloaded(cid)
    this.safeDispatchEvent('progress', { detail: this.decorate(s) })
  }

  /** A download completed: provide it once, after a random wait (see `provide`) */
  private provideDownloaded (cid: CID): void {
    if (!this.provided.has(cid.toString())) void this.provide(cid, Math.random() * PROVIDE_JITTER_MS)
  }

  /**
   * Provide in the DHT, one artifact at a time: each provide is a lookup that dials about twenty
   * peers, and a node receiving a burst of artifacts would otherwise run them all at once. After
   * `waitMs` (a downloader waits a random time: a swarm finishes within moments, and its provides
   * would otherwise all run while its last nodes are still downloading).
   */
  private async provide (cid: CID, waitMs = 0): Promise<void> {
    const key = cid.toString()
    this.provided.add(key)
    if (waitMs > 0) await sleep(waitMs, undefined, { signal: this.stopping.signal, ref: false }).catch(() => {})
    const run = async (): Promise<void> => {
      if (this.stopping.signal.aborted || this.store.get(key) == null) return
      try {
        await this.discovery.provide(cid, { signal: AbortSignal.any([this.stopping.signal, AbortSignal.timeout(60_000)]) })
      } catch (err: any) {
        this.provided.delete(key)
        if (!this.stopping.signal.aborted) this.emitError(new Error(`providing ${key} in the DHT failed: ${err.message}`))
      }
    }
    this.providing = this.providing.then(run, run)
    await this.providing
  }

  /**
   * Tell the swarm we hold a complete copy. Only complete ones: every node receives every
   * beacon, from several mesh peers, and at 48 nodes the first progress beacon of each node (all
   * within a download's first 30 s) held a quarter of the CPU at 20-40 s (1.48-1.53 T* without
   * them, 1.52-1.56 with). Peer exchange points the peers that trade at partial holders.
   */
  private async sendCompleteBeacon (key: string): Promise<void> {
    const s = this.exchange.stats(parseArtifactId(key))
    if (s == null) return
    try {
      await this.discovery.beacon({
        id: key, peer: this.peerId.toString(), addrs: this.multiaddrs, have: s.have, total: s.chunks ?? 0, complete: true, at: Date.now()
      })
    } catch {}
  }

  /**
   * Gossip only reaches peers already subscribed, so announcements and beacons are repeated.
   * Every holder's beacons reach every node, so holders repeat theirs less often than a
   * publisher its announcement, and discovery spaces them further the more holders it hears.
   */
  private async reannounce (): Promise<void> {
    for (const a of this.published.values()) {
      await this.discovery.announce({ ...a, addrs: this.multiaddrs, at: Date.now() }).catch(() => {})
    }
    if (Date.now() - this.holderBeaconsAt < HOLDER_BEACON_REPEAT_MS) return
    this.holderBeaconsAt = Date.now()
    for (const key of this.paths.keys()) {
      if (!this.published.has(key)) await this.sendCompleteBeacon(key)
    }
  }

  /**
   * A peer joined the announce topic. Most such peers are known ones on a new connection (a
   * session, a DHT query, a peer-exchange dial), and every re-announcement travels to the whole
   * swarm, so after a moment (peers join together, and a session may open meanwhile) only the
   * artifacts some newcomer has not heard of are announced again.
   */
  private onSubscriber (peer: PeerId): void {
    if (this.published.size === 0 && (!this.config.fetchAnnounced || this.paths.size === 0)) return
    this.newcomers.set(peer.toString(), peer)
    this.newcomerTimer ??= setTimeout(() => {
      this.newcomerTimer = undefined
      const peers = [...this.newcomers.values()]
      this.newcomers.clear()
      void this.reannounceFor(peers)
      this.relayFor(peers)
    }, NEWCOMER_WAIT_MS)
  }

  /** Whether some of `peers` have not heard of artifact `key`, as far as we can tell */
  private someNotHeardOf (key: string, peers: PeerId[]): boolean {
    let trading: string[] = []
    try {
      trading = this.exchange.peersOf(parseArtifactId(key))
    } catch {}
    return peers.some(p => !this.discovery.hasHeardOf(key, p) && !trading.includes(p.toString()))
  }

  /** Publisher: announce again what some of `peers` have not heard of */
  private async reannounceFor (peers: PeerId[]): Promise<void> {
    for (const a of this.published.values()) {
      if (!this.someNotHeardOf(a.id, peers)) continue
      await this.discovery.announce({ ...a, addrs: this.multiaddrs, at: Date.now() }).catch(() => {})
    }
  }

  /**
   * Holder: relay the announcements of what we hold that some of `peers` have not heard of, so
   * they learn of artifacts whose publisher has left. Each holder waits a random moment and
   * stays quiet if another holder's (or the publisher's) announcement arrives first, so a
   * thousand holders do not all repeat it.
   */
  private relayFor (peers: PeerId[]): void {
    if (!this.config.fetchAnnounced) return
    for (const [key, path] of this.paths) {
      if (this.published.has(key) || this.relays.has(key) || path == null) continue
      if (!this.someNotHeardOf(key, peers)) continue
      const handle = this.store.get(key)
      const publisher = this.heard.get(key)?.publisher ?? handle?.manifest.publisher
      if (handle == null || publisher == null) continue
      const delay = 250 + Math.random() * 2_000
      const timer = setTimeout(() => {
        this.relays.delete(key)
        const original = this.heard.get(key)
        void this.discovery.announce({
          id: key,
          name: handle.manifest.name,
          size: handle.manifest.size,
          publisher,
          // The publisher may be gone; our beacon right after says where a copy is.
          addrs: [],
          at: original?.at ?? handle.manifest.createdAt
        }).then(() => this.sendCompleteBeacon(key), () => {})
      }, delay)
      timer.unref?.()
      this.relays.set(key, timer)
    }
  }

  /**
   * A new version is about to take `dest`: move older versions stored there to the archive, so
   * peers still downloading them are served on, until retention evicts them.
   */
  private async archiveVersionsAt (dest: string, except: string): Promise<void> {
    for (const other of this.store.list()) {
      const key = other.id.toString()
      if (key === except || !other.isComplete || other.external || other.path !== dest) continue
      this.paths.set(key, await this.store.archive(other.id))
    }
  }

  /** Apply the retention policy; one pass at a time, since each eviction awaits the store */
  private async enforceRetention (): Promise<void> {
    const { keepPerName, maxBytes } = this.config.retention
    if (keepPerName == null && maxBytes == null) return
    this.retaining = this.retaining.then(async () => {
      const items = this.store.list().map(h => {
        const key = h.id.toString()
        return {
          id: key,
          name: h.manifest.name,
          size: h.manifest.size,
          createdAt: h.manifest.createdAt,
          complete: h.isComplete,
          pinned: this.fetching.has(key) || this.published.has(key) || h.external
        }
      })
      const now = Date.now()
      let waiting = false
      const evictions = chooseEvictions(items, this.config.retention)
      for (const key of this.evictionDue.keys()) {
        if (!evictions.some(e => e.id === key)) this.evictionDue.delete(key)
      }
      for (const e of evictions) {
        if (this.stopping.signal.aborted) return
        const due = this.evictionDue.get(e.id) ?? now
        this.evictionDue.set(e.id, due)
        if (this.exchange.isServing(parseArtifactId(e.id)) && now - due < (this.config.retention.graceMs ?? 0)) {
          waiting = true // a peer is mid-download from us: let it finish first
          continue
        }
        this.evictionDue.delete(e.id)
        await this.evict(e.id, e.name, e.reason)
      }
      if (waiting && this.retentionTimer == null) {
        this.retentionTimer = setTimeout(() => { this.retentionTimer = undefined; void this.enforceRetention() }, 2_000)
        this.retentionTimer.unref?.()
      }
    }).catch(err => { this.emitError(new Error(`retention: ${err.message}`, { cause: err })) })
    await this.retaining
  }

  private async evict (key: string, name: string, reason: string): Promise<void> {
    const cid = parseArtifactId(key)
    // Peers fetching it from us hear so first, and turn to other holders at once.
    this.exchange.forget(cid, 'evicted')
    await this.store.remove(cid, { deleteFile: true, tombstone: true })
    this.exchange.forget(cid, 'evicted')
    this.paths.delete(key)
    this.heard.delete(key)
    this.safeDispatchEvent('evicted', { detail: { id: key, name, reason } })
  }

  /** Peers we are already connected to that speak the exchange are the first to ask */
  private async offerConnectedPeers (cid: CID): Promise<void> {
    for (const peer of this.libp2p.getPeers()) {
      try {
        const { protocols, addresses } = await this.libp2p.peerStore.get(peer)
        if (protocols.includes(this.exchange.protocol)) this.exchange.addPeers(cid, [{ id: peer, multiaddrs: addresses.map(a => a.multiaddr) }])
      } catch {}
    }
  }

  /** Downloads short of peers ask the DHT for more holders, less often while it has no one new */
  private async findMoreHolders (): Promise<void> {
    const now = Date.now()
    for (const key of this.fetching.keys()) {
      const cid = parseArtifactId(key)
      if (this.exchange.peersOf(cid).length < 4 && this.lookups.due(key, now)) void this.findHolders(cid)
    }
  }

  /** One DHT query per artifact at a time: a small swarm never reaches the peer target */
  private async findHolders (cid: CID): Promise<void> {
    const key = cid.toString()
    if (this.finding.has(key)) return
    this.finding.add(key)
    const found: string[] = []
    // Peers we already trade with are not news, whatever the DHT says.
    const sessions = new Set(this.exchange.peersOf(cid))
    try {
      const signal = AbortSignal.any([this.stopping.signal, AbortSignal.timeout(15_000)])
      for await (const holder of this.discovery.findHolders(cid, { signal, limit: 20 })) {
        found.push(holder.id.toString())
        this.exchange.addPeers(cid, [holder])
      }
    } catch {
      // a failed or timed-out query is retried on a later round
    } finally {
      this.finding.delete(key)
      if (this.fetching.has(key)) this.lookups.done(key, found, Date.now(), peer => sessions.has(peer))
    }
  }

  private every (ms: number, fn: () => void): void {
    const t = setInterval(fn, ms)
    t.unref?.()
    this.timers.push(t)
  }

  private emitError (err: Error): void {
    this.safeDispatchEvent('error', { detail: err })
  }
}

function peerIdFromAnnouncement (a: Announcement): PeerId {
  return peerIdFromString(a.publisher)
}

/** Parse what parses; a peer's one bad address should not cost us its good ones */
function toMultiaddrs (addrs: string[]): Multiaddr[] {
  const out: Multiaddr[] = []
  for (const a of addrs) {
    try { out.push(multiaddr(a)) } catch {}
  }
  return out
}

async function ensureWritableDir (dir: string, code: 'ERR_DATA_DIR' | 'ERR_OUTPUT_DIR', what: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true })
    await access(dir, fsConstants.W_OK)
  } catch (err: any) {
    const why = err.code === 'EEXIST' || err.code === 'ENOTDIR' ? 'is not a directory' : err.code === 'EACCES' ? 'is not writable' : `cannot be used (${err.code ?? err.message})`
    throw new ShoalError(code, `${what} ${dir} ${why} — choose another with --${code === 'ERR_DATA_DIR' ? 'data-dir' : 'output-dir'}`)
  }
}
