/**
 * The kad-dht protocol Shoal nodes speak. A protocol of our own keeps a Shoal
 * swarm's DHT apart from the public IPFS Amino DHT, so a LAN swarm never
 * leaks provider records to (or waits on) the internet.
 */
export const DHT_PROTOCOL = '/shoal/kad/1.0.0'

/**
 * Largest announcement or beacon, encoded, that is published or accepted.
 * Both are a few hundred bytes; anything near this size is garbage or abuse.
 */
export const MAX_MESSAGE_BYTES = 64 * 1024

/** Swarm used when {@link DiscoveryInit.swarm} is not given. */
export const DEFAULT_SWARM = 'default'

/** The gossipsub topic that carries {@link Announcement}s for a swarm. */
export function announceTopic (swarm: string): string {
  return `/shoal/${swarm}/announce`
}

/** The gossipsub topic that carries {@link HolderBeacon}s for a swarm. */
export function beaconTopic (swarm: string): string {
  return `/shoal/${swarm}/beacon`
}
