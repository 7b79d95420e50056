/**
 * Tombstones: ids removed on purpose (evicted), remembered across restarts so the node does
 * not fetch them again when someone re-announces them. Kept in memory for a synchronous
 * lookup, oldest first, and bounded: past the limit the oldest are forgotten.
 */
import type { StoreDb } from './db.js'

/** @internal the store's set of removed ids */
export class Tombstones {
  readonly #db: StoreDb
  readonly #max: number
  // Map keeps insertion order: oldest first once loaded sorted by time.
  readonly #removedAt = new Map<string, number>()

  constructor (db: StoreDb, max: number) {
    this.#db = db
    this.#max = max
  }

  /** Load from the db, dropping the oldest beyond the limit. */
  async load (): Promise<void> {
    const all = (await this.#db.loadTombstones()).sort((a, b) => a[1] - b[1])
    const excess = Math.max(0, all.length - this.#max)
    if (excess > 0) await this.#db.deleteTombstones(all.slice(0, excess).map(([id]) => id))
    for (const [id, at] of all.slice(excess)) this.#removedAt.set(id, at)
  }

  /** Whether `key` was removed with a tombstone. */
  has (key: string): boolean {
    return this.#removedAt.has(key)
  }

  /** Note a tombstone already written to the db; forgets the oldest beyond the limit. */
  async added (key: string, at: number): Promise<void> {
    this.#removedAt.delete(key)
    this.#removedAt.set(key, at)
    const drop: string[] = []
    for (const id of this.#removedAt.keys()) {
      if (this.#removedAt.size - drop.length <= this.#max) break
      drop.push(id)
    }
    if (drop.length === 0) return
    for (const id of drop) this.#removedAt.delete(id)
    await this.#db.deleteTombstones(drop)
  }

  /** Forget `key` in memory (the db clears it when the id is stored again). */
  cleared (key: string): void {
    this.#removedAt.delete(key)
  }
}
