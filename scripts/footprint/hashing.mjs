/**
 * Hashing measurements: `sha256sum` (the requirement's yardstick), `openssl dgst -sha256` (a
 * reference for what this CPU can do: OpenSSL uses SHA-NI/AVX where present, coreutils may not)
 * and Shoal's `chunkFile` in a fresh process (chunk-child.mjs), plus a CPU-profile summary used
 * when chunkFile falls short.
 */
import { spawnSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BenchError, describeExit } from './procs.mjs'

const CHUNK_CHILD = join(dirname(fileURLToPath(import.meta.url)), 'chunk-child.mjs')

/** True if `command --version`-like probe runs (openssl is optional) */
export function haveCommand (command, args = ['version']) {
  const r = spawnSync(command, args, { stdio: 'ignore' })
  return r.error == null && r.status === 0
}

/**
 * Times one run of a digest command from spawn to exit (fork+exec is ~1 ms, noise at these
 * sizes) and checks that it printed `expectedHex`, so a fast wrong answer cannot count.
 */
export async function timeDigestCommand (procs, name, command, args, expectedHex) {
  const started = process.hrtime.bigint()
  const proc = procs.start(name, [command, ...args], { captureStdout: true })
  const exit = await Promise.race([proc.exited, procs.failure])
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  if (exit.code !== 0) throw new BenchError(`${name} failed (${describeExit(exit)})`)
  if (!proc.stdout.toLowerCase().includes(expectedHex)) {
    throw new BenchError(`${name} printed ${JSON.stringify(proc.stdout.trim().slice(0, 120))}, expected sha256 ${expectedHex}`)
  }
  return ms
}

/**
 * Runs chunkFile once in a fresh Node process and returns what chunk-child.mjs measured.
 * `prototype` runs the candidate chunker instead; `cpuProfile` names a .cpuprofile to write.
 */
export async function timeChunkFile (procs, file, { onProgress, execArgv = [], logPath, prototype = false, cpuProfile } = {}) {
  let result
  let stderr = ''
  const proc = procs.start('chunkFile', [
    process.execPath, ...execArgv, CHUNK_CHILD, file,
    ...(prototype ? ['--prototype'] : []),
    ...(cpuProfile != null ? ['--cpu-profile', cpuProfile] : [])
  ], {
    logPath,
    onStderrLine: (line) => { stderr += `${line}\n` },
    onStdoutLine: (line) => {
      let msg
      try { msg = JSON.parse(line) } catch { return }
      if (msg.progress != null) onProgress?.(msg.progress)
      else if (msg.ms != null) result = msg
    }
  })
  const exit = await Promise.race([proc.exited, procs.failure])
  if (exit.code !== 0 || result == null) {
    throw new BenchError(`chunkFile child failed (${describeExit(exit)})${stderr !== '' ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`, logPath)
  }
  return result
}

/**
 * Self time per function from a V8 .cpuprofile, heaviest first, plus coarse buckets that say
 * where a chunker's time goes: hashing (native digest calls), copying bytes, reading (fs and
 * stream machinery), GC, and idle (the main thread waiting for a read to come back).
 */
export async function summarizeCpuProfile (path, top = 12) {
  const profile = JSON.parse(await readFile(path, 'utf8'))
  const byId = new Map(profile.nodes.map(n => [n.id, n]))
  const parentOf = new Map()
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id)
  const selfUs = new Map()
  // timeDeltas[i] is the gap before samples[i]; attribute it to that sample's frame.
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, profile.timeDeltas[i] ?? 0))
  }
  const fns = new Map()
  const buckets = { hashing: 0, copying: 0, reading: 0, gc: 0, idle: 0, other: 0 }
  let total = 0
  for (const [id, us] of selfUs) {
    const cf = byId.get(id).callFrame
    const key = `${cf.functionName || '(anonymous)'} ${cf.url !== '' ? `${basename(cf.url)}:${cf.lineNumber + 1}` : '(native)'}`
    const entry = fns.get(key) ?? { fn: key, us: 0 }
    entry.us += us
    fns.set(key, entry)
    buckets[bucketOf(id, byId, parentOf)] += us
    total += us
  }
  const pct = (us) => total > 0 ? Math.round(us / total * 1000) / 10 : 0
  return {
    totalMs: Math.round(total / 1000),
    top: [...fns.values()].sort((a, b) => b.us - a.us).slice(0, top).map(e => ({ fn: e.fn, ms: Math.round(e.us / 1000), percent: pct(e.us) })),
    buckets: Object.fromEntries(Object.entries(buckets).map(([k, us]) => [k, { ms: Math.round(us / 1000), percent: pct(us) }]))
  }
}

/**
 * Which bucket a sample belongs to, from its own frame and its callers: native frames (url "")
 * such as the OpenSSL digest or TypedArray.prototype.set are known by who called them.
 */
function bucketOf (id, byId, parentOf) {
  const self = byId.get(id).callFrame
  if (self.functionName === '(idle)') return 'idle'
  if (self.functionName === '(garbage collector)') return 'gc'
  if (self.url === '' && /^(set|copy|slice)$/.test(self.functionName)) return 'copying'
  for (let at = id; at != null; at = parentOf.get(at)) {
    const { url, functionName } = byId.get(at).callFrame
    if (/internal\/crypto\/hash/.test(url)) return 'hashing'
    if (/^(set|copy)$/.test(functionName)) return 'copying'
    if (/internal\/(fs|streams)\/|^node:fs$|internal\/fs\/promises/.test(url)) return 'reading'
  }
  return 'other'
}

/** One-line diagnosis and suggestion from a profile summary (used only below target) */
export function diagnose (summary) {
  const b = summary.buckets
  const notes = []
  if (b.idle.percent >= 15) {
    notes.push(`the main thread is idle ${b.idle.percent}% of the time waiting for reads: packages/content/src/chunker.ts reads with highWaterMark ${'1 MiB'} and hashes on the same thread, so reading and hashing barely overlap — read bigger pieces (4–8 MiB, a multiple of chunkSize) or keep a second read in flight (fs.read into two alternating buffers)`)
  }
  if (b.gc.percent >= 8) {
    notes.push(`GC takes ${b.gc.percent}%: a fresh buffer per read/chunk — reuse read buffers (chunkStream only needs a fresh buffer for chunks that straddle reads, and none if reads are chunk-aligned)`)
  }
  if (b.copying.percent >= 8) {
    notes.push(`copying bytes takes ${b.copying.percent}%: reads are not aligned to chunk boundaries, so chunkStream copies straddling chunks — align the read size to chunkSize`)
  }
  if (b.reading.percent >= 15) {
    notes.push(`stream machinery takes ${b.reading.percent}%: use fs.read on a FileHandle in a loop instead of createReadStream + async iteration`)
  }
  if (notes.length === 0 && b.hashing.percent >= 60) notes.push(`the native SHA-256 itself takes ${b.hashing.percent}% of chunkFile's time: it is hash-bound, as sha256sum is; the read loop leaves little to gain`)
  if (notes.length === 0) notes.push(`no single cause stands out (hashing ${b.hashing.percent}%, reading ${b.reading.percent}%, idle ${b.idle.percent}%, gc ${b.gc.percent}%); compare openssl's rate: if it is close to chunkFile's, the CPU, not Shoal, is the limit`)
  return notes
}
