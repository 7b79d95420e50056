/**
 * The metadata database: one `level` db with three sublevels keyed by artifact id string —
 * records (json), manifest bytes and have-bitfields (raw bytes). Multi-sublevel changes go
 * in one atomic batch so a crash never leaves a record without its manifest.
 */
import { Level } from 'level'

/** Persisted state of one artifact. */
export interface ArtifactRecord {
  /** Artifact id (CID string). */
  id: string
  /** 'partial' while chunks are arriving; 'complete' once the file is in its final place. */
  state: 'partial' | 'complete'
  /** Final path when complete, else null. */
  path: string | null
  /** When the store first saw this artifact, ms since the epoch. */
  createdAt: number
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

  constructor (location: string) {
    this.#db = new Level<string, string>(location)
    this.#records = this.#db.sublevel<string, ArtifactRecord>('artifact', { valueEncoding: 'json' })
    this.#manifests = this.#db.sublevel<string, Uint8Array>('manifest', { valueEncoding: 'view' })
    this.#bitfields = this.#db.sublevel<string, Uint8Array>('bitfield', { valueEncoding: 'view' })
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

  /** Store a new artifact (bitfield only for partial ones). */
  async put (record: ArtifactRecord, manifestBytes: Uint8Array, bitfieldBytes?: Uint8Array): Promise<void> {
    const batch = this.#db.batch()
      .put<string, ArtifactRecord>(record.id, record, { sublevel: this.#records })
      .put<string, Uint8Array>(record.id, manifestBytes, { sublevel: this.#manifests })
    if (bitfieldBytes != null) batch.put<string, Uint8Array>(record.id, bitfieldBytes, { sublevel: this.#bitfields })
    else batch.del(record.id, { sublevel: this.#bitfields })
    await batch.write()
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

  /** Forget an artifact entirely. */
  async delete (id: string): Promise<void> {
    await this.#db.batch()
      .del(id, { sublevel: this.#records })
      .del(id, { sublevel: this.#manifests })
      .del(id, { sublevel: this.#bitfields })
      .write()
  }
}
