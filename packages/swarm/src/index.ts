/**
 * @packageDocumentation
 *
 * A complete Shoal node in one object: a libp2p host (TCP, noise, yamux, identify) running the
 * Shoal exchange and discovery (kad-dht, gossipsub, mDNS on a LAN, a rendezvous directory on
 * one machine), wired together over an on-disk store. This is what the node daemon and the
 * publisher CLI are built on, and what another team embeds to receive or publish artifacts.
 *
 * @example Receive every artifact announced in a swarm
 *
 * ```ts
 * import { ShoalNode } from '@shoal/swarm'
 *
 * const node = await ShoalNode.create({ dataDir: '/var/lib/shoal', bootstrap: ['/ip4/10.0.0.1/tcp/4010/p2p/12D3Koo...'] })
 * node.addEventListener('complete', (evt) => { console.log('got', evt.detail.name, 'at', evt.detail.path) })
 * await node.start()
 * ```
 *
 * @example Publish a file and wait until three nodes hold it
 *
 * ```ts
 * const node = await ShoalNode.create({ fetchAnnounced: false, listen: ['/ip4/0.0.0.0/tcp/0'] })
 * await node.start()
 * const { id } = await node.publish('model.bin')
 * await node.waitForReplicas(id, 3)
 * await node.stop()
 * ```
 */
import './polyfill.js'

export { ShoalNode } from './node.js'
export type { ShoalNodeEvents, ShoalServices, ArtifactProgress, PublishOptions, Published } from './node.js'
export { resolveConfig, DEFAULT_LISTEN } from './config.js'
export type { ShoalNodeInit, ResolvedConfig } from './config.js'
export { ShoalError } from './errors.js'
export type { ShoalErrorCode } from './errors.js'
