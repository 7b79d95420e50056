/**
 * The simulation loop: the real Scheduler of every node and the publisher's policy, driven over
 * the link model in {@link Network} with messages delayed by each connection's latency.
 *
 * Each step of `dt` ms: (1) deliver every message due by now, in order, feeding the receivers'
 * schedulers and applying what they return (a reaction is sent at the exact arrival time of
 * what caused it, so a reply due within the same step is handled in that step too); (2) every
 * `tickIntervalMs`, tick the schedulers of unfinished nodes; (3) move the step's bytes. A block
 * is delivered one latency after its last byte leaves.
 */
import { Bitfield } from '@shoal/content'
import type { SchedulerAction } from '@shoal/exchange'
import { MessageQueue, Msg } from './events.js'
import { Network } from './network.js'
import type { NetworkSink } from './network.js'
import { SimNode } from './node.js'
import { resolveScenario } from './options.js'
import type { Scenario, SimInit } from './options.js'
import { deriveSeed, seededRandom } from './random.js'
import { summarize } from './report.js'
import type { SimResult, TimelineSample } from './report.js'
import { createPublisher } from './seeder.js'
import type { PublisherPolicy } from './seeder.js'
import type { RevealAction } from '@shoal/exchange'
import { buildTopology } from './topology.js'
import type { Topology } from './topology.js'

/** Run one scenario to completion (or until `maxTimeMs`, or until nothing moves). */
export function simulate (init: SimInit): SimResult {
  const sim = new Simulation(init)
  sim.run()
  return sim.result()
}

/** Raw counters of a finished run, summarized by {@link summarize} */
export interface SimRun {
  scenario: Scenario
  publisherMode: 'seed' | 'super-seed'
  topology: Topology
  network: Network
  /** Completion time per node, ms (-1: never) */
  completedAt: Float64Array
  /** Block bytes delivered that the receiver already held */
  duplicateBytes: number
  /** New (first-copy) block bytes nodes received from the publisher and from other nodes */
  fromPublisher: number
  fromPeers: number
  /** When every chunk had left the publisher at least once, ms (-1: never), and the publisher's block bytes by then */
  allOutMs: number
  allOutBytes: number
  /** Chunks the publisher sent more than once, counting each extra copy */
  publisherRepeats: number
  timeline: TimelineSample[]
  /** Whether every chunk bit is set at every finished node */
  consistent: boolean
  endMs: number
  steps: number
  messages: number
  schedulerCalls: number
  wallMs: number
  /** Stopped with nothing in flight and nodes unfinished */
  stalled: boolean
  timedOut: boolean
}

class Simulation implements NetworkSink {
  private readonly s: Scenario
  private readonly topo: Topology
  private readonly net: Network
  private readonly mq: MessageQueue
  private readonly nodes: SimNode[]
  private readonly names: string[]
  private readonly publisher: number
  private readonly policy: PublisherPolicy
  private readonly latency: Float64Array
  private readonly src: Int32Array
  private readonly dst: Int32Array
  /** `holds[node * chunks + i]`: node holds chunk i (the publisher holds all) */
  private readonly holds: Uint8Array
  /** Node → the publisher's connection to it */
  private readonly publisherConn = new Map<number, number>()
  private readonly chunks: number
  private readonly onProgress?: SimInit['onProgress']
  private readonly progressIntervalMs: number
  /** Times the publisher has sent each chunk in full */
  private readonly publisherSends: Uint32Array
  private chunksOut = 0
  private allOutMs = -1
  private allOutBytes = 0
  private publisherBlockBytes = 0
  /** Each connection's carried bytes at the last scheduler tick */
  private readonly carriedAtTick: Float64Array
  private readonly timeline: TimelineSample[] = []
  private readonly timelineEvery: number
  private step = 0
  private complete = 0
  /** Download rate of the unfinished nodes, bytes per second */
  private downCapacityLeft = 0
  private duplicateBytes = 0
  private fromPublisher = 0
  private fromPeers = 0
  private schedulerCalls = 0
  private endMs = 0
  private wallMs = 0
  private stalled = false
  private timedOut = false

  constructor (init: SimInit) {
    const s = this.s = resolveScenario(init, seededRandom(deriveSeed(init.seed ?? 1, 1)))
    this.onProgress = init.onProgress
    this.progressIntervalMs = init.progressIntervalMs ?? 1000
    this.timelineEvery = Math.max(1, Math.round((init.timelineIntervalMs ?? 1000) / s.dtMs))
    this.chunks = s.chunks
    this.publisher = s.nodes
    this.topo = buildTopology({
      nodes: s.nodes,
      maxPeers: s.maxPeers,
      acceptPeers: s.acceptPeers,
      publisherPeers: s.publisherPeers,
      latencyMs: s.latencyMs,
      random: seededRandom(deriveSeed(s.seed, 2))
    })
    this.src = this.topo.src
    this.dst = this.topo.dst
    this.latency = this.topo.latencyMs
    this.net = new Network({
      topology: this.topo,
      up: s.up,
      down: s.down,
      chunks: s.chunks,
      chunkSize: s.chunkSize,
      size: s.size,
      maxQueued: s.maxQueuedRequests,
      reallocatePasses: s.reallocatePasses,
      uploadSlots: Float64Array.from({ length: s.nodes + 1 }, (_, v) => v === s.nodes ? s.publisherUploadSlots : s.uploadSlots)
    })
    this.carriedAtTick = new Float64Array(this.src.length)
    this.mq = new MessageQueue(s.dtMs, s.latencyMs[1] + s.dtMs, this.topo.dst, this.topo.count)
    this.publisherSends = new Uint32Array(s.chunks)
    this.holds = new Uint8Array((s.nodes + 1) * s.chunks)
    this.holds.fill(1, s.nodes * s.chunks)
    this.names = Array.from({ length: s.nodes + 1 }, (_, i) => i === s.nodes ? 'publisher' : `n${i}`)
    this.nodes = Array.from({ length: s.nodes }, (_, i) =>
      new SimNode(i, this.names[i], s.chunks, s.chunkSize, s.scheduler, seededRandom(deriveSeed(s.seed, 1000 + i))))
    for (const n of this.nodes) {
      if (n.isComplete) this.complete++
      else this.downCapacityLeft += s.down[n.index]
    }
    this.policy = createPublisher(s.publisherMode, s.chunks, seededRandom(deriveSeed(s.seed, 3)), s.revealPerPeer)
    const { out, outStart } = this.topo
    for (let v = 0; v < s.nodes; v++) {
      const node = this.nodes[v]
      for (let k = outStart[v]; k < outStart[v + 1]; k++) node.connTo.set(this.names[this.dst[out[k]]], out[k])
    }
    for (let k = outStart[s.nodes]; k < outStart[s.nodes + 1]; k++) this.publisherConn.set(this.dst[out[k]], out[k])
  }

  run (): void {
    const s = this.s
    const dt = s.dtMs
    const started = performance.now()
    let nextProgress = started + this.progressIntervalMs
    const tickEvery = Math.max(1, Math.round(s.tickIntervalMs / dt))

    let sumUp = 0
    for (let v = 0; v <= s.nodes; v++) sumUp += s.up[v]
    let lastBytes = 0
    let lastPub = 0
    let downCap = 0
    // Every connection opens with both handshakes at t = 0.
    for (let c = 0; c < this.src.length; c++) this.mq.push(Msg.Handshake, c, 0, this.latency[c], 0)

    for (;;) {
      const now = this.step * dt
      this.mq.drain(this.step, this.deliver)
      if (this.step > 0 && this.step % tickEvery === 0) this.tick(now)
      if (this.complete === s.nodes) { this.endMs = this.lastCompletion(); break }
      if (this.net.busy === 0 && this.mq.pending === 0) { this.stalled = true; this.endMs = now; break }
      if (now >= s.maxTimeMs) { this.timedOut = true; this.endMs = now; break }
      this.net.step(now, dt, this)
      this.step++
      // Download capacity of the nodes still downloading, summed step by step for the timeline.
      downCap += this.downCapacityLeft * dt / 1000
      if (this.step % this.timelineEvery === 0) {
        const span = this.timelineEvery * dt / 1000
        const moved = this.net.totalBytes - lastBytes
        const pub = this.net.bytesUp[this.publisher] - lastPub
        this.timeline.push({
          time: this.step * dt / 1000,
          complete: this.complete,
          downUtilization: downCap > 0 ? moved / downCap : 0,
          upUtilization: moved / (sumUp * span),
          publisherUtilization: pub / (s.up[this.publisher] * span)
        })
        lastBytes = this.net.totalBytes
        lastPub = this.net.bytesUp[this.publisher]
        downCap = 0
      }
      if (this.onProgress != null && (this.step & 63) === 0) {
        const wall = performance.now()
        if (wall >= nextProgress) {
          nextProgress = wall + this.progressIntervalMs
          this.onProgress({ timeMs: this.step * dt, complete: this.complete, nodes: s.nodes, wallMs: wall - started, steps: this.step, messages: this.mq.delivered })
        }
      }
    }
    this.wallMs = performance.now() - started
  }

  result (): SimResult {
    const completedAt = new Float64Array(this.s.nodes)
    let consistent = true
    for (let v = 0; v < this.s.nodes; v++) {
      const node = this.nodes[v]
      completedAt[v] = node.completedAt
      if (node.isComplete) {
        for (let i = 0, base = v * this.chunks; i < this.chunks; i++) if (this.holds[base + i] === 0) consistent = false
        if (!node.scheduler.isComplete) consistent = false
      }
    }
    return summarize({
      scenario: this.s,
      publisherMode: this.policy.mode,
      topology: this.topo,
      network: this.net,
      completedAt,
      duplicateBytes: this.duplicateBytes,
      fromPublisher: this.fromPublisher,
      fromPeers: this.fromPeers,
      timeline: this.timeline,
      allOutMs: this.allOutMs,
      allOutBytes: this.allOutBytes,
      publisherRepeats: this.publisherSends.reduce((sum, n) => sum + Math.max(0, n - 1), 0),
      consistent,
      endMs: this.endMs,
      steps: this.step,
      messages: this.mq.delivered,
      schedulerCalls: this.schedulerCalls,
      wallMs: this.wallMs,
      stalled: this.stalled,
      timedOut: this.timedOut
    })
  }

  // --- messages -----------------------------------------------------------------------------

  private readonly deliver = (kind: Msg, conn: number, index: number, at: number): void => {
    const from = this.src[conn]
    const to = this.dst[conn]
    switch (kind) {
      case Msg.Have:
        if (to === this.publisher) this.reveal(this.policy.onHave(this.names[from], index), at)
        else if (!this.nodes[to].isComplete) this.apply(to, this.nodes[to].scheduler.onHave(this.names[from], index, at), at)
        break
      case Msg.Request:
        // The client `from` asks the server `to`, which sends on the reverse connection.
        if (!this.net.enqueue(conn ^ 1, index)) this.send(Msg.Reject, conn ^ 1, index, at)
        break
      case Msg.Cancel:
        this.net.cancel(conn ^ 1, index)
        break
      case Msg.Reject:
        this.apply(to, this.nodes[to].scheduler.onReject(this.names[from], index, at), at)
        break
      case Msg.Block:
        this.onBlock(from, to, index, at)
        break
      case Msg.Handshake:
        this.onHandshake(from, to, at)
        break
    }
  }

  private onHandshake (from: number, to: number, at: number): void {
    const bits = new Bitfield(this.chunks)
    if (from !== this.publisher || this.policy.advertisesAll) {
      for (let i = 0, base = from * this.chunks; i < this.chunks; i++) if (this.holds[base + i] === 1) bits.set(i)
    }
    if (to === this.publisher) this.reveal(this.policy.addPeer(this.names[from], bits), at)
    else this.apply(to, this.nodes[to].scheduler.addPeer(this.names[from], bits, at), at)
  }

  private onBlock (from: number, to: number, index: number, at: number): void {
    const bytes = this.net.sizeOf(index)
    const slot = to * this.chunks + index
    if (this.holds[slot] === 1) {
      this.duplicateBytes += bytes
    } else {
      // Verification is instant here: the chunk is held, servable and announced at once.
      this.holds[slot] = 1
      if (from === this.publisher) this.fromPublisher += bytes
      else this.fromPeers += bytes
    }
    if (to !== this.publisher) this.apply(to, this.nodes[to].scheduler.onBlock(this.names[from], index, true, at), at)
  }

  private send (kind: Msg, conn: number, index: number, at: number): void {
    this.mq.push(kind, conn, index, at + this.latency[conn], this.step)
  }

  /** Carry out a node's scheduler actions, sent at time `at` */
  private apply (v: number, actions: SchedulerAction[], at: number): void {
    this.schedulerCalls++
    const node = this.nodes[v]
    for (let k = 0; k < actions.length; k++) {
      const a = actions[k]
      switch (a.type) {
        case 'request':
        case 'cancel': {
          const conn = node.connTo.get(a.peer)
          if (conn == null) throw new Error(`${node.name}'s scheduler addressed unknown peer ${a.peer}`)
          this.send(a.type === 'request' ? Msg.Request : Msg.Cancel, conn, a.index, at)
          break
        }
        case 'have': {
          const { out, outStart } = this.topo
          for (let j = outStart[v]; j < outStart[v + 1]; j++) this.send(Msg.Have, out[j], a.index, at)
          break
        }
        case 'complete':
          if (node.completedAt < 0) {
            node.completedAt = at
            this.complete++
            this.downCapacityLeft -= this.s.down[v]
          }
          break
      }
    }
  }

  /** Carry out the publisher's reveals: a `have` to one peer each */
  private reveal (actions: RevealAction[], at: number): void {
    for (let k = 0; k < actions.length; k++) {
      const a = actions[k]
      if (a.type !== 'reveal') continue
      const conn = this.publisherConn.get(this.nodeIndex(a.peer))
      if (conn == null) throw new Error(`the publisher revealed a chunk to unknown peer ${a.peer}`)
      this.send(Msg.Have, conn, a.index, at)
    }
  }

  private nodeIndex (name: string): number {
    return name === 'publisher' ? this.publisher : Number(name.slice(1))
  }

  private tick (now: number): void {
    const carried = this.net.carried
    for (const node of this.nodes) {
      if (node.isComplete) continue
      // Like the exchange, tell the scheduler what each peer sent since the last tick.
      for (const [peer, out] of node.connTo) {
        const inbound = out ^ 1
        const bytes = carried[inbound] - this.carriedAtTick[inbound]
        if (bytes > 0) node.scheduler.onBytes(peer, bytes)
        this.carriedAtTick[inbound] = carried[inbound]
      }
      this.apply(node.index, node.scheduler.tick(now), now)
    }
  }

  private lastCompletion (): number {
    let t = 0
    for (const n of this.nodes) if (n.completedAt > t) t = n.completedAt
    return t
  }

  // --- NetworkSink --------------------------------------------------------------------------

  held (node: number, index: number): boolean {
    return this.holds[node * this.chunks + index] === 1
  }

  sent (conn: number, index: number, at: number): void {
    this.send(Msg.Block, conn, index, at)
    if (this.src[conn] === this.publisher) {
      this.publisherBlockBytes += this.net.sizeOf(index)
      if (this.publisherSends[index]++ === 0 && ++this.chunksOut === this.chunks) {
        this.allOutMs = at
        this.allOutBytes = this.publisherBlockBytes
      }
      this.reveal(this.policy.onSent(this.names[this.dst[conn]], index), at)
    }
  }

  unheld (conn: number, index: number, at: number): void {
    this.send(Msg.Reject, conn, index, at)
  }
}
