/**
 * @packageDocumentation
 *
 * How Shoal nodes find artifacts and each other.
 *
 * - {@link discoveryServices} gives the libp2p services discovery needs
 *   (kad-dht on {@link DHT_PROTOCOL}, gossipsub, ping), configured for
 *   LAN and loopback swarms. The node must add `identify` itself.
 * - {@link Discovery} publishes and hears {@link Announcement}s ("artifact X
 *   exists") and {@link HolderBeacon}s ("I hold n of m chunks of X") on one
 *   gossipsub topic pair per swarm, and provides / finds artifact roots in
 *   the DHT. Only roots go into the DHT, never chunks.
 *
 * Gossipsub does not store messages: whatever is published before a peer
 * joins the topic never reaches it, so announce periodically.
 *
 * @example
 * ```ts
 * import { createLibp2p } from 'libp2p'
 * import { identify } from '@libp2p/identify'
 * import { Discovery, discoveryServices } from '@shoal/discovery'
 *
 * const node = await createLibp2p({
 *   addresses: { listen: ['/ip4/0.0.0.0/tcp/0'] },
 *   transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
 *   // the default (5 per host per second) resets connections in a local swarm
 *   connectionManager: { inboundConnectionThreshold: 1000 },
 *   services: { ...discoveryServices(), identify: identify() }
 * })
 *
 * const discovery = new Discovery(node, { swarm: 'models' })
 * discovery.addEventListener('announcement', evt => {
 *   console.info('new artifact', evt.detail.name, evt.detail.id)
 * })
 * await discovery.start()
 *
 * await discovery.provide(root)
 * for await (const holder of discovery.findHolders(root, { limit: 10 })) {
 *   console.info('held by', holder.id.toString(), holder.multiaddrs)
 * }
 * ```
 */

export { DHT_PROTOCOL, MAX_MESSAGE_BYTES, DEFAULT_SWARM, announceTopic, beaconTopic } from './constants.js'
export { discoveryServices } from './services.js'
export type { DiscoveryServices, DiscoveryServicesInit, DiscoveryServiceFactories } from './services.js'
export { Discovery, SETTLED_SUBSCRIBER_MS } from './discovery.js'
export type { DiscoveryInit, DiscoveryEvents, FindHoldersOptions } from './discovery.js'
export { encodeAnnouncement, decodeAnnouncement, encodeHolderBeacon, decodeHolderBeacon, isAnnouncement, isHolderBeacon } from './messages.js'
export type { Announcement, HolderBeacon } from './messages.js'
export { localPeers, defaultLocalPeersDir } from './local-peers.js'
export type { LocalPeersInit, LocalPeersComponents } from './local-peers.js'
