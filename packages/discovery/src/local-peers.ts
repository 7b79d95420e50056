/**
 * Same-machine peer discovery through a shared directory: every node writes a small file with
 * its peer id, pid and listen addresses, and reads the others'. Nodes on one host find each
 * other with no hand-made peer list and no multicast (mDNS covers the LAN). Files of processes
 * that are gone are removed by whoever notices.
 */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { TypedEventEmitter, peerDiscoverySymbol } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { PeerDiscovery, PeerDiscoveryEvents, PeerId, Startable, ComponentLogger, Logger } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface LocalPeersInit {
  /**
   * The rendezvous directory; nodes that share it find each other.
   *
   * @default `${os.tmpdir()}/shoal-peers-default`
   */
  dir?: string
  /**
   * How often the directory is re-read.
   *
   * @default 1_000
   */
  intervalMs?: number
  /**
   * How often the processes behind the entries read are checked for being alive, while the
   * directory is unchanged; a gone one's entry is removed.
   *
   * @default 10_000
   */
  livenessMs?: number
}

export interface LocalPeersComponents {
  peerId: PeerId
  logger: ComponentLogger
  addressManager: { getAddresses(): Multiaddr[] }
}

interface Entry { id: string, pid: number, addrs: string[] }

/** An entry as last read: its text (to spot a change) and where it came from */
interface Seen { raw: string, pid: number, file: string }

/** Where nodes of a swarm meet by default */
export function defaultLocalPeersDir (swarm: string): string {
  return join(tmpdir(), `shoal-peers-${swarm.replace(/[^a-zA-Z0-9_.-]/g, '_')}`)
}

class LocalPeers extends TypedEventEmitter<PeerDiscoveryEvents> implements PeerDiscovery, Startable {
  readonly [peerDiscoverySymbol] = this
  readonly [Symbol.toStringTag] = '@shoal/discovery/local-peers'
  private readonly components: LocalPeersComponents
  private readonly dir: string
  private readonly intervalMs: number
  private readonly log: Logger
  private readonly livenessMs: number
  private readonly seen = new Map<string, Seen>()
  private timer?: ReturnType<typeof setInterval>
  private scannedMtime = -1
  private scannedAt = 0
  private advertising: Promise<void> = Promise.resolve()
  private stopped = false

  constructor (components: LocalPeersComponents, init: LocalPeersInit) {
    super()
    this.components = components
    this.dir = init.dir ?? defaultLocalPeersDir('default')
    this.intervalMs = init.intervalMs ?? 1_000
    this.livenessMs = init.livenessMs ?? 10_000
    this.log = components.logger.forComponent('shoal:discovery:local-peers')
  }

  private get file (): string {
    return join(this.dir, `${this.components.peerId.toString()}.json`)
  }

  async start (): Promise<void> {}

  async afterStart (): Promise<void> {
    this.stopped = false
    await mkdir(this.dir, { recursive: true })
    this.advertising = this.advertise()
    await this.advertising
    await this.scan()
    this.timer = setInterval(() => { void this.scan() }, this.intervalMs)
    this.timer.unref?.()
  }

  async stop (): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    // libp2p stops a node whose start failed while afterStart may still be writing our entry.
    await this.advertising.catch(() => {})
    await rm(this.file, { force: true })
  }

  private async advertise (): Promise<void> {
    if (this.stopped) return
    const addrs = this.components.addressManager.getAddresses().map(a => a.toString())
    const entry: Entry = { id: this.components.peerId.toString(), pid: process.pid, addrs }
    const tmp = `${this.file}.${process.pid}.tmp`
    await writeFile(tmp, JSON.stringify(entry))
    if (this.stopped) {
      await rm(tmp, { force: true })
      return
    }
    await rename(tmp, this.file)
  }

  private async scan (): Promise<void> {
    let names: string[]
    try {
      // Files are only ever created, renamed into place or removed, each of which changes the
      // directory's mtime: an unchanged directory has nothing new to read, and only the
      // processes behind what was read need checking (re-reading every file of a big swarm on
      // every node, every few seconds, cost more CPU than the check).
      const mtime = (await stat(this.dir)).mtimeMs
      if (mtime === this.scannedMtime) {
        if (Date.now() - this.scannedAt >= this.livenessMs) await this.removeGone()
        return
      }
      this.scannedMtime = mtime
      this.scannedAt = Date.now()
      names = await readdir(this.dir)
    } catch {
      return
    }
    // In random order: a node that dials only the first few it hears of (see the swarm's
    // `discoveryDialTarget`) must not pick the same few as every other node.
    for (const name of shuffle(names)) {
      if (!name.endsWith('.json')) continue
      const file = join(this.dir, name)
      try {
        const raw = await readFile(file, 'utf8')
        const entry = JSON.parse(raw) as Entry
        if (entry.id === this.components.peerId.toString()) continue
        if (!alive(entry.pid)) {
          await rm(file, { force: true })
          this.seen.delete(entry.id)
          continue
        }
        if (this.seen.get(entry.id)?.raw === raw) continue
        this.seen.set(entry.id, { raw, pid: entry.pid, file })
        this.safeDispatchEvent('peer', {
          detail: { id: peerIdFromString(entry.id), multiaddrs: entry.addrs.map(a => multiaddr(a)) }
        })
      } catch (err: any) {
        this.log('skipping %s: %s', name, err.message)
      }
    }
  }

  /** Remove the entries of processes that are gone (the next scan sees the directory change) */
  private async removeGone (): Promise<void> {
    this.scannedAt = Date.now()
    for (const [id, seen] of this.seen) {
      if (alive(seen.pid)) continue
      this.seen.delete(id)
      await rm(seen.file, { force: true }).catch(() => {})
    }
  }
}

function shuffle<T> (items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    const t = items[i]
    items[i] = items[j]
    items[j] = t
  }
  return items
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err: any) {
    return err.code === 'EPERM'
  }
}

/**
 * A libp2p peer-discovery module for nodes on one machine:
 *
 * ```ts
 * createLibp2p({ peerDiscovery: [localPeers({ dir: '/tmp/shoal-peers' })] })
 * ```
 */
export function localPeers (init: LocalPeersInit = {}): (components: LocalPeersComponents) => PeerDiscovery {
  return (components) => new LocalPeers(components, init)
}
