/**
 * A JSON snapshot of the node (identity, addresses, per-artifact counters) rewritten atomically
 * when something changes, for operators, dashboards and the end-to-end tests.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { ShoalNode } from '@shoal/swarm'

export class StatusFile {
  private readonly node: ShoalNode
  private readonly path: string
  private dirty = true
  private timer?: ReturnType<typeof setInterval>
  private writing: Promise<void> = Promise.resolve()

  constructor (node: ShoalNode, path: string) {
    this.node = node
    this.path = path
  }

  start (): void {
    this.timer = setInterval(() => { if (this.dirty) this.flush() }, 500)
    this.flush()
  }

  changed (): void {
    this.dirty = true
  }

  async stop (): Promise<void> {
    clearInterval(this.timer)
    this.flush()
    await this.writing
  }

  private flush (): void {
    this.dirty = false
    const snapshot = {
      peerId: this.node.peerId.toString(),
      multiaddrs: this.node.multiaddrs,
      pid: process.pid,
      at: Date.now(),
      artifacts: this.node.stats()
    }
    this.writing = this.writing.then(async () => {
      await mkdir(dirname(this.path), { recursive: true })
      const tmp = `${this.path}.tmp`
      await writeFile(tmp, JSON.stringify(snapshot, null, 2))
      await rename(tmp, this.path)
    }).catch(() => {})
  }
}
