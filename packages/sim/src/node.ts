/**
 * One simulated downloading node: the real {@link Scheduler} from `@shoal/exchange`, fed the
 * events its libp2p session would feed it, plus the bookkeeping the simulation needs. Its upload
 * queues live in the {@link Network}, indexed by connection.
 */
import { Scheduler } from '@shoal/exchange'
import type { SchedulerInit } from '@shoal/exchange'
import type { SchedulerOptions } from './options.js'

export class SimNode {
  /** Node number; the publisher is number `nodes` */
  readonly index: number
  /** Peer id as the scheduler sees it */
  readonly name: string
  readonly scheduler: Scheduler
  /** Peer name → the directed connection from this node to that peer */
  readonly connTo = new Map<string, number>()
  /** Simulated time (ms) every chunk was held, or -1 */
  completedAt = -1

  constructor (index: number, name: string, chunks: number, chunkSize: number, options: SchedulerOptions, random: () => number) {
    this.index = index
    this.name = name
    // `chunkSize` is passed for schedulers that size pipelines in bytes; older ones ignore it.
    const init = { chunks, chunkSize, ...options, random } as SchedulerInit
    this.scheduler = new Scheduler(init)
    if (this.scheduler.isComplete) this.completedAt = 0
  }

  get isComplete (): boolean {
    return this.completedAt >= 0
  }
}
