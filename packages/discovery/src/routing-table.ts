import type { KadDHT } from '@libp2p/kad-dht'
import type { AbortOptions } from '@libp2p/interface'

const POLL_MS = 100

/**
 * Peers in the DHT's routing table. The `KadDHT` interface hides the table,
 * though the real service has one; anything else counts as unknown (`-1`).
 */
export function routingTableSize (dht: KadDHT): number {
  const table = (dht as { routingTable?: { size?: unknown } }).routingTable
  return typeof table?.size === 'number' ? table.size : -1
}

/**
 * Resolves `true` once the routing table holds a peer, or `false` after
 * `timeoutMs`. With `allowQueryWithZeroPeers` a query on an empty table ends
 * at once with nothing, so callers wait here first. Polls: the table's
 * events are not part of the public interface.
 *
 * @throws the signal's reason if `options.signal` aborts
 */
export async function waitForRoutingTable (dht: KadDHT, timeoutMs: number, options: AbortOptions = {}): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    options.signal?.throwIfAborted()
    const size = routingTableSize(dht)
    if (size !== 0) return size > 0 || size === -1
    if (Date.now() >= deadline) return false
    await sleep(Math.min(POLL_MS, deadline - Date.now()), options.signal)
  }
}

async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
