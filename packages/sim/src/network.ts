/**
 * The link model. Every node has an upload and a download rate. Each directed connection
 * (server → client) carries one block at a time from a FIFO queue of the client's requests, like
 * a real session writing one block frame after another.
 *
 * Upload slots: a node sends on at most `slots` of its connections at once. A connection holds a
 * slot while it sends one block; when the block's last byte leaves it gives the slot up and, if
 * it has more queued, rejoins the back of the node's FIFO of connections waiting for a slot, so a
 * busy node serves its clients round-robin, one block per turn. A connection whose queue goes
 * from empty to non-empty joins the back of that FIFO. Waiting connections move no bytes. With
 * unlimited slots every busy connection sends at once.
 *
 * Time advances in steps of `dt`. In each step a node's upload capacity `u·dt` is split evenly
 * among its connections holding a slot and its download capacity `d·dt` among its incoming ones
 * that do; a connection gets the smaller of its two shares (and no more than it can use). Then,
 * `reallocatePasses` times, capacity left unused at both ends is offered again to connections
 * that could use more, again evenly. No node ever exceeds either cap within any step, so the
 * model can only be slower than a real fluid network, never faster. Within a step a connection
 * sends at a constant rate, so a block that ends mid-step ends at an exact fractional time, and
 * the slot passes at once, with what is left of its share, to the next connection in line (no
 * more than that connection's client can still take in the step).
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
  /**
   * Blocks each node sends at once (its upload slots): one number for every node, or one per
   * node. 0 or Infinity: no limit, every busy connection sends.
   *
   * @default Infinity
   */
  uploadSlots?: number | ArrayLike<number>
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
  /** Bytes each connection has carried so far (a block shows here while it is sent) */
  readonly carried: Float64Array
  /** Highest fraction of a node's upload cap used in any one step (must stay <= 1) */
  maxUpUtilization = 0
  /** Highest fraction of a node's download cap used in any one step (must stay <= 1) */
  maxDownUtilization = 0
  /** Highest fraction of a node's upload slots held at once (must stay <= 1; 0 with no limit) */
  maxSlotUtilization = 0

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
  /** The head block is being sent (the connection holds an upload slot) */
  private readonly started: Uint8Array
  private readonly remaining: Float64Array
  private readonly pending: Float64Array
  private readonly isActive: Uint8Array
  // upload slots: per node the slots it has and uses, and its FIFO of waiting connections
  private readonly slots: Float64Array
  private readonly slotsUsed: Int32Array
  private readonly waitHead: Int32Array
  private readonly waitTail: Int32Array
  private readonly waitNext: Int32Array
  private readonly waiting: Uint8Array
  private waitCount = 0
  /** Nodes with connections waiting that may have a free slot (granted at the next step) */
  private grantNodes: number[] = []
  private readonly grantMarked: Uint8Array
  // connections holding a slot, and per-step scratch indexed by position in that list
  private active: Int32Array
  private activeCount = 0
  private alloc: Float64Array
  private extra: Float64Array
  /** Bytes the connection could have moved this step had it had more queued (for timing) */
  private speed: Float64Array
  /** Connections handed a slot in the middle of this step */
  private handed: number[] = []
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
    this.carried = new Float64Array(conns)
    this.pending = new Float64Array(conns)
    this.isActive = new Uint8Array(conns)
    this.slots = new Float64Array(n)
    const slots = init.uploadSlots ?? Infinity
    for (let v = 0; v < n; v++) {
      const k = typeof slots === 'number' ? slots : slots[v]
      if (!(k >= 0) || (Number.isFinite(k) && !Number.isSafeInteger(k))) throw new RangeError(`upload slots must be a non-negative integer or Infinity, got ${k}`)
      this.slots[v] = k === 0 ? Infinity : k
    }
    this.slotsUsed = new Int32Array(n)
    this.waitHead = new Int32Array(n).fill(-1)
    this.waitTail = new Int32Array(n).fill(-1)
    this.waitNext = new Int32Array(conns).fill(-1)
    this.waiting = new Uint8Array(conns)
    this.grantMarked = new Uint8Array(n)
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

  /** Connections sending a block or waiting for a slot to send one */
  get busy (): number {
    return this.activeCount + this.waitCount
  }

  /** Requests queued on `conn`, the block being sent included */
  queued (conn: number): number {
    return this.qLen[conn]
  }

  /** Whether `conn` holds one of its server's upload slots */
  sending (conn: number): boolean {
    return this.started[conn] === 1
  }

  /** Upload slots node `node` holds now */
  slotsInUse (node: number): number {
    return this.slotsUsed[node]
  }

  /** A request for chunk `index` reached the server of `conn`; false when its queue is full */
  enqueue (conn: number, index: number): boolean {
    const len = this.qLen[conn]
    if (len >= this.q) return false
    this.qBuf[conn * this.q + (this.qHead[conn] + len) % this.q] = index
    this.qLen[conn] = len + 1
    this.pending[conn] += this.sizeOf(index)
    if (this.started[conn] === 0 && this.waiting[conn] === 0) {
      this.joinWait(conn)
      const s = this.src[conn]
      if (this.grantMarked[s] === 0) {
        this.grantMarked[s] = 1
        this.grantNodes.push(s)
      }
    }
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
    // 0. Free slots go to the connections that queued requests since the last step.
    if (this.grantNodes.length > 0) {
      const nodes = this.grantNodes
      this.grantNodes = []
      for (const v of nodes) {
        this.grantMarked[v] = 0
        while (this.slotsUsed[v] < this.slots[v]) {
          const c = this.nextInLine(v, t0, sink)
          if (c < 0) break
          this.slotsUsed[v]++
          if (this.isActive[c] === 0) this.activate(c)
        }
        const used = this.slotsUsed[v] / this.slots[v]
        if (used > this.maxSlotUtilization) this.maxSlotUtilization = used
      }
    }
    const n = this.activeCount
    if (n === 0) return
    const { src, dst, up, down, upCnt, downCnt, upUsed, downUsed, pending, active, alloc, extra, speed, waitHead } = this
    const dtS = dtMs / 1000

    // 1. Even split of both caps; a connection gets the smaller share. One whose node has
    // others waiting can use any amount: what its block leaves over goes to the next in line.
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
      if (waitHead[s] < 0 && pending[c] < a) a = pending[c]
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
        if ((waitHead[s] >= 0 || alloc[p] < pending[c] - EPS) && up[s] * dtS - upUsed[s] > EPS && down[d] * dtS - downUsed[d] > EPS) {
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
        if ((waitHead[s] >= 0 || alloc[p] < pending[c] - EPS) && upLeft > EPS && downLeft > EPS) {
          let a = upLeft / upCnt[s]
          const b = downLeft / downCnt[d]
          if (b < a) a = b
          const want = waitHead[s] >= 0 ? Infinity : pending[c] - alloc[p]
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

    // 3. Send: each slot works through its block, and the blocks of those next in line, with
    // its allocation.
    for (let p = 0; p < n; p++) {
      this.send(active[p], alloc[p], alloc[p] > speed[p] ? alloc[p] : speed[p], t0, dtMs, dtS, sink)
    }

    // 4. Check the caps held, reset the scratch, keep the connections that hold a slot.
    const { stepUp, stepDown, handed } = this
    let kept = 0
    for (let p = 0, m = n + handed.length; p < m; p++) {
      const c = p < n ? active[p] : handed[p - n]
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
    }
    for (let p = 0; p < n; p++) {
      const c = active[p]
      if (this.started[c] === 1) active[kept++] = c
      else this.isActive[c] = 0
    }
    this.activeCount = kept
    for (const c of handed) {
      if (this.started[c] === 1) this.activate(c)
      else this.isActive[c] = 0
    }
    handed.length = 0
  }

  /**
   * Send up to `budget` bytes of `conn`'s slot during `[t0, t0 + dtMs]` at `speed` bytes per step
   * (more than the budget when the slot ran short of work). When a block ends, the slot passes to
   * the next connection in line with what is left of the budget, as far as that connection's
   * client has download capacity left in this step.
   */
  private send (conn: number, budget: number, speed: number, t0: number, dtMs: number, dtS: number, sink: NetworkSink): void {
    const { qBuf, q, src, dst, stepUp, stepDown, downUsed } = this
    const s = src[conn]
    const firstDst = dst[conn]
    let c = conn
    let used = 0
    // Download capacity left at the current connection's client (the first one's is in its budget)
    let room = Infinity
    for (;;) {
      const avail = Math.min(budget - used, room)
      if (avail <= EPS) break
      const index = qBuf[c * q + this.qHead[c]]
      const rem = this.remaining[c]
      const d = dst[c]
      const bytes = rem <= avail + EPS ? rem : avail
      used += bytes
      room -= bytes
      if (d !== firstDst) downUsed[d] += bytes
      stepUp[s] += bytes
      stepDown[d] += bytes
      this.totalBytes += bytes
      this.carried[c] += bytes
      if (bytes < rem) {
        this.remaining[c] = rem - bytes
        this.pending[c] -= bytes
        break
      }
      // The block's last byte left: the slot goes to the next in line, possibly `c` again.
      const at = t0 + dtMs * Math.min(1, used / speed)
      this.started[c] = 0
      this.pop(c, rem)
      sink.sent(c, index, at)
      if (this.qLen[c] > 0 && this.waiting[c] === 0) this.joinWait(c)
      const next = this.nextInLine(s, at, sink)
      if (next < 0) {
        this.slotsUsed[s]--
        break
      }
      if (this.isActive[next] === 0) {
        this.isActive[next] = 1
        this.handed.push(next)
      }
      c = next
      room = dst[c] === firstDst ? Infinity : this.down[dst[c]] * dtS - downUsed[dst[c]]
    }
  }

  /**
   * Take connections off the front of node `v`'s FIFO until one has a held chunk at the head of
   * its queue, which it starts sending (it holds a slot from now); -1 when none is left. Requests
   * for chunks not held are rejected on the way, as the real session does when it reads them.
   */
  private nextInLine (v: number, at: number, sink: NetworkSink): number {
    for (;;) {
      const c = this.waitHead[v]
      if (c < 0) return -1
      this.waitHead[v] = this.waitNext[c]
      if (this.waitHead[v] < 0) this.waitTail[v] = -1
      this.waitNext[c] = -1
      this.waiting[c] = 0
      this.waitCount--
      while (this.qLen[c] > 0) {
        const index = this.qBuf[c * this.q + this.qHead[c]]
        if (sink.held(v, index)) {
          this.started[c] = 1
          this.remaining[c] = this.sizeOf(index)
          return c
        }
        this.pop(c, this.sizeOf(index))
        sink.unheld(c, index, at)
      }
    }
  }

  /** Put `conn` at the back of its server's FIFO of connections waiting for a slot */
  private joinWait (conn: number): void {
    const v = this.src[conn]
    this.waiting[conn] = 1
    this.waitCount++
    if (this.waitTail[v] < 0) this.waitHead[v] = conn
    else this.waitNext[this.waitTail[v]] = conn
    this.waitTail[v] = conn
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
