/**
 * Options for a Shoal node, their defaults, and the checks that turn bad values into one clear
 * line before anything starts.
 */
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { defaultLocalPeersDir } from '@shoal/discovery'
import { ShoalError } from './errors.js'
import type { ExchangeInit } from '@shoal/exchange'
import type { ConnectionGater } from '@libp2p/interface'
import type { RetentionPolicy } from './retention.js'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface ShoalNodeInit {
  /**
   * Where the node keeps its identity, database and partial downloads.
   *
   * @default '~/.shoal'
   */
  dataDir?: string
  /**
   * Where complete, verified artifacts are written, under their names.
   *
   * @default `${dataDir}/artifacts`
   */
  outputDir?: string
  /**
   * Multiaddrs to listen on.
   *
   * @default ['/ip4/0.0.0.0/tcp/4010']
   */
  listen?: string[]
  /**
   * Peers to join the swarm through (multiaddrs ending in `/p2p/<peer id>`).
   *
   * @default []
   */
  bootstrap?: string[]
  /**
   * Swarm name: nodes only hear announcements of their own swarm.
   *
   * @default 'default'
   */
  swarm?: string
  /**
   * Fetch every artifact announced in the swarm (a node daemon does; a publisher does not).
   *
   * @default true
   */
  fetchAnnounced?: boolean
  /**
   * Keep libp2p's peer store and DHT records in LevelDB under the data dir, so a restarted node
   * remembers peers. Off by default: libp2p writes the peer store on every new stream, which on
   * a busy swarm costs more CPU than the transfer, and peers are re-learned within seconds from
   * bootstrap, the rendezvous directory and peer exchange. Artifact state is always persisted.
   *
   * @default false
   */
  persistPeerStore?: boolean
  /**
   * Find LAN peers with mDNS. Off when every listen address is loopback, where it could
   * only find nodes the local rendezvous directory already finds.
   *
   * @default true unless listening only on loopback
   */
  mdns?: boolean
  /**
   * Directory through which nodes on the same machine find each other; `false` turns it off.
   *
   * @default `${os.tmpdir()}/shoal-peers-<swarm>`
   */
  localPeersDir?: string | false
  /**
   * Peers found by discovery (mDNS, the rendezvous directory, the DHT) are dialled only while
   * the node has fewer connections, dials under way included. Gossip needs a mesh of 6 to 12
   * and each download dials its own session peers, so a node need not connect to everyone it
   * hears of: a full mesh of a big swarm costs every node a handshake per peer.
   *
   * @default 16
   */
  discoveryDialTarget?: number
  /**
   * How often a publisher re-announces what it publishes and holders re-send their beacons.
   * Gossip reaches only peers already subscribed, but a peer that subscribes is answered at
   * once (the publisher re-announces, a holder relays), so this is a safety net. Every
   * announcement reaches every node from several mesh peers: every 5 s it was 1 % of a
   * 1 Mbit/s link at the publisher, whose uplink bounds the transfer.
   *
   * @default 30_000
   */
  announceIntervalMs?: number
  /**
   * How often a download without enough peers asks the DHT for more holders. A lookup that
   * finds no holder it did not know doubles the wait before the next, up to 60 s; one that
   * finds a new holder brings it back to this. A download started by an announcement first
   * waits 10 s (the DHT has no holder to add at that moment).
   *
   * @default 3_000
   */
  findIntervalMs?: number
  /**
   * What to keep: the newest K versions per name and/or a byte budget for the store. Evicted
   * artifacts are deleted with their metadata (peers downloading them are told first) and are
   * not fetched again when re-announced. A publisher's own source files are never deleted.
   *
   * @default {} (keep everything)
   */
  retention?: RetentionPolicy
  /**
   * libp2p connection gater: which peers and addresses may be dialled or accepted. Useful for
   * allow-lists; the fault tests also use it to split a swarm in two and heal it.
   *
   * @default undefined (libp2p's default: no restrictions beyond its own)
   */
  connectionGater?: ConnectionGater
  /** Exchange tuning, see {@link ExchangeInit} */
  exchange?: Omit<ExchangeInit, 'store'>
}

export interface ResolvedConfig {
  dataDir: string
  outputDir: string
  listen: Multiaddr[]
  bootstrap: Multiaddr[]
  swarm: string
  fetchAnnounced: boolean
  persistPeerStore: boolean
  mdns: boolean
  localPeersDir: string | false
  discoveryDialTarget: number
  announceIntervalMs: number
  findIntervalMs: number
  retention: RetentionPolicy
  connectionGater?: ConnectionGater
  exchange: Omit<ExchangeInit, 'store'>
}

export const DEFAULT_LISTEN = '/ip4/0.0.0.0/tcp/4010'

/** Fill in defaults and reject bad values with a message that says what to do */
export function resolveConfig (init: ShoalNodeInit): ResolvedConfig {
  const dataDir = resolve(expandHome(init.dataDir ?? join(homedir(), '.shoal')))
  const listen = (init.listen ?? [DEFAULT_LISTEN]).map(a => parseAddr(a, 'listen', false))
  const bootstrap = (init.bootstrap ?? []).map(a => parseAddr(a, 'bootstrap', true))
  const swarm = init.swarm ?? 'default'
  if (!/^[a-zA-Z0-9_.-]{1,64}$/.test(swarm)) {
    throw new ShoalError('ERR_BAD_OPTION', `swarm name "${swarm}" is invalid — use 1-64 letters, digits, '.', '_' or '-'`)
  }
  const onlyLoopback = listen.every(a => /^\/ip[46]\/(127\.|::1)/.test(a.toString()))
  return {
    dataDir,
    outputDir: resolve(expandHome(init.outputDir ?? join(dataDir, 'artifacts'))),
    listen,
    bootstrap,
    swarm,
    fetchAnnounced: init.fetchAnnounced ?? true,
    persistPeerStore: init.persistPeerStore ?? false,
    mdns: init.mdns ?? !onlyLoopback,
    localPeersDir: init.localPeersDir ?? defaultLocalPeersDir(swarm),
    discoveryDialTarget: count(init.discoveryDialTarget ?? 16, 'discoveryDialTarget'),
    announceIntervalMs: positive(init.announceIntervalMs ?? 30_000, 'announceIntervalMs'),
    findIntervalMs: positive(init.findIntervalMs ?? 3_000, 'findIntervalMs'),
    retention: resolveRetention(init.retention ?? {}),
    connectionGater: init.connectionGater,
    exchange: init.exchange ?? {}
  }
}

function resolveRetention (r: RetentionPolicy): RetentionPolicy {
  if (r.keepPerName != null && !(Number.isInteger(r.keepPerName) && r.keepPerName >= 1)) {
    throw new ShoalError('ERR_BAD_OPTION', `retention.keepPerName must be a whole number >= 1, got ${r.keepPerName}`)
  }
  if (r.maxBytes != null && !(Number.isFinite(r.maxBytes) && r.maxBytes > 0)) {
    throw new ShoalError('ERR_BAD_OPTION', `retention.maxBytes must be a positive number of bytes, got ${r.maxBytes}`)
  }
  if (r.graceMs != null && !(Number.isFinite(r.graceMs) && r.graceMs >= 0)) {
    throw new ShoalError('ERR_BAD_OPTION', `retention.graceMs must be a number of milliseconds >= 0, got ${r.graceMs}`)
  }
  return { keepPerName: r.keepPerName, maxBytes: r.maxBytes, graceMs: r.graceMs ?? 60_000 }
}

function parseAddr (value: string, what: string, needPeerId: boolean): Multiaddr {
  let ma: Multiaddr
  try {
    ma = multiaddr(value)
  } catch {
    throw new ShoalError('ERR_BAD_ADDRESS', `${what} address "${value}" is not a multiaddr — expected e.g. /ip4/127.0.0.1/tcp/4010${needPeerId ? '/p2p/<peer id>' : ''}`)
  }
  const s = ma.toString()
  if (!/^\/(ip4|ip6|dns4|dns6|dns)\/[^/]+\/tcp\/\d+/.test(s)) {
    throw new ShoalError('ERR_BAD_ADDRESS', `${what} address "${value}" is not a TCP address — expected e.g. /ip4/127.0.0.1/tcp/4010${needPeerId ? '/p2p/<peer id>' : ''}`)
  }
  const port = Number(s.split('/')[4])
  if (!Number.isInteger(port) || port > 65535) {
    throw new ShoalError('ERR_BAD_ADDRESS', `${what} address "${value}" has an invalid port`)
  }
  if (needPeerId && ma.getComponents().find(c => c.name === 'p2p') == null) {
    throw new ShoalError('ERR_BAD_ADDRESS', `bootstrap address "${value}" lacks /p2p/<peer id> — copy the full address a node prints at start`)
  }
  return ma
}

function positive (n: number, name: string): number {
  if (!Number.isFinite(n) || n <= 0) throw new ShoalError('ERR_BAD_OPTION', `${name} must be a positive number of milliseconds, got ${n}`)
  return n
}

function count (n: number, name: string): number {
  if (!Number.isInteger(n) || n < 1) throw new ShoalError('ERR_BAD_OPTION', `${name} must be a whole number of at least 1, got ${n}`)
  return n
}

function expandHome (p: string): string {
  return p === '~' || p.startsWith('~/') ? join(homedir(), p.slice(1)) : p
}
