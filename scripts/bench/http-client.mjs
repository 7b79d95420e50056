#!/usr/bin/env node
/**
 * The naive baseline's clients: `--count` concurrent downloads of one URL in this process (one
 * per process, in its node's namespace, in netns mode; all N in one process in app mode, each
 * capped to --rate bytes/s by its own token bucket). The body is hashed and thrown away: the
 * baseline measures the network, not the disk.
 *
 *   node http-client.mjs --url <url> [--count 1] [--first 1] [--rate <bytes/s>]
 *
 * Prints `{"type":"ready"}` and waits for a line on stdin, so that every client starts at the
 * same moment; then JSON lines: `progress` (bytes so far, every second), one `done` per download
 * (epoch ms start/end, bytes, sha256) or `error`. Exits 0 once every download is done.
 */
import { get } from 'node:http'
import { createHash } from 'node:crypto'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    count: { type: 'string', default: '1' },
    first: { type: 'string', default: '1' },
    rate: { type: 'string', default: '0' }
  }
})
const count = Number(values.count)
const first = Number(values.first)
const rate = Number(values.rate)
const say = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`)
const received = new Array(count).fill(0)

function download (i) {
  return new Promise((resolve, reject) => {
    const startedAt = Date.now()
    const hash = createHash('sha256')
    // per-download bucket: at most `rate` bytes/s after a burst of 20 ms worth
    const burst = Math.max(16 * 1024, rate * 0.02)
    let tokens = burst
    let last = performance.now()
    let held = false // paused by the bucket: the time until the late resume still counts in full
    const req = get(values.url, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`HTTP ${res.statusCode}`))
        res.resume()
        return
      }
      res.on('data', (chunk) => {
        hash.update(chunk)
        received[i] += chunk.length
        if (rate <= 0) return
        const now = performance.now()
        const refill = (now - last) / 1000 * rate
        tokens = (held ? tokens + refill : Math.min(burst, tokens + refill)) - chunk.length
        last = now
        held = tokens < 0
        if (held) { // stop reading; TCP flow control holds the sender back meanwhile
          res.pause()
          setTimeout(() => res.resume(), Math.ceil(-tokens / rate * 1000))
        }
      })
      res.on('end', () => {
        resolve({ type: 'done', client: first + i, startedAt, completedAt: Date.now(), bytes: received[i], sha256: hash.digest('hex') })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
  })
}

say({ type: 'ready' })
const rl = createInterface({ input: process.stdin })
await new Promise((resolve) => rl.once('line', resolve))
rl.close()
const ticker = setInterval(() => say({ type: 'progress', first, received }), 1000)
let failed = false
await Promise.all(Array.from({ length: count }, (_, i) => download(i).then(say, (err) => {
  failed = true
  say({ type: 'error', client: first + i, message: err.message })
})))
clearInterval(ticker)
say({ type: 'progress', first, received })
process.exit(failed ? 1 : 0)
