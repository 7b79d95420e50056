/**
 * What a run measured, as ratios to the Kumar–Ross bound T*, and the table the CLI prints.
 */
import type { SimRun } from './simulate.js'
import { formatRate, formatSeconds, formatSize } from './units.js'

/** How the swarm used its links over one interval of simulated time */
export interface TimelineSample {
  /** End of the interval, seconds */
  time: number
  /** Nodes complete by then */
  complete: number
  /**
   * Bytes moved ÷ the download capacity of the nodes still downloading over the interval (can
   * pass 1 at the very end, when blocks already in flight land on nodes that just finished)
   */
  downUtilization: number
  /** Bytes moved ÷ the upload capacity of every node and the publisher over the interval */
  upUtilization: number
  /** The publisher's upload ÷ its capacity over the interval */
  publisherUtilization: number
}

/** The outcome of one simulated scenario. Times are seconds of simulated time. */
export interface SimResult {
  /** Downloading nodes (the publisher is extra) */
  nodes: number
  /** Artifact size F, bytes */
  size: number
  chunkSize: number
  chunks: number
  /** Node 0's upload and download rate, bytes per second (all nodes' when links are equal) */
  upRate: number
  downRate: number
  /** The publisher's upload rate, bytes per second */
  publisherUpRate: number
  latencyMs: readonly [number, number]
  maxPeers: number
  /** Sessions at which a node refuses further dials */
  acceptPeers: number
  publisherPeers: number
  /** How the publisher advertised chunks */
  publisherMode: 'seed' | 'super-seed'
  dtMs: number
  reallocatePasses: number
  /** Upload slots of every node and of the publisher (Infinity, `null` in JSON: no limit) */
  uploadSlots: number
  publisherUploadSlots: number
  seed: number
  /** Kumar–Ross lower bound T*, seconds */
  lowerBound: number
  /** Nodes that got every chunk */
  completed: number
  /** Per node: when it held every chunk, seconds (`null`: never) */
  completion: Array<number | null>
  /** Completion-time percentiles over all nodes (Infinity if a node never finished) */
  p50: number
  p90: number
  max: number
  mean: number
  /** max ÷ T* (target <= 1.15) */
  maxOverBound: number
  /** p50 ÷ T* */
  p50OverBound: number
  /** Bytes the publisher uploaded (partial blocks included) */
  publisherEgress: number
  /** publisherEgress ÷ F: 1 means the publisher sent each chunk once */
  publisherEgressOverSize: number
  /** When every chunk had left the publisher at least once, seconds (Infinity: never) */
  allChunksOut: number
  /**
   * How busy the publisher's uplink was until then: block bytes sent ÷ (u_s × allChunksOut).
   * Below 1, the swarm waited on a publisher that had idle capacity.
   */
  publisherUtilization: number
  /** Whole chunks the publisher sent more than once (extra copies) */
  publisherRepeats: number
  /** Block bytes delivered to nodes that already held the chunk */
  duplicateBytes: number
  /** duplicateBytes ÷ (N·F) */
  duplicateOverTotal: number
  /** Share of first-copy bytes that nodes got from other nodes rather than the publisher */
  fromPeersFraction: number
  /** Highest fraction of any node's upload / download cap used in one step (<= 1) */
  maxUpUtilization: number
  maxDownUtilization: number
  /** Highest fraction of any node's upload slots held at once (<= 1; 0 with no limit) */
  maxSlotUtilization: number
  /** Every finished node holds every chunk, by the simulator's count and its scheduler's */
  consistent: boolean
  /** Stopped because nothing was in flight while nodes were unfinished */
  stalled: boolean
  /** Stopped at `maxTimeMs` */
  timedOut: boolean
  /** Link use over time, one sample per `timelineIntervalMs` */
  timeline: TimelineSample[]
  /** Simulated time at the end, seconds */
  simulatedTime: number
  steps: number
  /** Messages delivered (handshakes, haves, requests, cancels, rejects, blocks) */
  messages: number
  /** Scheduler calls (events fed to schedulers) */
  schedulerCalls: number
  /** Wall-clock time the simulation took, ms */
  wallMs: number
}

/** Turn a finished run's counters into a {@link SimResult} */
export function summarize (run: SimRun): SimResult {
  const s = run.scenario
  const n = s.nodes
  const times: number[] = []
  let completed = 0
  let sum = 0
  for (let v = 0; v < n; v++) {
    const t = run.completedAt[v]
    if (t >= 0) {
      completed++
      times.push(t / 1000)
      sum += t / 1000
    } else {
      times.push(Infinity)
    }
  }
  const sorted = times.slice().sort((a, b) => a - b)
  const pct = (q: number): number => sorted[Math.max(0, Math.ceil(q * n) - 1)]
  const bound = s.lowerBound
  const egress = run.network.bytesUp[n]
  const firstCopies = run.fromPublisher + run.fromPeers
  return {
    nodes: n,
    size: s.size,
    chunkSize: s.chunkSize,
    chunks: s.chunks,
    upRate: s.up[0],
    downRate: s.down[0],
    publisherUpRate: s.up[n],
    latencyMs: s.latencyMs,
    maxPeers: s.maxPeers,
    acceptPeers: s.acceptPeers,
    publisherPeers: s.publisherPeers,
    publisherMode: run.publisherMode,
    dtMs: s.dtMs,
    reallocatePasses: s.reallocatePasses,
    uploadSlots: s.uploadSlots,
    publisherUploadSlots: s.publisherUploadSlots,
    seed: s.seed,
    lowerBound: bound,
    completed,
    completion: times.map(t => Number.isFinite(t) ? t : null),
    p50: pct(0.5),
    p90: pct(0.9),
    max: sorted[n - 1],
    mean: completed === n ? sum / n : Infinity,
    maxOverBound: sorted[n - 1] / bound,
    p50OverBound: pct(0.5) / bound,
    publisherEgress: egress,
    publisherEgressOverSize: egress / s.size,
    allChunksOut: run.allOutMs >= 0 ? run.allOutMs / 1000 : Infinity,
    publisherUtilization: run.allOutMs > 0 ? run.allOutBytes / (s.up[n] * run.allOutMs / 1000) : 0,
    publisherRepeats: run.publisherRepeats,
    duplicateBytes: run.duplicateBytes,
    duplicateOverTotal: run.duplicateBytes / (n * s.size),
    fromPeersFraction: firstCopies > 0 ? run.fromPeers / firstCopies : 0,
    maxUpUtilization: run.network.maxUpUtilization,
    maxDownUtilization: run.network.maxDownUtilization,
    maxSlotUtilization: run.network.maxSlotUtilization,
    consistent: run.consistent,
    stalled: run.stalled,
    timedOut: run.timedOut,
    timeline: run.timeline,
    simulatedTime: run.endMs / 1000,
    steps: run.steps,
    messages: run.messages,
    schedulerCalls: run.schedulerCalls,
    wallMs: run.wallMs
  }
}

const COLUMNS: Array<[string, (r: SimResult) => string]> = [
  ['N', r => String(r.nodes)],
  ['F', r => formatSize(r.size)],
  ['link', r => r.upRate === r.downRate ? formatRate(r.upRate) : `${formatRate(r.upRate)} up / ${formatRate(r.downRate)} down`],
  ['chunk', r => formatSize(r.chunkSize)],
  ['publisher', r => r.publisherMode],
  ['slots', r => r.uploadSlots === r.publisherUploadSlots ? slots(r.uploadSlots) : `${slots(r.uploadSlots)} (pub ${slots(r.publisherUploadSlots)})`],
  ['T*', r => formatSeconds(r.lowerBound)],
  ['p50', r => formatSeconds(r.p50)],
  ['p90', r => formatSeconds(r.p90)],
  ['max', r => formatSeconds(r.max)],
  ['max ÷ T*', r => ratio(r.maxOverBound)],
  ['p50 ÷ T*', r => ratio(r.p50OverBound)],
  ['pub egress ÷ F', r => ratio(r.publisherEgressOverSize)],
  ['all out', r => formatSeconds(r.allChunksOut)],
  ['pub busy', r => (r.publisherUtilization * 100).toFixed(0) + ' %'],
  ['dup ÷ N·F', r => (r.duplicateOverTotal * 100).toFixed(2) + ' %'],
  ['done', r => `${r.completed}/${r.nodes}${r.stalled ? ' stalled' : r.timedOut ? ' timed out' : ''}`],
  ['wall', r => formatSeconds(r.wallMs / 1000)],
  ['messages / steps', r => `${compact(r.messages)} / ${compact(r.steps)}`]
]

/** A Markdown table, one row per result */
export function formatTable (results: SimResult[]): string {
  const rows = [COLUMNS.map(c => c[0]), ...results.map(r => COLUMNS.map(c => c[1](r)))]
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map(row => row[i].length)))
  const line = (row: string[]): string => '| ' + row.map((cell, i) => cell.padEnd(widths[i])).join(' | ') + ' |'
  return [line(rows[0]), '|' + widths.map(w => '-'.repeat(w + 2)).join('|') + '|', ...rows.slice(1).map(line)].join('\n')
}

function slots (n: number): string {
  return Number.isFinite(n) ? String(n) : '∞'
}

function ratio (x: number): string {
  return Number.isFinite(x) ? x.toFixed(3) : '—'
}

function compact (x: number): string {
  if (x >= 1e9) return `${(x / 1e9).toFixed(1)}G`
  if (x >= 1e6) return `${(x / 1e6).toFixed(1)}M`
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)}k`
  return String(x)
}
