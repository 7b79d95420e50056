/**
 * A token bucket for in-process rate caps (app-mode HTTP baseline). `take(n)` resolves once n
 * bytes may pass; waiters are served first come, first served, so responses that share one
 * bucket take turns chunk by chunk and split the cap evenly.
 */
export class TokenBucket {
  /**
   * @param {number} rate  bytes per second
   * @param {number} burst the most that may pass at once after an idle spell
   */
  constructor (rate, burst = Math.max(16 * 1024, rate * 0.02)) {
    this.rate = rate
    this.burst = burst
    this.tokens = burst
    this.last = performance.now()
    this.queue = []
    this.backlogged = false
    this.timer = undefined
  }

  take (n) {
    return new Promise((resolve) => {
      this.queue.push({ n, resolve })
      this.pump()
    })
  }

  pump () {
    const now = performance.now()
    // While someone waits the link is busy: all elapsed time becomes tokens, so a late timer (a
    // busy event loop) does not lower the rate. Only an idle bucket is capped at the burst.
    const refill = (now - this.last) / 1000 * this.rate
    this.tokens = this.backlogged ? this.tokens + refill : Math.min(this.burst, this.tokens + refill)
    this.last = now
    while (this.queue.length > 0) {
      const head = this.queue[0]
      // a request bigger than the burst goes through once the bucket is full, leaving debt
      if (this.tokens < Math.min(head.n, this.burst)) break
      this.tokens -= head.n
      this.queue.shift()
      head.resolve()
    }
    this.backlogged = this.queue.length > 0
    if (this.queue.length > 0 && this.timer == null) {
      const need = Math.min(this.queue[0].n, this.burst) - this.tokens
      this.timer = setTimeout(() => {
        this.timer = undefined
        this.pump()
      }, Math.max(1, Math.ceil(need / this.rate * 1000)))
    }
  }
}
