/**
 * Messages in flight between nodes, kept in a calendar queue: a ring of buckets, one per time
 * step, each a linked list through a pooled struct-of-arrays. Pushing and draining allocate
 * nothing once the pool is warm, which matters at tens of millions of `have` messages.
 *
 * A step's messages are delivered grouped by receiver (a counting sort), each receiver's in
 * order of arrival time. Every node then sees its events in time order, and one node's
 * scheduler state is worked on while it is in the CPU cache rather than once per message in a
 * random walk over a thousand schedulers.
 */

/** What a message is. Every message travels on a directed connection, sender → receiver. */
export const Msg = {
  /** Opening handshake carrying the sender's bitfield (an empty one from a super-seeding publisher) */
  Handshake: 0,
  /** "I now hold chunk `index`" */
  Have: 1,
  /** "Send me chunk `index`" */
  Request: 2,
  /** "Never mind chunk `index`" (if it has not started) */
  Cancel: 3,
  /** "I will not send chunk `index`" */
  Reject: 4,
  /** The last byte of chunk `index` has arrived */
  Block: 5
} as const

export type Msg = typeof Msg[keyof typeof Msg]

export class MessageQueue {
  /** Step length, ms */
  readonly dtMs: number
  private readonly ring: number
  private readonly head: Int32Array
  private readonly tail: Int32Array
  private kind: Uint8Array
  private conn: Int32Array
  private index: Int32Array
  private time: Float64Array
  private next: Int32Array
  /** Receiver of each connection, and the number of receivers */
  private readonly receiver: Int32Array
  private readonly counts: Int32Array
  private batch: Int32Array
  private sorted: Int32Array
  private free = -1
  private used = 0
  /** Messages currently queued */
  pending = 0
  /** Messages delivered so far */
  delivered = 0

  /**
   * @param dtMs - step length
   * @param horizonMs - the longest delay a message may be pushed ahead of the current step
   * @param receiver - the receiving node of each connection
   * @param receivers - number of nodes
   */
  constructor (dtMs: number, horizonMs: number, receiver: Int32Array, receivers: number, capacity = 1 << 16) {
    this.dtMs = dtMs
    this.receiver = receiver
    this.counts = new Int32Array(receivers + 1)
    this.batch = new Int32Array(1024)
    this.sorted = new Int32Array(1024)
    this.ring = Math.ceil(horizonMs / dtMs) + 3
    this.head = new Int32Array(this.ring).fill(-1)
    this.tail = new Int32Array(this.ring).fill(-1)
    this.kind = new Uint8Array(capacity)
    this.conn = new Int32Array(capacity)
    this.index = new Int32Array(capacity)
    this.time = new Float64Array(capacity)
    this.next = new Int32Array(capacity)
  }

  /**
   * Queue a message arriving at `at` ms. `step` is the step being processed now: a message due
   * at or before it lands in the current bucket and is drained in this same step.
   */
  push (kind: Msg, conn: number, index: number, at: number, step: number): void {
    let slot = this.free
    if (slot >= 0) {
      this.free = this.next[slot]
    } else {
      if (this.used === this.kind.length) this.grow()
      slot = this.used++
    }
    this.kind[slot] = kind
    this.conn[slot] = conn
    this.index[slot] = index
    this.time[slot] = at
    this.next[slot] = -1
    let due = Math.ceil(at / this.dtMs - 1e-9)
    if (due < step) due = step
    if (due - step >= this.ring) throw new RangeError(`message ${at - step * this.dtMs} ms ahead is beyond the queue horizon`)
    const b = due % this.ring
    if (this.tail[b] < 0) this.head[b] = slot
    else this.next[this.tail[b]] = slot
    this.tail[b] = slot
    this.pending++
  }

  /**
   * Deliver every message due by step `step`: grouped by receiver, each receiver's in order of
   * arrival time (queueing order among equal times), then those `deliver` itself queued for
   * this step, the same way.
   */
  drain (step: number, deliver: (kind: Msg, conn: number, index: number, at: number) => void): void {
    const b = step % this.ring
    for (;;) {
      // Detach the bucket: whatever `deliver` queues for this step forms the next round.
      let n = 0
      for (let slot = this.head[b]; slot >= 0; slot = this.next[slot]) {
        if (n === this.batch.length) this.batch = grow32(this.batch)
        this.batch[n++] = slot
      }
      this.head[b] = this.tail[b] = -1
      if (n === 0) return
      if (this.sorted.length < n) this.sorted = new Int32Array(this.batch.length)
      const { batch, sorted, counts, receiver, conn, time } = this
      // Counting sort by receiver (stable).
      for (let k = 0; k < n; k++) counts[receiver[conn[batch[k]]] + 1]++
      for (let r = 1; r < counts.length; r++) counts[r] += counts[r - 1]
      for (let k = 0; k < n; k++) {
        const slot = batch[k]
        sorted[counts[receiver[conn[slot]]]++] = slot
      }
      counts.fill(0)
      // Insertion sort by time within each receiver's run (runs are short).
      for (let k = 1; k < n; k++) {
        const slot = sorted[k]
        const r = receiver[conn[slot]]
        const t = time[slot]
        let j = k
        while (j > 0 && receiver[conn[sorted[j - 1]]] === r && time[sorted[j - 1]] > t) {
          sorted[j] = sorted[j - 1]
          j--
        }
        sorted[j] = slot
      }
      for (let k = 0; k < n; k++) {
        const slot = sorted[k]
        const kind = this.kind[slot] as Msg
        const c = conn[slot]
        const index = this.index[slot]
        const at = time[slot]
        this.next[slot] = this.free
        this.free = slot
        this.pending--
        this.delivered++
        deliver(kind, c, index, at)
      }
    }
  }

  private grow (): void {
    const n = this.kind.length * 2
    const kind = new Uint8Array(n); kind.set(this.kind); this.kind = kind
    const conn = new Int32Array(n); conn.set(this.conn); this.conn = conn
    const index = new Int32Array(n); index.set(this.index); this.index = index
    const time = new Float64Array(n); time.set(this.time); this.time = time
    const next = new Int32Array(n); next.set(this.next); this.next = next
  }
}

function grow32 (a: Int32Array): Int32Array {
  const b = new Int32Array(a.length * 2)
  b.set(a)
  return b
}
