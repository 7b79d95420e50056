/**
 * Runs Shoal's publish-side hashing — `chunkFile` from @shoal/content with the default chunk
 * size, exactly the call `publisher push` makes before announcing — once on a file, in a fresh
 * process like the real publisher (cold JIT, nothing else on the heap).
 *
 *   node chunk-child.mjs <file> [--prototype] [--cpu-profile <out.cpuprofile>]
 *
 * `--prototype` instead runs a candidate faster chunker (below) that must produce the very same
 * artifact id; the benchmark runs it only to put a number on a suggested fix.
 * `--cpu-profile` records a V8 CPU profile (what `node --cpu-prof` writes) of just the chunking
 * call, through node:inspector, so start-up and module loading do not blur a short run.
 *
 * Prints JSON lines on stdout: {"progress": fraction} every ~2 %, then one
 * {"ms", "bytes", "chunks", "chunkSize", "id"}. The clock covers only the chunking, not Node's
 * start-up or the module import, which the publisher pays once per process, not per byte.
 */
import { open, stat, writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { parseArgs } from 'node:util'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const REPO_ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))))
// Imported by path: the repo root does not depend on @shoal/content; its dist is what the apps run.
const content = await import(pathToFileURL(join(REPO_ROOT, 'packages/content/dist/index.js')).href)

let file, prototype, profileOut
try {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { prototype: { type: 'boolean' }, 'cpu-profile': { type: 'string' } } })
  if (positionals.length !== 1) throw new Error('one file expected')
  ;[file] = positionals
  prototype = values.prototype === true
  profileOut = values['cpu-profile']
} catch (err) {
  process.stderr.write(`chunk-child: ${err.message}\nusage: node chunk-child.mjs <file> [--prototype] [--cpu-profile <out>]\n`)
  process.exit(2)
}

let lastReported = -1
const onProgress = (done, total) => {
  const step = total > 0 ? Math.floor(done / total * 50) : 50
  if (step === lastReported) return
  lastReported = step
  process.stdout.write(`${JSON.stringify({ progress: total > 0 ? done / total : 1 })}\n`)
}

let session
if (profileOut != null) {
  session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: 500 }) // µs, 2x V8's default rate
  await session.post('Profiler.start')
}
const started = performance.now()
const { id, manifest } = prototype
  ? await prototypeChunkFile(file, { onProgress })
  : await content.chunkFile(file, { onProgress })
const ms = performance.now() - started
if (session != null) {
  const { profile } = await session.post('Profiler.stop')
  await writeFile(profileOut, JSON.stringify(profile))
  session.disconnect()
}
process.stdout.write(`${JSON.stringify({ ms, bytes: manifest.size, chunks: manifest.chunks.length, chunkSize: manifest.chunkSize, id: id.toString() })}\n`)

/**
 * Candidate replacement for chunkFile's read loop: FileHandle.read into two reused buffers of
 * READ_CHUNKS whole chunks, with the next read already in flight (on libuv's thread pool) while
 * the main thread hashes the current one. Reads are chunk-aligned, so no chunk straddles two
 * reads and nothing is copied; buffers are reused, so nothing is left for the GC.
 */
async function prototypeChunkFile (path, { onProgress }) {
  const READ_CHUNKS = 8
  const chunkSize = content.DEFAULT_CHUNK_SIZE
  const before = await stat(path)
  const size = before.size
  const fh = await open(path, 'r')
  const chunks = []
  try {
    const bufs = [Buffer.allocUnsafe(chunkSize * READ_CHUNKS), Buffer.allocUnsafe(chunkSize * READ_CHUNKS)]
    const readAt = (buf, position) => {
      const length = Math.min(buf.byteLength, size - position)
      return { length, done: fh.read(buf, 0, length, position) }
    }
    let position = 0
    let which = 0
    let pending = size > 0 ? readAt(bufs[0], 0) : undefined
    while (pending != null) {
      const { bytesRead } = await pending.done
      // A short read would misalign chunks; regular files only do that when they shrink.
      if (bytesRead !== pending.length) throw new Error(`${path}: short read (file changed?)`)
      const buf = bufs[which]
      const next = position + bytesRead
      which ^= 1
      pending = next < size ? readAt(bufs[which], next) : undefined
      for (let off = 0; off < bytesRead; off += chunkSize) {
        chunks.push(content.chunkCid(buf.subarray(off, Math.min(off + chunkSize, bytesRead))))
      }
      position = next
      onProgress(position, size)
    }
  } finally {
    await fh.close()
  }
  const manifest = { version: 1, name: basename(path), size, chunkSize, chunks, createdAt: Math.floor(before.mtimeMs) }
  const { id } = content.encodeManifest(manifest)
  return { id, manifest }
}
