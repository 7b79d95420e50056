/**
 * The retention policy: which stored artifacts to evict so a node that receives a new artifact
 * every few minutes, forever, keeps a bounded store. Pure: it sees a list, returns a list; the
 * node does the evicting (telling peers first).
 */
import { formatBytes } from '@shoal/content'

/** How much a node keeps. Unset limits keep everything. */
export interface RetentionPolicy {
  /**
   * Keep at most this many versions of each artifact name (the newest by the manifest's
   * `createdAt`); older complete versions are evicted.
   *
   * @default Infinity
   */
  keepPerName?: number
  /**
   * Keep the stored artifacts' total size (complete and partial) at or under this many bytes,
   * evicting the oldest complete artifacts first.
   *
   * @default Infinity
   */
  maxBytes?: number
  /**
   * An artifact that peers are downloading from this node is evicted only once they stop, or
   * this long after its eviction fell due (they are then told, and turn to other holders).
   *
   * @default 60_000
   */
  graceMs?: number
}

/** One stored artifact as the policy sees it */
export interface RetentionItem {
  id: string
  name: string
  size: number
  /** The manifest's creation time: what "newest version" means */
  createdAt: number
  complete: boolean
  /**
   * Never evicted: still downloading, or published by this node. A partial download is never
   * evicted to make room, because it was wanted and would only be fetched again.
   */
  pinned: boolean
}

/** An artifact to evict and why, in a line an operator can read */
export interface Eviction {
  id: string
  name: string
  reason: string
}

/** Evictions that bring `items` within `policy`: oldest first, never a pinned or partial item */
export function chooseEvictions (items: RetentionItem[], policy: RetentionPolicy): Eviction[] {
  const keep = policy.keepPerName ?? Infinity
  const budget = policy.maxBytes ?? Infinity
  const newestFirst = [...items].sort((a, b) => b.createdAt - a.createdAt || a.id.localeCompare(b.id))
  const evictable = (i: RetentionItem): boolean => i.complete && !i.pinned
  const out: Eviction[] = []
  const evicted = new Set<string>()

  if (Number.isFinite(keep)) {
    const seen = new Map<string, number>()
    for (const item of newestFirst) {
      const rank = (seen.get(item.name) ?? 0) + 1
      seen.set(item.name, rank)
      if (rank > keep && evictable(item)) {
        out.push({ id: item.id, name: item.name, reason: `only the newest ${keep} version(s) of ${item.name} are kept` })
        evicted.add(item.id)
      }
    }
  }

  if (Number.isFinite(budget)) {
    let total = 0
    for (const item of items) if (!evicted.has(item.id)) total += item.size
    for (const item of [...newestFirst].reverse()) {
      if (total <= budget) break
      if (evicted.has(item.id) || !evictable(item)) continue
      out.push({ id: item.id, name: item.name, reason: `the store is over its ${formatBytes(budget)} budget` })
      evicted.add(item.id)
      total -= item.size
    }
  }
  return out
}
