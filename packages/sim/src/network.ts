/**
 * The link model. Every node has an upload and a download rate. Each directed connection
 * (server → client) carries one block at a time from a FIFO queue of the client's requests, like
 * a real session writing one block frame after another; a server's connections to different
 * clients run concurrently.
 *
 * Time advances in steps of `dt`. In each step a node's upload capacity `u·dt` is split evenly
 * among its busy outgoing connections and its download capacity `d·dt` among its busy incoming
 * ones; a connection gets the smaller of its two shares (and no more than it has queued). Then,
 * `reallocatePasses` times, capacity left unused at both ends is offered again to connections
 * that could use more, again evenly. No node ever exceeds either cap within any step, so the
 * model can only be slower than a real fluid network, never faster. Within a step a connection
 * sends at a constant rate, so a block that ends mid-step ends at an exact fractional time and
 * the next queued block starts at once.
 */
import type { Topology } from './topology.js'

/** What the network reports back to the simulation while it moves bytes */
export interface NetworkSink {
  /** Whether node `node` holds chunk `index` (checked when a queued request starts, as the real session does) */
  held(node: number, index: number): boolean
  /** The last byte of chunk `index` left on connection `conn` at time `at` (ms) */
  sent(conn: number, index: number, at: number): void
  /** A queued request reached the head of `conn` for a chunk its server does not hold */
  unheld(conn: number, index: number, at: number): void
}

export interface NetworkInit {
  topology: Topology
  /** Upload rate per node, bytes per second */
  up: Float64Array
  /** Download rate per node, bytes per second */
  down: Float64Array
  chunks: number
  chunkSize: number
  /** Artifact size in bytes (the last chunk may be shorter) */
  size: number
  /** Requests a client may queue at a server before further ones are rejected */
  maxQueued: number
  /** Rounds of offering unused capacity again after the even split */
  reallocatePasses: number
}

/** Bytes below which a share counts as used up */
const EPS = 1e-3

export class Network {
  readonly topology: Topology
  readonly up: Float64Array
  readonly down: Float64Array
  /** Bytes each node has uploaded (whole and partial blocks) */
  readonly bytesUp: Float64Array
  /** Bytes each node has downloaded (whole and partial blocks) */
  readonly bytesDown: Float64Array
  /** Bytes moved over all connections so far */
  totalBytes = 0
  /** Highest fraction of a node's upload cap used in any one step (must stay <= 1) */
  maxUpUtilization = 0
  /** Highest fraction of a node's download cap used in any one step (must stay <= 1) */
  maxDownUtilization = 0

  private readonly src: Int32Array
  private readonly dst: Int32Array
  private readonly chunkSize: number
  private readonly lastChunk: number
  private readonly lastSize: number
  private readonly q: number
  private readonly passes: number
  // per connection: request queue (a ring of `q` slots), progress of its head block
  private readonly qBuf: Int32Array
  private readonly qHead: Int32Array
  private readonly qLen: Int32Array
  private readonly started: Uint8Array
  private readonly remaining: Float64Array
  private readonly pending: Float64Array
  private readonly isActive: Uint8Array
  // busy connections, and per-step scratch indexed by position in that list
  private active: Int32Array
  private activeCount = 0
  private alloc: Float64Array
  private extra: Float64Array
  /** Bytes the connection could have moved this step had it had more queued (for timing) */
  private speed: Float64Array
  // per-node per-step scratch
  private readonly upCnt: Int32Array
  private readonly downCnt: Int32Array
  private readonly upUsed: Float64Array
  private readonly downUsed: Float64Array
  private readonly stepUp: Float64Array
  private readonly stepDown: Float64Array

  constructor (init: NetworkInit) {
    const t = init.topology
    const conns = t.src.length
    const n = t.count
    this.topology = t
    this.up = init.up
    this.down = init.down
    this.src = t.src
    this.dst = t.dst
    this.chunkSize = init.chunkSize
    this.lastChunk = init.chunks - 1
    this.lastSize = init.size - (init.chunks - 1) * init.chunkSize
    this.q = Math.max(1, init.maxQueued)
    this.passes = init.reallocatePasses
    this.qBuf = new Int32Array(conns * this.q)
    this.qHead = new Int32Array(conns)
    this.qLen = new Int32Array(conns)
    this.started = new Uint8Array(conns)
    this.remaining = new Float64Array(conns)
    this.pending = new Float64Array(conns)
    this.isActive = new Uint8Array(conns)
    const initial = Math.min(conns, 1024)
    this.active = new Int32Array(initial)
    this.alloc = new Float64Array(initial)
    this.extra = new Float64Array(initial)
    this.speed = new Float64Array(initial)
    this.bytesUp = new Float64Array(n)
    this.bytesDown = new Float64Array(n)
    this.upCnt = new Int32Array(n)
    this.downCnt = new Int32Array(n)
    this.upUsed = new Float64Array(n)
    this.downUsed = new Float64Array(n)
    this.stepUp = new Float64Array(n)
    this.stepDown = new Float64Array(n)
  }

  /** Bytes in chunk `index` */
  sizeOf (index: number): number {
    return index === this.lastChunk ? this.lastSize : this.chunkSize
  }

  /** Connections carrying or about to carry a block */
  get busy (): number {
    return this.activeCount
  }

  /** Requests queued on `conn`, the block being sent included */
  queued (conn: number): number {
    return this.qLen[conn]
  }

  /** A request for chunk `index` reached the server of `conn`; false when its queue is full */
  enqueue (conn: number, index: number): boolean {
    const len = this.qLen[conn]
    if (len >= this.q) return false
    this.qBuf[conn * this.q + (this.qHead[conn] + len) % this.q] = index
    this.qLen[conn] = len + 1
    this.pending[conn] += this.sizeOf(index)
    if (this.isActive[conn] === 0) this.activate(conn)
    return true
  }

  /** The client cancelled chunk `index`: drop it unless it is already being sent */
  cancel (conn: number, index: number): void {
    const len = this.qLen[conn]
    const base = conn * this.q
    const head = this.qHead[conn]
    for (let k = this.started[conn]; k < len; k++) {
      if (this.qBuf[base + (head + k) % this.q] !== index) continue
      for (let j = k; j < len - 1; j++) {
        this.qBuf[base + (head + j) % this.q] = this.qBuf[base + (head + j + 1) % this.q]
      }
      this.qLen[conn] = len - 1
      this.pending[conn] -= this.sizeOf(index)
      if (len - 1 === 0) this.pending[conn] = 0
      return
    }
  }

  /** Move the bytes of one step, `[t0, t0 + dtMs]` */
  step (t0: number, dtMs: number, sink: NetworkSink): void {
    const n = this.activeCount
    if (n === 0) return
    const { src, dst, up, down, upCnt, downCnt, upUsed, downUsed, pending, active, alloc, extra, speed } = this
    const dtS = dtMs / 1000

    // 1. Even split of both caps; a connection gets the smaller share.
    for (let p = 0; p < n; p++) {
      const c = active[p]
      upCnt[src[c]]++
      downCnt[dst[c]]++
    }
    for (let p = 0; p < n; p++) {
      const c = active[p]
      const s = src[c]
      const d = dst[c]
      let a = up[s] * dtS / upCnt[s]
      const b = down[d] * dtS / downCnt[d]
      if (b < a) a = b
      speed[p] = a
      if (pending[c] < a) a = pending[c]
      alloc[p] = a
      upUsed[s] += a
      downUsed[d] += a
    }

    // 2. Offer what is left at both ends to connections that could take more.
    for (let pass = 0; pass < this.passes; pass++) {
      for (let p = 0; p < n; p++) {
        const c = active[p]
        upCnt[src[c]] = 0
        downCnt[dst[c]] = 0
      }
      let hungry = 0
      for (let p = 0; p < n; p++) {
        const c = active[p]
        const s = src[c]
        const d = dst[c]
        if (alloc[p] < pending[c] - EPS && up[s] * dtS - upUsed[s] > EPS && down[d] * dtS - downUsed[d] > EPS) {
          upCnt[s]++
          downCnt[d]++
          hungry++
        }
      }
      if (hungry === 0) break
      for (let p = 0; p < n; p++) {
        const c = active[p]
        const s = src[c]
        const d = dst[c]
        const upLeft = up[s] * dtS - upUsed[s]
        const downLeft = down[d] * dtS - downUsed[d]
        if (alloc[p] < pending[c] - EPS && upLeft > EPS && downLeft > EPS) {
          let a = upLeft / upCnt[s]
          const b = downLeft / downCnt[d]
          if (b < a) a = b
          const want = pending[c] - alloc[p]
          extra[p] = want < a ? want : a
        } else {
          extra[p] = 0
        }
      }
      for (let p = 0; p < n; p++) {
        const a = extra[p]
        if (a === 0) continue
        const c = active[p]
        alloc[p] += a
        upUsed[src[c]] += a
        downUsed[dst[c]] += a
      }
    }

    // 3. Send: each connection works through its queue with its allocation.
    const { stepUp, stepDown } = this
    for (let p = 0; p < n; p++) {
      const c = active[p]
      const moved = this.send(c, alloc[p], alloc[p] > speed[p] ? alloc[p] : speed[p], t0, dtMs, sink)
      stepUp[src[c]] += moved
      stepDown[dst[c]] += moved
      this.totalBytes += moved
    }

    // 4. Check the caps held, reset the scratch, drop connections that ran dry.
    let kept = 0
    for (let p = 0; p < n; p++) {
      const c = active[p]
      const s = src[c]
      const d = dst[c]
      if (stepUp[s] > 0) {
        const u = stepUp[s] / (up[s] * dtS)
        if (u > this.maxUpUtilization) this.maxUpUtilization = u
        this.bytesUp[s] += stepUp[s]
        stepUp[s] = 0
      }
      if (stepDown[d] > 0) {
        const u = stepDown[d] / (down[d] * dtS)
        if (u > this.maxDownUtilization) this.maxDownUtilization = u
        this.bytesDown[d] += stepDown[d]
        stepDown[d] = 0
      }
      upCnt[s] = 0
      downCnt[d] = 0
      upUsed[s] = 0
      downUsed[d] = 0
      if (this.qLen[c] > 0) active[kept++] = c
      else this.isActive[c] = 0
    }
    this.activeCount = kept
  }

  /**
   * Send up to `budget` bytes on `conn` during `[t0, t0 + dtMs]` at `speed` bytes per step
   * (more than the budget when the queue ran short of it); returns bytes sent.
   */
  private send (conn: number, budget: number, speed: number, t0: number, dtMs: number, sink: NetworkSink): number {
    const { qBuf, q } = this
    const base = conn * q
    let used = 0
    while (this.qLen[conn] > 0) {
      const index = qBuf[base + this.qHead[conn]]
      if (this.started[conn] === 0) {
        if (!sink.held(this.src[conn], index)) {
          this.pop(conn, this.sizeOf(index))
          sink.unheld(conn, index, speed > 0 ? t0 + dtMs * used / speed : t0)
          continue
        }
        this.started[conn] = 1
        this.remaining[conn] = this.sizeOf(index)
      }
      const avail = budget - used
      if (avail <= EPS) break
      const rem = this.remaining[conn]
      if (rem <= avail + EPS) {
        used += rem
        this.started[conn] = 0
        this.pop(conn, rem)
        sink.sent(conn, index, t0 + dtMs * Math.min(1, used / speed))
      } else {
        this.remaining[conn] = rem - avail
        this.pending[conn] -= avail
        used = budget
        break
      }
    }
    return used
  }

  private pop (conn: number, bytes: number): void {
    this.qHead[conn] = (this.qHead[conn] + 1) % this.q
    const len = --this.qLen[conn]
    this.pending[conn] = len === 0 ? 0 : this.pending[conn] - bytes
  }

  private activate (conn: number): void {
    if (this.activeCount === this.active.length) {
      const n = this.active.length * 2
      const active = new Int32Array(n); active.set(this.active); this.active = active
      this.alloc = new Float64Array(n)
      this.extra = new Float64Array(n)
      this.speed = new Float64Array(n)
    }
    this.active[this.activeCount++] = conn
    this.isActive[conn] = 1
  }
}
