#!/usr/bin/env node
/**
 * The naive baseline's server: one node:http server streaming one file to every client, the way
 * a plain artifact server would. Run as its own process (in the publisher's namespace in netns
 * mode, where its link's tbf is the cap; with --rate in app mode, where one token bucket shared by
 * all responses caps the server's total output).
 *
 *   node http-server.mjs --file <path> --host <addr> [--port 0] [--rate <bytes/s>]
 *
 * Prints `listening <host> <port>` on stdout once ready; stops on SIGTERM/SIGINT.
 */
import { createServer } from 'node:http'
import { open, stat } from 'node:fs/promises'
import { once } from 'node:events'
import { parseArgs } from 'node:util'
import { TokenBucket } from './token-bucket.mjs'

const PIECE = 16 * 1024 // small pieces so responses sharing the bucket interleave finely

const { values } = parseArgs({
  options: {
    file: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    rate: { type: 'string', default: '0' }
  }
})
const rate = Number(values.rate)
const bucket = rate > 0 ? new TokenBucket(rate) : undefined
const { size } = await stat(values.file)
let sent = 0

async function serve (res) {
  const fh = await open(values.file, 'r')
  try {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size })
    for (let pos = 0; pos < size && !res.destroyed;) {
      const buf = Buffer.allocUnsafe(Math.min(PIECE, size - pos))
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos)
      if (bytesRead === 0) throw new Error('file shrank while serving')
      if (bucket != null) await bucket.take(bytesRead)
      pos += bytesRead
      sent += bytesRead
      if (!res.write(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead))) {
        await Promise.race([once(res, 'drain'), once(res, 'close')])
      }
    }
    res.end()
  } finally {
    await fh.close()
  }
}

const server = createServer((req, res) => {
  if (req.method !== 'GET') {
    res.writeHead(405).end()
    return
  }
  serve(res).catch((err) => {
    process.stderr.write(`http-server: ${err.message}\n`)
    res.destroy()
  })
})
server.listen(Number(values.port), values.host, () => {
  const { port } = server.address()
  process.stdout.write(`listening ${values.host} ${port}\n`)
})
const stop = () => {
  process.stderr.write(`http-server: sent ${sent} bytes of file data\n`)
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
