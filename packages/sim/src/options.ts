/**
 * What a scenario is made of, with its defaults.
 */
import type { SchedulerInit } from '@shoal/exchange'

/** A link's rates, bytes per second */
export interface LinkRates {
  up: number
  down: number
}

/** Progress of a running simulation, for a live display */
export interface SimProgress {
  /** Simulated time, ms */
  timeMs: number
  /** Nodes holding every chunk */
  complete: number
  nodes: number
  /** Wall-clock time since the simulation started, ms */
  wallMs: number
  /** Time steps taken */
  steps: number
  /** Messages delivered */
  messages: number
}

/** Scheduler options a scenario may set (the simulator supplies `chunks`, `have` and `random`) */
export type SchedulerOptions = Partial<Omit<SchedulerInit, 'chunks' | 'have' | 'random'>> & Record<string, unknown>

export interface SimInit {
  /** Downloading nodes; the publisher comes on top */
  nodes: number
  /** Artifact size, bytes */
  size: number
  /**
   * Bytes per chunk (the manifest's chunk size; the last chunk may be shorter).
   *
   * @default 4194304 (4 MiB, the largest a manifest allows)
   */
  chunkSize?: number
  /**
   * Every node's link, or a function giving node `i`'s (for heterogeneous fleets; `random` is
   * seeded from the scenario seed).
   *
   * @default { up: 125e6, down: 125e6 } (1 Gbit/s both ways)
   */
  link?: LinkRates | ((node: number, random: () => number) => LinkRates)
  /**
   * The publisher's link.
   *
   * @default the same as `link` (for a function: `link(-1, random)`)
   */
  publisherLink?: LinkRates
  /**
   * One-way latency of a connection, ms, drawn uniformly per pair of nodes from `[min, max]`.
   *
   * @default [5, 50]
   */
  latencyMs?: readonly [number, number]
  /**
   * Peers each node dials per artifact, publisher included (the exchange's
   * `maxPeersPerArtifact`). Nodes also accept others' dials, so degrees average above this.
   * 0 keeps nodes from trading with each other at all: every byte then comes from the publisher.
   *
   * @default 16
   */
  maxPeers?: number
  /**
   * Sessions at which a node refuses further dials (the exchange's `acceptPeersPerArtifact`).
   * A node's peers split their uplinks per session, so the more a node's sessions spread from
   * `maxPeers`, the further behind the nodes with the fewest fall.
   *
   * @default maxPeers + 2
   */
  acceptPeers?: number
  /**
   * Nodes the publisher is connected to. Every node learns of the publisher and dials it, and
   * an origin accepts inbound sessions up to `originPeersPerArtifact` (`maxPeersPerArtifact`),
   * so by default the publisher's sessions are full.
   *
   * @default maxPeers (at least 1)
   */
  publisherPeers?: number
  /**
   * `'super-seed'`: empty handshake bitfield, chunks revealed one by one by the exchange's
   * `SuperSeeder`; `'seed'`: a plain seed that advertises every chunk in its handshake.
   *
   * @default 'super-seed'
   */
  publisherMode?: 'seed' | 'super-seed'
  /**
   * Chunks the super-seeding publisher reveals to each peer at a time.
   *
   * @default the SuperSeeder's own default
   */
  revealPerPeer?: number
  /**
   * Requests one peer may queue at a node before further ones are rejected (the exchange's
   * `maxQueuedRequests`).
   *
   * @default 64
   */
  maxQueuedRequests?: number
  /**
   * Blocks a node sends at once (upload slots). A connection holds a slot while it sends one
   * block, then goes to the back of the line if it has more queued, so a node's requesters take
   * turns, one block each. 0 or Infinity: no limit, every connection with a queued request sends
   * at once, which is what the exchange does: the real exchange has no upload slots (in the
   * shaped-link bench a slot freed by the receiver's `have` sat idle behind the receiver's own
   * uploads, see the README), so the default models it. In this model, 12 slots took the 1000-node
   * run from 1.135 to 1.114 T*, a lead for a real implementation.
   *
   * @default Infinity
   */
  uploadSlots?: number
  /**
   * The publisher's upload slots.
   *
   * @default uploadSlots
   */
  publisherUploadSlots?: number
  /**
   * Extra options for every node's Scheduler, e.g. `{ maxInflightPerPeer: 4 }`. The simulator
   * passes `chunks`, `chunkSize` and a seeded `random` itself.
   *
   * @default {}
   */
  scheduler?: SchedulerOptions
  /**
   * How often each node's `scheduler.tick()` runs (the exchange's `tickIntervalMs`), ms.
   *
   * @default 1000
   */
  tickIntervalMs?: number
  /**
   * Length of a time step, ms. Messages are handled at step boundaries; bandwidth is shared
   * out per step. Smaller is more faithful and slower to run.
   *
   * @default 10
   */
  dtMs?: number
  /**
   * Rounds per step in which bandwidth left unused at both ends of some connections is
   * offered to others (0 = plain even split, the most conservative).
   *
   * @default 1
   */
  reallocatePasses?: number
  /**
   * Seed for everything random: topology, latencies, links, every scheduler's choices.
   *
   * @default 1
   */
  seed?: number
  /**
   * Give up at this simulated time, ms; the result then has incomplete nodes.
   *
   * @default 50 × T* + 60 s
   */
  maxTimeMs?: number
  /**
   * Simulated ms between the samples of {@link SimResult.timeline}.
   *
   * @default 1000
   */
  timelineIntervalMs?: number
  /** Called every `progressIntervalMs` of wall-clock time while the simulation runs */
  onProgress?: (progress: SimProgress) => void
  /**
   * Wall-clock ms between `onProgress` calls.
   *
   * @default 1000
   */
  progressIntervalMs?: number
}

/** A scenario with every default filled in */
export interface Scenario {
  nodes: number
  size: number
  chunkSize: number
  chunks: number
  /** Per node (publisher last), bytes per second */
  up: Float64Array
  down: Float64Array
  latencyMs: readonly [number, number]
  maxPeers: number
  acceptPeers: number
  publisherPeers: number
  publisherMode: 'seed' | 'super-seed'
  revealPerPeer?: number
  maxQueuedRequests: number
  /** Upload slots of every node and of the publisher (Infinity: no limit) */
  uploadSlots: number
  publisherUploadSlots: number
  scheduler: SchedulerOptions
  tickIntervalMs: number
  dtMs: number
  reallocatePasses: number
  seed: number
  /** Kumar–Ross lower bound, seconds */
  lowerBound: number
  maxTimeMs: number
}

export const DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024
export const DEFAULT_RATE = 1e9 / 8
export const DEFAULT_MAX_PEERS = 16
export const DEFAULT_UPLOAD_SLOTS = Infinity

/**
 * The Kumar–Ross bound on the time to get `size` bytes to every node:
 * `max(F/u_s, F/d_min, N·F/(u_s + Σu_i))`, seconds.
 */
export function lowerBound (size: number, publisherUp: number, up: ArrayLike<number>, down: ArrayLike<number>, nodes: number): number {
  if (nodes === 0 || size === 0) return 0
  let sumUp = 0
  let minDown = Infinity
  for (let i = 0; i < nodes; i++) {
    sumUp += up[i]
    if (down[i] < minDown) minDown = down[i]
  }
  return Math.max(size / publisherUp, size / minDown, nodes * size / (publisherUp + sumUp))
}

/**
 * Fill in defaults and check the numbers.
 *
 * @throws {RangeError} on a value out of range
 */
export function resolveScenario (init: SimInit, random: () => number): Scenario {
  const nodes = init.nodes
  if (!Number.isSafeInteger(nodes) || nodes < 1) throw new RangeError(`nodes must be a positive integer, got ${nodes}`)
  const size = init.size
  if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`size must be a positive integer of bytes, got ${size}`)
  const chunkSize = init.chunkSize ?? DEFAULT_CHUNK_SIZE
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) throw new RangeError(`chunkSize must be a positive integer, got ${chunkSize}`)
  const chunks = Math.ceil(size / chunkSize)

  const up = new Float64Array(nodes + 1)
  const down = new Float64Array(nodes + 1)
  const link = init.link ?? { up: DEFAULT_RATE, down: DEFAULT_RATE }
  for (let i = 0; i < nodes; i++) {
    const l = typeof link === 'function' ? link(i, random) : link
    up[i] = l.up
    down[i] = l.down
  }
  const pub = init.publisherLink ?? (typeof link === 'function' ? link(-1, random) : link)
  up[nodes] = pub.up
  down[nodes] = pub.down
  for (let i = 0; i <= nodes; i++) {
    if (!(up[i] > 0 && down[i] > 0 && Number.isFinite(up[i]) && Number.isFinite(down[i]))) {
      throw new RangeError(`link rates must be positive, got up ${up[i]} down ${down[i]} for ${i === nodes ? 'the publisher' : `node ${i}`}`)
    }
  }

  const latencyMs = init.latencyMs ?? [5, 50]
  if (!(latencyMs[0] >= 0 && latencyMs[1] >= latencyMs[0] && Number.isFinite(latencyMs[1]))) {
    throw new RangeError(`latencyMs must be [min, max] with 0 <= min <= max, got [${latencyMs.join(', ')}]`)
  }
  const maxPeers = init.maxPeers ?? DEFAULT_MAX_PEERS
  if (!Number.isSafeInteger(maxPeers) || maxPeers < 0) throw new RangeError(`maxPeers must be a non-negative integer, got ${maxPeers}`)
  const acceptPeers = init.acceptPeers ?? maxPeers + 2
  if (!Number.isSafeInteger(acceptPeers) || acceptPeers < maxPeers) throw new RangeError(`acceptPeers must be an integer >= maxPeers, got ${acceptPeers}`)
  const wantedPublisherPeers = init.publisherPeers ?? Math.max(1, maxPeers)
  if (!Number.isSafeInteger(wantedPublisherPeers) || wantedPublisherPeers < 1) throw new RangeError(`publisherPeers must be a positive integer, got ${wantedPublisherPeers}`)
  const publisherPeers = Math.min(wantedPublisherPeers, nodes)
  const dtMs = init.dtMs ?? 10
  if (!(dtMs > 0 && Number.isFinite(dtMs))) throw new RangeError(`dtMs must be positive, got ${dtMs}`)
  const tickIntervalMs = init.tickIntervalMs ?? 1000
  if (!(tickIntervalMs > 0)) throw new RangeError(`tickIntervalMs must be positive, got ${tickIntervalMs}`)
  const reallocatePasses = init.reallocatePasses ?? 1
  if (!Number.isSafeInteger(reallocatePasses) || reallocatePasses < 0) throw new RangeError(`reallocatePasses must be a non-negative integer, got ${reallocatePasses}`)
  const maxQueuedRequests = init.maxQueuedRequests ?? 64
  if (!Number.isSafeInteger(maxQueuedRequests) || maxQueuedRequests < 1) throw new RangeError(`maxQueuedRequests must be a positive integer, got ${maxQueuedRequests}`)

  const uploadSlots = slotCount('uploadSlots', init.uploadSlots ?? DEFAULT_UPLOAD_SLOTS)
  const publisherUploadSlots = slotCount('publisherUploadSlots', init.publisherUploadSlots ?? uploadSlots)

  const bound = lowerBound(size, up[nodes], up, down, nodes)
  return {
    nodes,
    size,
    chunkSize,
    chunks,
    up,
    down,
    latencyMs,
    maxPeers,
    acceptPeers,
    publisherPeers,
    publisherMode: init.publisherMode ?? 'super-seed',
    revealPerPeer: init.revealPerPeer,
    maxQueuedRequests,
    uploadSlots,
    publisherUploadSlots,
    scheduler: init.scheduler ?? {},
    tickIntervalMs,
    dtMs,
    reallocatePasses,
    seed: init.seed ?? 1,
    lowerBound: bound,
    maxTimeMs: init.maxTimeMs ?? (50 * bound * 1000 + 60_000)
  }
}

/** A slot count: a non-negative integer, 0 and Infinity meaning no limit (returned as Infinity) */
function slotCount (name: string, n: number): number {
  if (n === Infinity || n === 0) return Infinity
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${name} must be a non-negative integer or Infinity, got ${n}`)
  return n
}
