import { TopicValidatorResult } from '@libp2p/gossipsub'
import { TypedEventEmitter } from '@libp2p/interface'
import { BeaconThrottle } from './beacon-throttle.js'
import { HeardBy } from './heard-by.js'
import { DEFAULT_SWARM, announceTopic, beaconTopic } from './constants.js'
import { decodeAnnouncement, decodeHolderBeacon, encodeAnnouncement, encodeHolderBeacon } from './messages.js'
import { waitForRoutingTable } from './routing-table.js'
import type { Announcement, HolderBeacon } from './messages.js'
import type { DiscoveryServices } from './services.js'
import type { Message, SubscriptionChangeData } from '@libp2p/gossipsub'
import type { AbortOptions, Libp2p, Logger, PeerId, PeerInfo } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/**
 * How long a peer must have been in the announce topic before an announcement passing through
 * counts as heard by it: a peer that has just joined is not in anyone's mesh until the next
 * gossipsub heartbeat (1 s) grafts it.
 */
export const SETTLED_SUBSCRIBER_MS = 2_000

/** Options for {@link Discovery}. */
export interface DiscoveryInit {
  /**
   * Swarm name. Topics are `/shoal/<swarm>/announce` and
   * `/shoal/<swarm>/beacon`; nodes in different swarms do not hear each
   * other's announcements (they still share the DHT).
   *
   * @default 'default'
   */
  swarm?: string

  /**
   * How long {@link Discovery.provide} and {@link Discovery.findHolders} wait
   * for a non-empty DHT routing table before giving up (provide) or querying
   * only the local provider store (findHolders), in ms.
   *
   * @default 10_000
   */
  routingTableWaitMs?: number

  /**
   * Minimum time between two beacons for the same artifact, in ms; it grows
   * with the swarm (see {@link DiscoveryInit.beaconsPerInterval}). Beacons
   * arriving sooner are coalesced: the newest goes out when the interval
   * ends. The first `complete` beacon goes out at once. 0 disables
   * throttling. Every node receives every beacon of the swarm, each from
   * several mesh peers: at 5 s, 16 nodes downloading over 1 Mbit/s links
   * spent a fifth of each link on beacons. Peers already trading find
   * partial holders by peer exchange; beacons are for the rest.
   *
   * @default 30_000
   */
  beaconIntervalMs?: number

  /**
   * Beacons per artifact the whole swarm aims at per `beaconIntervalMs`: a
   * node that has heard n other holders of an artifact beacons every
   * (n + 1) / beaconsPerInterval intervals, so beacon traffic per node stays
   * flat as the swarm grows instead of growing with it.
   *
   * @default 8
   */
  beaconsPerInterval?: number
}

/** Events a {@link Discovery} emits. */
export interface DiscoveryEvents {
  /** A valid announcement arrived from another peer */
  announcement: CustomEvent<Announcement>
  /** A valid holder beacon arrived from the peer it describes */
  beacon: CustomEvent<HolderBeacon>
  /**
   * A peer subscribed to the announce topic. Gossip does not replay old messages, so a
   * publisher re-announces to newcomers on this event rather than waiting for its next round;
   * {@link Discovery.hasHeardOf} tells a newcomer from a known peer on a new connection.
   */
  subscriber: CustomEvent<PeerId>
}

/** Options for {@link Discovery.findHolders}. */
export interface FindHoldersOptions extends AbortOptions {
  /**
   * Stop after this many holders.
   *
   * @default Infinity
   */
  limit?: number
}

/**
 * How Shoal nodes find each other and each other's artifacts:
 *
 * - announcements and holder beacons on the swarm's gossipsub topics, and
 * - kad-dht provider records for artifact roots (never for chunks: each
 *   record costs a lookup and ~20 connections, renewed about daily).
 *
 * Re-providing is left to kad-dht, which re-publishes this node's provider
 * records before they expire (every ~24 h by default).
 *
 * One instance per swarm per libp2p node: it owns its topics' validators.
 */
export class Discovery extends TypedEventEmitter<DiscoveryEvents> {
  /** The gossipsub topic for announcements */
  readonly announceTopic: string
  /** The gossipsub topic for holder beacons */
  readonly beaconTopic: string

  private readonly libp2p: Libp2p<DiscoveryServices>
  private readonly log: Logger
  private readonly routingTableWaitMs: number
  private readonly throttle: BeaconThrottle
  private readonly heardBy = new HeardBy()
  /** When each peer (last) joined the announce topic, ms since the epoch */
  private readonly subscribedAt = new Map<string, number>()
  private lifetime = new AbortController()
  private started = false

  /**
   * @param libp2p - a node built with {@link discoveryServices} (and identify)
   * @param init - options
   */
  constructor (libp2p: Libp2p<DiscoveryServices>, init: DiscoveryInit = {}) {
    super()
    const swarm = init.swarm ?? DEFAULT_SWARM
    this.libp2p = libp2p
    this.log = libp2p.logger.forComponent('shoal:discovery')
    this.announceTopic = announceTopic(swarm)
    this.beaconTopic = beaconTopic(swarm)
    this.routingTableWaitMs = init.routingTableWaitMs ?? 10_000
    this.throttle = new BeaconThrottle(init.beaconIntervalMs ?? 30_000, async b => { await this.publishBeacon(b) }, {
      perInterval: init.beaconsPerInterval
    })
    this.onMessage = this.onMessage.bind(this)
    this.onSubscriptionChange = this.onSubscriptionChange.bind(this)
  }

  /** Subscribe to the swarm's topics and start emitting events. Idempotent. */
  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    this.lifetime = new AbortController()
    const pubsub = this.libp2p.services.pubsub
    // Validators run before gossipsub forwards a message, so garbage stops
    // at the first hop and its sender's peer score drops.
    pubsub.topicValidators.set(this.announceTopic, (_from, msg) =>
      this.readAnnouncement(msg) != null ? TopicValidatorResult.Accept : TopicValidatorResult.Reject)
    pubsub.topicValidators.set(this.beaconTopic, (_from, msg) =>
      this.readBeacon(msg) != null ? TopicValidatorResult.Accept : TopicValidatorResult.Reject)
    pubsub.addEventListener('message', this.onMessage)
    pubsub.addEventListener('subscription-change', this.onSubscriptionChange)
    pubsub.subscribe(this.announceTopic)
    pubsub.subscribe(this.beaconTopic)
  }

  /** Unsubscribe, drop pending beacons and abort running DHT operations. Idempotent. */
  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.lifetime.abort(new Error('discovery stopped'))
    this.throttle.clear()
    this.subscribedAt.clear()
    const pubsub = this.libp2p.services.pubsub
    pubsub.removeEventListener('message', this.onMessage)
    pubsub.removeEventListener('subscription-change', this.onSubscriptionChange)
    for (const topic of [this.announceTopic, this.beaconTopic]) {
      pubsub.topicValidators.delete(topic)
      try {
        pubsub.unsubscribe(topic)
      } catch (err) {
        // libp2p may already be stopping, which stops gossipsub first
        this.log('unsubscribe %s failed - %e', topic, err)
      }
    }
  }

  /**
   * Publish an announcement on the swarm's announce topic.
   *
   * Gossipsub delivers only to peers subscribed at the time: an announcement
   * made before anyone joined the topic is lost, not queued, so re-announce
   * periodically. That case does not throw; it resolves to 0.
   *
   * @returns how many peers the message was sent to directly (0 if none, or
   * if publishing failed, which is logged)
   * @throws TypeError if the announcement is malformed, RangeError if it
   * encodes to more than {@link MAX_MESSAGE_BYTES}
   */
  async announce (a: Announcement): Promise<number> {
    const recipients = await this.publish(this.announceTopic, encodeAnnouncement(a))
    this.heardBy.add(a.id, recipients.map(String))
    return recipients.length
  }

  /**
   * Whether `peer` has most likely heard of artifact `id`: this node sent it the announcement,
   * or it was in the announce topic (for {@link SETTLED_SUBSCRIBER_MS} or more, so in the mesh)
   * when an announcement of `id` passed through here, or it sent a beacon for `id`. Re-announcing
   * for a peer that has heard only repeats the message to the whole swarm.
   */
  hasHeardOf (id: string, peer: PeerId | string): boolean {
    return this.heardBy.has(id, peer.toString())
  }

  /**
   * Publish a holder beacon on the swarm's beacon topic, throttled per
   * artifact (see {@link DiscoveryInit.beaconIntervalMs}). Like
   * announcements, beacons reach only current subscribers. `b.peer` must be
   * this node's peer id: receivers drop beacons signed by anyone else.
   *
   * @throws TypeError if the beacon is malformed, RangeError if it encodes to
   * more than {@link MAX_MESSAGE_BYTES}
   */
  async beacon (b: HolderBeacon): Promise<void> {
    encodeHolderBeacon(b) // validate now, so the caller sees a bad beacon
    await this.throttle.push(b)
  }

  /**
   * Tell the DHT this node holds the artifact `root`. Waits (up to
   * {@link DiscoveryInit.routingTableWaitMs}) for a non-empty routing table.
   * Never throws for network trouble: it logs and resolves `false` so the
   * caller can retry later. kad-dht re-provides on its own afterwards.
   *
   * @returns true if at least one peer stored the provider record
   */
  async provide (root: CID, options: AbortOptions = {}): Promise<boolean> {
    const signal = this.signal(options.signal)
    try {
      const dht = this.libp2p.services.dht
      if (!await waitForRoutingTable(dht, this.routingTableWaitMs, { signal })) {
        this.log('provide %c: routing table still empty, try again later', root)
        return false
      }
      let stored = 0
      for await (const event of dht.provide(root, { signal })) {
        if (event.name === 'PEER_RESPONSE' && event.messageName === 'ADD_PROVIDER') stored++
      }
      this.log('provide %c: record stored on %d peers', root, stored)
      return stored > 0
    } catch (err) {
      this.log.error('provide %c failed - %e', root, err)
      return false
    }
  }

  /**
   * Peers that provide the artifact `root` according to the DHT, this node
   * excluded, each yielded once, as soon as found. Waits (up to
   * {@link DiscoveryInit.routingTableWaitMs}) for a non-empty routing table;
   * after that it queries anyway and may find only local records.
   * Network errors end the search early (logged); an abort throws.
   */
  async * findHolders (root: CID, options: FindHoldersOptions = {}): AsyncGenerator<PeerInfo> {
    const limit = options.limit ?? Infinity
    if (limit <= 0) return
    const signal = this.signal(options.signal)
    const dht = this.libp2p.services.dht
    const seen = new Set<string>([this.libp2p.peerId.toString()])
    let found = 0

    await waitForRoutingTable(dht, this.routingTableWaitMs, { signal })
    try {
      for await (const event of dht.findProviders(root, { signal })) {
        if (event.name !== 'PROVIDER') continue
        for (const provider of event.providers) {
          const key = provider.id.toString()
          if (seen.has(key)) continue
          seen.add(key)
          yield { id: provider.id, multiaddrs: provider.multiaddrs.length > 0 ? provider.multiaddrs : await this.knownAddrs(provider.id) }
          if (++found >= limit) return
        }
      }
    } catch (err) {
      if (signal.aborted) throw err
      this.log.error('findHolders %c ended early - %e', root, err)
    }
  }

  private onSubscriptionChange (evt: CustomEvent<SubscriptionChangeData>): void {
    const change = evt.detail.subscriptions.find(s => s.topic === this.announceTopic)
    if (change == null) return
    const peer = evt.detail.peerId.toString()
    if (!change.subscribe) {
      this.subscribedAt.delete(peer)
      return
    }
    this.subscribedAt.set(peer, Date.now())
    this.safeDispatchEvent('subscriber', { detail: evt.detail.peerId })
  }

  /** An announcement of `id` passed through: peers settled in the topic had it too */
  private noteAnnouncementPassed (id: string, from?: string): void {
    const settled = Date.now() - SETTLED_SUBSCRIBER_MS
    const peers = this.libp2p.services.pubsub.getSubscribers(this.announceTopic)
      .map(String)
      .filter(p => (this.subscribedAt.get(p) ?? Infinity) <= settled)
    if (from != null) peers.push(from)
    this.heardBy.add(id, peers)
  }

  private onMessage (evt: CustomEvent<Message>): void {
    const msg = evt.detail
    // emitSelf is off, but a node may share pubsub with code that turns it on
    if (msg.type === 'signed' && msg.from.equals(this.libp2p.peerId)) return
    if (msg.topic === this.announceTopic) {
      const a = this.readAnnouncement(msg)
      if (a == null) return
      this.noteAnnouncementPassed(a.id, msg.type === 'signed' ? msg.from.toString() : undefined)
      this.safeDispatchEvent('announcement', { detail: a })
    } else if (msg.topic === this.beaconTopic) {
      const b = this.readBeacon(msg)
      if (b == null) return
      this.heardBy.add(b.id, [b.peer])
      this.throttle.heard(b)
      this.safeDispatchEvent('beacon', { detail: b })
    }
  }

  private readAnnouncement (msg: Message): Announcement | undefined {
    return decodeAnnouncement(msg.data)
  }

  private readBeacon (msg: Message): HolderBeacon | undefined {
    const b = decodeHolderBeacon(msg.data)
    // A beacon speaks for its sender only: otherwise anyone could point the
    // swarm at a peer that holds nothing.
    if (b == null || (msg.type === 'signed' && msg.from.toString() !== b.peer)) return undefined
    return b
  }

  private async publishBeacon (b: HolderBeacon): Promise<void> {
    await this.publish(this.beaconTopic, encodeHolderBeacon(b))
  }

  private async publish (topic: string, data: Uint8Array): Promise<PeerId[]> {
    try {
      const { recipients } = await this.libp2p.services.pubsub.publish(topic, data)
      return recipients
    } catch (err) {
      this.log.error('publish on %s failed - %e', topic, err)
      return []
    }
  }

  private async knownAddrs (peer: PeerId): Promise<PeerInfo['multiaddrs']> {
    try {
      const { addresses } = await this.libp2p.peerStore.get(peer)
      return addresses.map(a => a.multiaddr)
    } catch {
      return []
    }
  }

  private signal (caller?: AbortSignal): AbortSignal {
    return caller == null ? this.lifetime.signal : AbortSignal.any([caller, this.lifetime.signal])
  }
}
