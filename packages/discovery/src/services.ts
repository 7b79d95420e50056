import { gossipsub } from '@libp2p/gossipsub'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { ping } from '@libp2p/ping'
import { DHT_PROTOCOL } from './constants.js'
import { fastMsgId } from './fast-msg-id.js'
import type { GossipSub, GossipSubComponents, GossipsubOpts } from '@libp2p/gossipsub'
import type { KadDHT, KadDHTComponents, KadDHTInit } from '@libp2p/kad-dht'
import type { Ping, PingComponents } from '@libp2p/ping'

/** Options for {@link discoveryServices}. */
export interface DiscoveryServicesInit {
  /**
   * Run kad-dht in server mode: answer DHT queries and store provider
   * records. On a LAN every node is dialable, so every node should serve;
   * the kad-dht default (client until a public address is seen) would leave a
   * private swarm with no DHT at all.
   *
   * @default true
   */
  dhtServer?: boolean

  /**
   * Extra kad-dht options, applied over Shoal's defaults. Mostly for tests
   * and tuning; changing `protocol` splits the swarm.
   *
   * @default {}
   */
  dht?: KadDHTInit

  /**
   * Extra gossipsub options, applied over Shoal's defaults (`emitSelf` stays
   * false whatever is passed: {@link Discovery} relies on it).
   *
   * @default {}
   */
  pubsub?: Partial<GossipsubOpts>
}

// A type alias, not an interface: libp2p's ServiceMap needs an index
// signature, which only type aliases get implicitly.
/**
 * The libp2p services Shoal discovery needs, keyed as {@link discoveryServices}
 * installs them. A Shoal node is a `Libp2p<DiscoveryServices & ...>`.
 */
export type DiscoveryServices = {
  /** kad-dht on {@link DHT_PROTOCOL}, used for artifact roots only */
  dht: KadDHT
  /** gossipsub, carrying announcements and holder beacons */
  pubsub: GossipSub
  /** ping, which kad-dht needs to check routing-table contacts */
  ping: Ping
}

/** Factories for {@link DiscoveryServices}, as `createLibp2p({ services })` takes them. */
export interface DiscoveryServiceFactories {
  /** Creates the kad-dht service */
  dht: (components: KadDHTComponents) => KadDHT
  /** Creates the gossipsub service */
  pubsub: (components: GossipSubComponents) => GossipSub
  /** Creates the ping service */
  ping: (components: PingComponents) => Ping
}

/**
 * The discovery services of a Shoal node, configured for LAN and loopback
 * swarms. Spread them into the libp2p services; kad-dht and gossipsub also
 * need `identify`, which the node must add itself.
 *
 * @example
 * ```ts
 * const node = await createLibp2p({
 *   services: { ...discoveryServices(), identify: identify() }
 * })
 * ```
 */
export function discoveryServices (init: DiscoveryServicesInit = {}): DiscoveryServiceFactories {
  return {
    dht: kadDHT({
      protocol: DHT_PROTOCOL,
      clientMode: !(init.dhtServer ?? true),
      // The default mapper drops private addresses such as 127.0.0.1 and
      // 10.x, which are exactly the addresses a LAN swarm has.
      peerInfoMapper: passthroughMapper,
      // Otherwise queries hang until the routing table has a peer; Discovery
      // waits for one itself, with a deadline.
      allowQueryWithZeroPeers: true,
      ...init.dht
    }),
    pubsub: gossipsub({
      // Publishing before anyone subscribed must not throw: the swarm layer
      // re-announces periodically, so an early message may simply be lost.
      allowPublishToZeroTopicPeers: true,
      ignoreDuplicatePublishError: true,
      // Every Shoal node speaks gossipsub; no floodsub peers to fall back to.
      fallbackToFloodsub: false,
      // Gossipsub penalises more than 10 peers behind one IP (a Sybil defence for the open
      // internet). A fleet behind one NAT, or a swarm on one host, is exactly that: without this
      // a 14th node on 127.0.0.1 is graylisted and never hears an announcement.
      scoreParams: { IPColocationFactorWeight: 0 },
      fastMsgIdFn: fastMsgId,
      // Lazy gossip (IHAVE) goes out every heartbeat to Dlazy peers outside the mesh while any
      // message is recent. Shoal's messages are few and repeated (announcements, beacons), so
      // the repair it buys is small, and at the default 6 peers it was ~12 small packets a second
      // per node: 3 % of a 1 Mbit/s link, the origin's included. Two peers, or a tenth of the
      // rest in a large swarm, still gossip.
      Dlazy: 2,
      gossipFactor: 0.1,
      // Our own messages go to the mesh, not to every subscriber (gossipsub's flood publish, an
      // eclipse defence for the open internet): a publisher with 48 peers sent each
      // re-announcement 48 times, 9 % of its 384 kbit/s uplink. The mesh reaches them all.
      floodPublish: false,
      // Each node forwards every message to its whole mesh, so the mesh degree multiplies all
      // gossip traffic. Meshes of 4 (3 to 6) instead of 6 (4 to 12) still keep a swarm connected.
      D: 4,
      Dlo: 3,
      Dhi: 6,
      Dscore: 2,
      ...init.pubsub,
      emitSelf: false
    }),
    // kad-dht pings routing-table contacts concurrently; with ping's default of one outbound
    // stream per connection the second ping fails with an error that tears down the whole
    // connection, exchange sessions included.
    ping: ping({ maxOutboundStreams: 16, maxInboundStreams: 16 })
  }
}
