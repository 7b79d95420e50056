/**
 * Child processes and /proc sampling for the footprint benchmark.
 *
 * Every process the benchmark starts goes through `Processes` (scripts/lib/processes.mjs), so one
 * call can stop them all by pid on success, failure or a signal. Memory is read from /proc/<pid>/status, which is
 * what the kernel itself accounts (VmRSS now, VmHWM = peak RSS over the process's life).
 */
import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'

export { RunError as BenchError, Processes, describeExit } from '../lib/processes.mjs'

/** The last `n` non-empty lines of a log, for an error message when the log will be deleted */
export async function tailOf (path, n = 15) {
  const text = await readFile(path, 'utf8').catch(() => '')
  return text.split('\n').filter(l => l.trim() !== '').slice(-n)
}

// ---------------------------------------------------------------------------------------------
// /proc

/**
 * Memory figures of `pid` from /proc/<pid>/status, in bytes, or undefined once it has exited.
 * Synchronous on purpose: it is a tiny procfs read, and a sync read keeps the 100 ms sampling
 * cadence from drifting behind other work on the event loop.
 */
export function readProcMemory (pid) {
  let text
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {
    return undefined
  }
  const kb = (key) => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)
    return m != null ? Number(m[1]) * 1024 : undefined
  }
  return { rss: kb('VmRSS'), hwm: kb('VmHWM'), anon: kb('RssAnon'), file: kb('RssFile'), shmem: kb('RssShmem') }
}

/** argv of `pid` as the kernel sees it (to prove we sample the node itself, not a wrapper) */
export function readCmdline (pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(s => s !== '')
  } catch {
    return undefined
  }
}

/**
 * RSS of `pid` by kind of mapping, from /proc/<pid>/smaps, in bytes. The kinds say who holds
 * the memory: `file` (the node binary and shared libraries), `brkHeap` (glibc's main malloc
 * arena: Buffer/Uint8Array backing stores, LevelDB, OpenSSL), `anonSmall` (anonymous mappings
 * under 1 MiB: V8 heap pages are 256 KiB each), `anonLarge` (malloc thread arenas, V8 large
 * objects and code range, buffers mmapped on their own), `other` (stacks, vdso).
 */
export function readSmapsCategories (pid) {
  let text
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'utf8')
  } catch {
    return undefined
  }
  const cats = { file: 0, brkHeap: 0, anonSmall: 0, anonLarge: 0, other: 0 }
  let cat
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line)
    if (m != null) {
      const size = parseInt(m[2], 16) - parseInt(m[1], 16)
      const name = m[3]
      cat = name.startsWith('/') ? 'file' : name === '[heap]' ? 'brkHeap' : name !== '' ? 'other' : size < 1024 * 1024 ? 'anonSmall' : 'anonLarge'
      continue
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line)
    if (rss != null && cat != null) cats[cat] += Number(rss[1]) * 1024
  }
  return cats
}

/**
 * Samples VmRSS of a set of named pids every `intervalMs`. Keeps every sample (a 2 GiB run is
 * a few hundred of them) so the JSON report can show the curve, plus a running peak per pid
 * with the RSS breakdown at that moment (anon heap vs file-backed pages).
 */
export class RssSampler {
  constructor (intervalMs, { smaps = false } = {}) {
    this.intervalMs = intervalMs
    this.smaps = smaps // also read the smaps breakdown of a new peak (costlier; diagnosis only)
    this.targets = new Map() // name -> pid
    this.samples = [] // { t, name: rss|null ... }
    this.peaks = new Map() // name -> { rss, at, anon, file }
    this.t0 = Date.now()
    this.timer = undefined
  }

  watch (name, pid) {
    this.targets.set(name, pid)
  }

  start () {
    this.sample()
    this.timer = setInterval(() => this.sample(), this.intervalMs)
  }

  stop () {
    clearInterval(this.timer)
    this.timer = undefined
  }

  sample () {
    const now = Date.now()
    const row = { t: now - this.t0 }
    for (const [name, pid] of this.targets) {
      const mem = readProcMemory(pid)
      // 0 while a just-spawned process is still exec'ing: not a sample.
      row[name] = mem?.rss || null
      if (row[name] == null) continue
      const peak = this.peaks.get(name)
      if (peak == null || mem.rss > peak.rss) {
        // smaps is read at most every 500 ms: a new peak comes every sample while RSS climbs.
        const smaps = this.smaps && (peak?.smapsAt == null || now - peak.smapsAt >= 500) ? readSmapsCategories(pid) : undefined
        this.peaks.set(name, {
          rss: mem.rss,
          at: now,
          anon: mem.anon,
          file: mem.file,
          smaps: smaps ?? peak?.smaps,
          smapsAt: smaps != null ? now : peak?.smapsAt
        })
      }
    }
    this.samples.push(row)
    return row
  }

  /** Samples of `name` taken in [from, to] (epoch ms) */
  between (name, from, to) {
    return this.samples
      .filter(s => s.t + this.t0 >= from && s.t + this.t0 <= to && s[name] != null)
      .map(s => s[name])
  }

  /** Highest sample of `name` in [from, to] */
  maxBetween (name, from, to) {
    const values = this.between(name, from, to)
    return values.length > 0 ? Math.max(...values) : undefined
  }
}

export function median (values) {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
