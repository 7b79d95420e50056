/**
 * Numbers for the swarm benchmark: rate strings, the Kumar–Ross lower bound T*, percentiles,
 * CPU use from /proc, and the formatting the report shares. No I/O except reading /proc.
 */
import { readFile } from 'node:fs/promises'
import { cpus } from 'node:os'

export const MiB = 1024 * 1024

// ---------------------------------------------------------------------------------------------
// Rates

const RATE_UNITS = {
  // bits per second, decimal, as tc spells them
  bit: 1 / 8,
  kbit: 1e3 / 8,
  mbit: 1e6 / 8,
  gbit: 1e9 / 8,
  // bytes per second, decimal
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  // bytes per second, binary
  kib: 1024,
  mib: MiB,
  gib: 1024 * MiB
}

/**
 * Parses `40mbit`, `5MB`, `5MiB`, `5000000` (bytes/s) into bytes per second; an optional `/s` is
 * accepted. `…ps` is refused: `40mbps` means 40 MB/s to tc but 40 Mbit/s to most people. The
 * result is what every cap in the run is derived from, so the app's limiter is given this plain
 * byte number rather than the string (no two parsers to disagree).
 */
export function parseRate (raw) {
  if (/ps\s*$/i.test(String(raw))) throw new Error(`ambiguous rate "${raw}": write bits as 40mbit or bytes as 5MB`)
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*?)(?:\/s)?\s*$/i.exec(String(raw))
  if (m == null) throw new Error(`bad rate "${raw}" (examples: 40mbit, 5MB, 5MiB, 5000000)`)
  const unit = m[2].toLowerCase()
  const factor = unit === '' ? 1 : RATE_UNITS[unit]
  if (factor == null) throw new Error(`bad rate unit "${m[2]}" in "${raw}" (use bit, kbit, mbit, gbit, B, KB, MB, GB, KiB, MiB, GiB)`)
  const bytes = Math.round(Number(m[1]) * factor)
  if (!(bytes > 0)) throw new Error(`rate must be positive, got "${raw}"`)
  return bytes
}

// ---------------------------------------------------------------------------------------------
// The lower bound

/**
 * T* = max(F/u_s, F/d_min, N·F/(u_s + Σu_i)) in seconds (Kumar & Ross 2006), from the configured
 * caps in bytes/s. Returns the bound and its three terms so the report can say which one binds.
 */
export function lowerBound ({ fileBytes, nodes, serverUp, nodeUp, nodeDown }) {
  const terms = {
    serverUpload: fileBytes / serverUp,
    slowestDownload: fileBytes / nodeDown,
    aggregateUpload: nodes * fileBytes / (serverUp + nodes * nodeUp)
  }
  return { seconds: Math.max(...Object.values(terms)), terms }
}

/** What one HTTP server with upload u_s can do at best: N·F/u_s (or F/d if that is larger) */
export function clientServerBound ({ fileBytes, nodes, serverUp, nodeDown }) {
  return Math.max(nodes * fileBytes / serverUp, fileBytes / nodeDown)
}

// ---------------------------------------------------------------------------------------------
// Percentiles

/** Nearest-rank percentile (p in 0..100) of numbers; of 16 values p50 is the 8th, p90 the 15th */
export function percentile (values, p) {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.max(1, Math.ceil(p / 100 * sorted.length))
  return sorted[rank - 1]
}

export function summarize (values) {
  return {
    count: values.length,
    min: Math.min(...values),
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    max: Math.max(...values),
    mean: values.reduce((s, v) => s + v, 0) / values.length
  }
}

/**
 * The swarm's steady state, from progress samples `{ seconds, avg }` (avg: mean fraction of the
 * file the nodes hold): a least-squares line through the samples between `from` and `to` done.
 * Its slope gives how long a whole file takes at the steady rate; where it meets 0 % is what the
 * start cost (the first blocks' trips, before every link is busy). Completion ≈ start + per file,
 * so this tells whether a slow run lost its time at the start or all along. Undefined with fewer
 * than three samples in range.
 */
export function steadyState (timeline, from = 0.25, to = 0.9) {
  const pts = timeline.filter(p => p.avg >= from && p.avg <= to)
  if (pts.length < 3) return undefined
  const mx = pts.reduce((s, p) => s + p.seconds, 0) / pts.length
  const my = pts.reduce((s, p) => s + p.avg, 0) / pts.length
  let sxy = 0
  let sxx = 0
  for (const p of pts) {
    sxy += (p.seconds - mx) * (p.avg - my)
    sxx += (p.seconds - mx) ** 2
  }
  const slope = sxx > 0 ? sxy / sxx : 0
  if (!(slope > 0)) return undefined
  return { secondsPerFile: 1 / slope, startSeconds: mx - my / slope, samples: pts.length, from, to }
}

// ---------------------------------------------------------------------------------------------
// CPU

const CLK_TCK = 100 // USER_HZ: 100 on every Linux this runs on; /proc/<pid>/stat counts in it

/** Jiffies of the whole machine from the first line of /proc/stat */
async function readMachineCpu () {
  const text = await readFile('/proc/stat', 'utf8')
  const f = text.split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number)
  const [user, nice, system, idle, iowait = 0, irq = 0, softirq = 0, steal = 0] = f
  // guest time is already included in user/nice
  const total = user + nice + system + idle + iowait + irq + softirq + steal
  return { total, idle: idle + iowait, steal }
}

/** utime + stime of one process in seconds, or undefined once it is gone */
async function readProcessCpu (pid) {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8')
    // the command name may hold spaces; fields after the closing parenthesis are fixed
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK
  } catch {
    return undefined
  }
}

/**
 * Samples machine-wide CPU busy % (of all cores) once a second, and the CPU seconds of the
 * processes the bench started, so each phase can report its average, its maximum and how much
 * of it was ours (other engineers share this machine). `begin()` opens a phase; its `end()`
 * returns the figures.
 */
export class CpuMonitor {
  constructor ({ intervalMs = 1000 } = {}) {
    this.cores = cpus().length
    this.intervalMs = intervalMs
    this.pids = new Set([process.pid])
    this.procSeconds = new Map() // pid → last CPU seconds seen (kept after the process is gone)
    this.last = undefined
    this.current = undefined // busy % over the last interval
    this.phases = new Set()
  }

  async start () {
    this.last = await readMachineCpu()
    await this.sampleProcesses()
    this.timer = setInterval(() => { void this.sample() }, this.intervalMs)
    this.timer.unref()
  }

  stop () {
    clearInterval(this.timer)
  }

  track (pid) {
    if (pid != null) this.pids.add(pid)
  }

  async sampleProcesses () {
    await Promise.all([...this.pids].map(async (pid) => {
      const s = await readProcessCpu(pid)
      if (s != null) this.procSeconds.set(pid, s)
    }))
  }

  oursSeconds () {
    let sum = 0
    for (const s of this.procSeconds.values()) sum += s
    return sum
  }

  async sample () {
    const now = await readMachineCpu().catch(() => undefined)
    if (now == null) return
    await this.sampleProcesses()
    const dt = now.total - this.last.total
    if (dt > 0) {
      // steal (the hypervisor running someone else) counts as busy: the CPU was not ours to use
      this.current = 100 * (dt - (now.idle - this.last.idle)) / dt
      for (const phase of this.phases) phase.max = Math.max(phase.max, this.current)
    }
    this.last = now
  }

  /** Opens a phase; `await phase.end()` gives { avgBusyPct, maxBusyPct, oursPct, stealPct, seconds } */
  async begin () {
    await this.sample()
    const phase = { start: this.last, ours: this.oursSeconds(), at: Date.now(), max: 0 }
    this.phases.add(phase)
    phase.end = async () => {
      await this.sample()
      this.phases.delete(phase)
      const dt = this.last.total - phase.start.total
      const wall = (Date.now() - phase.at) / 1000
      const idle = this.last.idle - phase.start.idle
      const steal = this.last.steal - phase.start.steal
      return {
        seconds: wall,
        cores: this.cores,
        avgBusyPct: dt > 0 ? 100 * (dt - idle) / dt : 0,
        maxBusyPct: Math.max(phase.max, this.current ?? 0),
        stealPct: dt > 0 ? 100 * steal / dt : 0,
        // our processes' CPU seconds over the phase, as a share of all cores' wall time
        oursPct: wall > 0 ? 100 * (this.oursSeconds() - phase.ours) / (wall * this.cores) : 0,
        oursCpuSeconds: this.oursSeconds() - phase.ours
      }
    }
    return phase
  }
}

// ---------------------------------------------------------------------------------------------
// Formatting

export function fmtSeconds (s) {
  return s == null || !Number.isFinite(s) ? 'n/a' : `${s.toFixed(1)} s`
}

export function fmtRatio (x, digits = 2) {
  return x == null || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits)
}

export function fmtPct (x, digits = 1) {
  return x == null || !Number.isFinite(x) ? 'n/a' : `${x.toFixed(digits)} %`
}

export function fmtMiB (bytes) {
  return `${(bytes / MiB).toFixed(1)} MiB`
}

/** 5000000 → "40 Mbit/s (5.00 MB/s)" */
export function fmtRate (bytesPerSec) {
  const bits = bytesPerSec * 8
  const human = bits >= 1e9 ? `${+(bits / 1e9).toFixed(3)} Gbit/s` : bits >= 1e6 ? `${+(bits / 1e6).toFixed(3)} Mbit/s` : `${+(bits / 1e3).toFixed(3)} kbit/s`
  return `${human} (${(bytesPerSec / 1e6).toFixed(2)} MB/s)`
}

export function fmtCpu (c) {
  if (c == null) return 'n/a'
  const steal = c.stealPct >= 5 ? `, of which ${c.stealPct.toFixed(0)} % stolen by the hypervisor` : ''
  return `avg ${c.avgBusyPct.toFixed(0)} %, max ${c.maxBusyPct.toFixed(0)} % of ${c.cores} cores busy${steal}; the bench's processes ${c.oursPct.toFixed(0)} %`
}

export function sleep (ms) {
  return new Promise(resolve => setTimeout(resolve, ms))
}
