/**
 * @packageDocumentation
 *
 * The Shoal block-exchange protocol, `/shoal/exchange/1.0.0`, as a libp2p service.
 *
 * Peers open one stream per artifact, trade have-bitfields in a handshake, send the manifest in
 * parts to a peer that has only the artifact id (a node still receiving it passes each part on
 * as it lands), then request, send and cancel blocks.
 * Every received block is verified against its CID before it is stored, announced or served, and
 * a node serves what it has verified while it is still downloading the rest.
 *
 * What to request next is decided by {@link Scheduler}, a pure state machine with no I/O
 * (rarest-first after a few random first chunks, bounded pipelines, strict endgame with cancels,
 * requests re-issued elsewhere once their peer goes quiet), so a simulator can drive the same code.
 *
 * @example
 *
 * ```ts
 * import { createLibp2p } from 'libp2p'
 * import { openStore } from '@shoal/store'
 * import { exchange } from '@shoal/exchange'
 *
 * const store = await openStore({ dataDir: '/var/lib/shoal' })
 * const node = await createLibp2p({
 *   // transports, encrypters, muxers...
 *   services: { exchange: exchange({ store }) }
 * })
 *
 * // peers come from discovery (or anywhere else)
 * node.services.exchange.addPeers(artifactId, [{ id: peerId, multiaddrs: [addr] }])
 * const handle = await node.services.exchange.fetch(artifactId)
 * await handle.finalize('/srv/models/model.bin')
 * ```
 */

export { exchange, Exchange, EXCHANGE_PROTOCOL } from './exchange.js'
export type { ExchangeInit, ExchangeComponents, ExchangeEvents, FetchOptions } from './exchange.js'
export { Scheduler } from './scheduler.js'
export type { SchedulerInit, SchedulerAction } from './scheduler.js'
export { SuperSeeder } from './super-seeder.js'
export type { SuperSeederInit, RevealAction } from './super-seeder.js'
export type { Candidate, TransferStats } from './transfer.js'
export { TokenBucket } from './rate-limit.js'
export type { TokenBucketInit } from './rate-limit.js'
export { encodeFrame } from './wire.js'
export { Message } from './pb/message.js'
export type { Handshake, Have, Request, Block, Cancel, Reject, Pex, PexPeer } from './pb/message.js'
