/**
 * The metadata database: one `level` db with four sublevels keyed by artifact id string —
 * records (json), manifest bytes, have-bitfields (raw bytes) and tombstones of removed ids
 * (json time). Multi-sublevel changes go in one atomic batch so a crash never leaves a record
 * without its manifest.
 */
import { Level } from 'level'

/**
 * Persisted state of one artifact. Fields after `createdAt` were added later: records written
 * by older versions lack them and are completed from the manifest when loaded.
 */
export interface ArtifactRecord {
  /** Artifact id (CID string). */
  id: string
  /** 'partial' while chunks are arriving; 'complete' once the file is in its final place. */
  state: 'partial' | 'complete'
  /** Final path when complete, else null. */
  path: string | null
  /** When the store first saw this artifact, ms since the epoch. */
  createdAt: number
  /** The manifest's file name. */
  name?: string
  /** The manifest's size in bytes. */
  size?: number
  /** True for a file registered with `addComplete` (the store never moves or deletes it). */
  external?: boolean
  /** Size of the complete file when last known good. */
  fileSize?: number
  /** mtime (ms) of the complete file when last known good; 0 forces a full re-check on open. */
  fileMtimeMs?: number
}

/** One artifact as loaded at startup. */
export interface LoadedArtifact {
  record: ArtifactRecord
  manifestBytes: Uint8Array | undefined
  bitfieldBytes: Uint8Array | undefined
}

/** Typed access to the store's level database. */
export class StoreDb {
  readonly #db: Level<string, string>
  readonly #records
  readonly #manifests
  readonly #bitfields
  readonly #removed

  constructor (location: string) {
    this.#db = new Level<string, string>(location)
    this.#records = this.#db.sublevel<string, ArtifactRecord>('artifact', { valueEncoding: 'json' })
    this.#manifests = this.#db.sublevel<string, Uint8Array>('manifest', { valueEncoding: 'view' })
    this.#bitfields = this.#db.sublevel<string, Uint8Array>('bitfield', { valueEncoding: 'view' })
    this.#removed = this.#db.sublevel<string, number>('removed', { valueEncoding: 'json' })
  }

  async open (): Promise<void> {
    await this.#db.open()
  }

  async close (): Promise<void> {
    await this.#db.close()
  }

  /** Every stored artifact. */
  async * loadAll (): AsyncGenerator<LoadedArtifact> {
    for await (const record of this.#records.values()) {
      yield {
        record,
        manifestBytes: await this.#manifests.get(record.id),
        bitfieldBytes: await this.#bitfields.get(record.id)
      }
    }
  }

  /** Every tombstone: id and when it was removed. */
  async loadTombstones (): Promise<Array<[string, number]>> {
    return await this.#removed.iterator().all()
  }

  /** Store a new artifact (bitfield only for partial ones); storing an id clears its tombstone. */
  async put (record: ArtifactRecord, manifestBytes: Uint8Array, bitfieldBytes?: Uint8Array): Promise<void> {
    const batch = this.#db.batch()
      .put<string, ArtifactRecord>(record.id, record, { sublevel: this.#records })
      .put<string, Uint8Array>(record.id, manifestBytes, { sublevel: this.#manifests })
      .del(record.id, { sublevel: this.#removed })
    if (bitfieldBytes != null) batch.put<string, Uint8Array>(record.id, bitfieldBytes, { sublevel: this.#bitfields })
    else batch.del(record.id, { sublevel: this.#bitfields })
    await batch.write()
  }

  /** Replace an artifact's record only. */
  async putRecord (record: ArtifactRecord): Promise<void> {
    await this.#records.put(record.id, record)
  }

  /** Replace the have-bitfield of a partial artifact. */
  async putBitfield (id: string, bytes: Uint8Array): Promise<void> {
    await this.#bitfields.put(id, bytes)
  }

  /** Mark complete: a complete artifact has every chunk, so its bitfield is dropped. */
  async putComplete (record: ArtifactRecord): Promise<void> {
    await this.#db.batch()
      .put<string, ArtifactRecord>(record.id, record, { sublevel: this.#records })
      .del(record.id, { sublevel: this.#bitfields })
      .write()
  }

  /** Forget an artifact entirely; with `tombstoneAt`, remember that it was removed then. */
  async delete (id: string, tombstoneAt?: number): Promise<void> {
    const batch = this.#db.batch()
      .del(id, { sublevel: this.#records })
      .del(id, { sublevel: this.#manifests })
      .del(id, { sublevel: this.#bitfields })
    if (tombstoneAt != null) batch.put<string, number>(id, tombstoneAt, { sublevel: this.#removed })
    await batch.write()
  }

  /** Drop tombstones. */
  async deleteTombstones (ids: Iterable<string>): Promise<void> {
    const batch = this.#db.batch()
    for (const id of ids) batch.del(id, { sublevel: this.#removed })
    await batch.write()
  }
}
