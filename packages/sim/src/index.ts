/**
 * @packageDocumentation
 *
 * A network simulator for Shoal. It runs the very same sans-IO `Scheduler` (and, when present,
 * the publisher's `SuperSeeder`) that `@shoal/exchange` runs over libp2p, but over a modelled
 * network: every node has an upload and a download rate, every pair of connected nodes a one-way
 * latency, and each connection serves its client's requests one block at a time from a FIFO
 * queue, taking turns for the node's upload slots (at most `uploadSlots` blocks leave a node at
 * once, one per connection per turn). Thousands of nodes fit on one core, so the swarm can be
 * measured against the Kumar–Ross lower bound T* = max(F/u_s, F/d_min, N·F/(u_s + Σu_i)) at
 * the scale it is built for.
 *
 * Time advances in fixed steps (10 ms by default). In each step a node's upload capacity is split
 * evenly among its sending uploads and its download capacity among its busy downloads; a transfer
 * gets the smaller share, so no node ever exceeds its caps and the model can only be slower than
 * an ideal fluid network. Messages (handshake, have, request, cancel, reject) take the
 * connection's latency; a block is delivered one latency after its last byte is sent.
 *
 * Everything random (topology, latencies, every scheduler's choices) comes from one seed, so a
 * run is reproducible.
 *
 * @example
 *
 * ```ts
 * import { simulate, formatTable } from '@shoal/sim'
 *
 * // 5 GB to 1000 nodes, all links 1 Gbit/s both ways, 4 MiB chunks
 * const result = simulate({
 *   nodes: 1000,
 *   size: 5e9,
 *   chunkSize: 4 * 1024 * 1024,
 *   link: { up: 125e6, down: 125e6 },   // bytes per second
 *   latencyMs: [5, 50],
 *   seed: 7,
 *   onProgress: p => { console.error(`${p.timeMs / 1000} s: ${p.complete}/${p.nodes}`) }
 * })
 * console.log(result.maxOverBound, result.publisherEgressOverSize)
 * console.log(formatTable([result]))
 *
 * // A heterogeneous fleet: a third of the nodes on 100 Mbit/s uplinks
 * simulate({
 *   nodes: 300,
 *   size: 1e9,
 *   link: (i) => ({ up: i % 3 === 0 ? 12.5e6 : 125e6, down: 125e6 }),
 *   publisherLink: { up: 1.25e9, down: 1.25e9 },
 *   scheduler: { maxInflightPerPeer: 4 }
 * })
 *
 * // 12 upload slots per node, 16 at the publisher
 * simulate({ nodes: 1000, size: 5e9, uploadSlots: 12, publisherUploadSlots: 16 })
 * ```
 */

export { simulate } from './simulate.js'
export type { SimInit, SimProgress, LinkRates, SchedulerOptions } from './options.js'
export { lowerBound, DEFAULT_CHUNK_SIZE, DEFAULT_MAX_PEERS, DEFAULT_RATE, DEFAULT_UPLOAD_SLOTS } from './options.js'
export type { SimResult, TimelineSample } from './report.js'
export { formatTable } from './report.js'
export { parseSize, parseRate, formatSize, formatRate, formatSeconds } from './units.js'
