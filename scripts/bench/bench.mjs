#!/usr/bin/env node
/**
 * `pnpm bench` — the swarm benchmark: a real Shoal swarm on this machine against the
 * Kumar–Ross lower bound T* and against one HTTP server, measured in the same run.
 *
 * A publisher and N node daemons (each a separate process) distribute a random F-byte file
 * over links capped at the same rate up and down, either
 *   - netns: one network namespace per process, veth pairs to a bridge in a hub namespace,
 *     `tc tbf` on both directions (real shaped links; the default as root), or
 *   - app:   everything on 127.0.0.1, capped by the apps' own --max-upload/--max-download.
 * Then one HTTP server with the publisher's cap serves N concurrent downloads over the same
 * links. The report gives completion p50/p90/max as multiples of T*, the publisher's egress,
 * duplicate bytes, the node-to-node share, CPU use per phase, and Shoal's speedup over HTTP;
 * it writes a JSON file and an SVG plot to bench-results/. Every copy is checked by sha256.
 *
 * Plain ESM on Node 20 built-ins. Everything it starts (processes, namespaces, temp dir) is
 * removed on success, failure, SIGINT and SIGTERM; `--cleanup` removes what a crashed run left.
 * Modules: netns.mjs (namespaces, veths, tbf), swarm.mjs (processes, the Shoal phase),
 * http-baseline.mjs with http-server.mjs/http-client.mjs/token-bucket.mjs, stats.mjs (T*, percentiles,
 * CPU), plot.mjs (the SVG).
 */
import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir, cpus, release } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { parseArgs, promisify } from 'node:util'
import { NS_PREFIX, Topology, cleanupLeftovers, hostCongestionControl, netnsUnavailableReason, tcpDelta, tcpPayloadShare } from './netns.mjs'
import {
  BenchError, NODE_BIN, PUBLISHER_BIN, REPO_ROOT, benchProcesses, completionTimes, followShoal,
  refreshStatuses, startNodes, startPublisher, verifyCopies, within
} from './swarm.mjs'
import { artifactOf, transferOf } from '../lib/status.mjs'
import { runHttpBaseline } from './http-baseline.mjs'
import { renderCdf } from './plot.mjs'
import {
  CpuMonitor, MiB, clientServerBound, fmtCpu, fmtMiB, fmtPct, fmtRate, fmtRatio, fmtSeconds, lowerBound,
  parseRate, sleep, steadyState, summarize
} from './stats.mjs'

const execFileP = promisify(execFile)

const DEFAULTS = { nodes: 16, sizeMiB: 128, rate: '40mbit', chunkSize: 262144 }
const PROGRESS_EVERY_MS = 2_000
/** Let freshly started nodes find each other in the rendezvous dir before the announcement */
const SETTLE_MS = 3_000
/** Publishing waits for the nodes' start-up work (N² noise handshakes, identify, DHT and mesh
 * forming) to die down: long-running daemons receive artifacts in a settled swarm, and on two
 * cores start-up would otherwise be measured as transfer time. */
const QUIET_BUSY_PCT = 35
const QUIET_SAMPLES = 3
const SETTLE_MAX_MS = 90_000
/** After the last node completes, how long the publisher may take to count the replicas and exit */
const PUBLISHER_EXIT_GRACE_MS = 30_000
const TARGETS = { maxOverTStar: 1.2, p50OverTStar: 1.1, egressOverF: 1.5, duplicateShare: 0.02 }

const USAGE = `Usage: pnpm bench [options]   (or: node scripts/bench/bench.mjs [options])

Runs a real Shoal swarm on this machine (a publisher and N node processes, every link capped
up and down), distributes a random file, then runs one HTTP server with the same caps against
N concurrent downloads, and reports both against the lower bound
T* = max(F/u_s, F/d_min, N·F/(u_s + Σu_i)). Writes JSON and an SVG plot to --out.

Options:
  --nodes <n>          node processes (default ${DEFAULTS.nodes})
  --size <MiB>         file size in MiB (default ${DEFAULTS.sizeMiB})
  --rate <rate>        cap for every link, up and down, nodes and publisher (default ${DEFAULTS.rate});
                       e.g. 40mbit, 5MB, 5MiB (per second), or a plain number of bytes/s
  --chunk-size <bytes> Shoal chunk size (default ${DEFAULTS.chunkSize})
  --mode <netns|app>   netns: a network namespace per process, tc tbf links (needs root;
                       the default when it works); app: 127.0.0.1, the apps' own rate limiter
  --out <dir>          where results go (default bench-results/ at the repo root)
  --timeout <s>        give up on the Shoal phase after this long (default max(120, 60 + 10·T*))
  --tcp-cc <name>      TCP congestion control in the namespaces, e.g. cubic or bbr (netns mode;
                       default: what the host uses)
  --tcp-timestamps <on|off>
                       TCP timestamps in the namespaces (netns mode; default: on, as in any new
                       namespace). Off, every full frame carries 12 more bytes of payload
                       (1460 of 1514 instead of 1448), on every link
  --no-baseline        skip the HTTP baseline
  --keep               keep the temp dir (logs, status files, copies) and print its path
  --cleanup            remove network namespaces and temp dirs left by benches no longer
                       running (after a crash or kill -9), then exit
  -h, --help           show this help

Exit status: 0 if the run worked (whether or not the targets were met), 1 if something broke,
2 for bad options.
`

class UsageError extends Error {}

// ---------------------------------------------------------------------------------------------
// Options

function readOptions (argv) {
  let values
  try {
    ({ values } = parseArgs({
      args: argv[0] === '--' ? argv.slice(1) : argv, // pnpm may pass the `--` through
      strict: true,
      allowPositionals: false,
      options: {
        nodes: { type: 'string' },
        size: { type: 'string' },
        rate: { type: 'string' },
        'chunk-size': { type: 'string' },
        mode: { type: 'string' },
        out: { type: 'string' },
        timeout: { type: 'string' },
        'tcp-cc': { type: 'string' },
        'tcp-timestamps': { type: 'string' },
        'no-baseline': { type: 'boolean' },
        keep: { type: 'boolean' },
        cleanup: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' }
      }
    }))
  } catch (err) {
    throw new UsageError(`${err.message.split('\n')[0]} — see --help`)
  }
  const opts = {
    help: values.help === true,
    cleanup: values.cleanup === true,
    keep: values.keep === true,
    baseline: values['no-baseline'] !== true,
    tcpCc: values['tcp-cc'],
    tcpTimestamps: onOff(values['tcp-timestamps'], '--tcp-timestamps'),
    nodes: positive(values.nodes ?? DEFAULTS.nodes, '--nodes', true),
    sizeMiB: positive(values.size ?? DEFAULTS.sizeMiB, '--size', false),
    chunkSize: positive(values['chunk-size'] ?? DEFAULTS.chunkSize, '--chunk-size', true),
    mode: values.mode,
    out: resolve(values.out ?? join(REPO_ROOT, 'bench-results')),
    timeoutS: values.timeout != null ? positive(values.timeout, '--timeout', false) : undefined
  }
  try {
    opts.rateBytes = parseRate(values.rate ?? DEFAULTS.rate)
  } catch (err) {
    throw new UsageError(`--rate: ${err.message}`)
  }
  if (opts.mode != null && opts.mode !== 'netns' && opts.mode !== 'app') throw new UsageError(`--mode must be netns or app, got "${opts.mode}"`)
  if (opts.chunkSize < 1024 || opts.chunkSize > 4194304) throw new UsageError('--chunk-size must be within 1024..4194304 bytes (the publisher\'s limits)')
  return opts
}

/** `on` → true, `off` → false, absent → undefined */
function onOff (raw, flag) {
  if (raw == null) return undefined
  if (raw === 'on' || raw === 'off') return raw === 'on'
  throw new UsageError(`${flag} must be on or off, got "${raw}"`)
}

function positive (raw, flag, integer) {
  const n = Number(raw)
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isSafeInteger(n))) {
    throw new UsageError(`${flag} must be a positive ${integer ? 'integer' : 'number'}, got "${raw}"`)
  }
  return n
}

// ---------------------------------------------------------------------------------------------
// Setup

/** Streams `bytes` random bytes to `path` in 1 MiB pieces; returns the sha256 (hex) */
async function writeRandomFile (path, bytes) {
  const hash = createHash('sha256')
  async function * pieces () {
    for (let left = bytes; left > 0; left -= MiB) {
      const piece = randomBytes(Math.min(MiB, left))
      hash.update(piece)
      yield piece
    }
  }
  await pipeline(Readable.from(pieces()), createWriteStream(path))
  return hash.digest('hex')
}

/** Do both apps take --max-upload/--max-download? (app mode depends on it) */
async function appsHaveRateFlags () {
  const help = async (args) => (await execFileP(process.execPath, args).catch(e => ({ stdout: e.stdout ?? '' }))).stdout
  const [nodeHelp, pubHelp] = await Promise.all([help([NODE_BIN, '--help']), help([PUBLISHER_BIN, 'push', '--help'])])
  const missing = []
  for (const [name, text] of [['shoal-node', nodeHelp], ['publisher', pubHelp]]) {
    for (const flag of ['--max-upload', '--max-download']) if (!text.includes(flag)) missing.push(`${name} ${flag}`)
  }
  return missing
}

async function chooseMode (opts) {
  if (opts.mode === 'app') return { mode: 'app' }
  const why = await netnsUnavailableReason()
  if (why == null) return { mode: 'netns' }
  if (opts.mode === 'netns') throw new BenchError(`--mode netns is not possible here: ${why}`)
  return { mode: 'app', note: `network namespaces are not available (${why}); falling back to --mode app` }
}

async function netemAvailable (topology) {
  // probe on the hub's bridge (which carries no traffic of interest) and remove it at once
  try {
    await execFileP('tc', ['-n', topology.hub, 'qdisc', 'add', 'dev', 'br0', 'root', 'netem', 'delay', '1ms'])
    await execFileP('tc', ['-n', topology.hub, 'qdisc', 'del', 'dev', 'br0', 'root']).catch(() => {})
    return true
  } catch {
    return false
  }
}

// ---------------------------------------------------------------------------------------------
// The run

async function runBench (opts, state) {
  const { mode, note } = await chooseMode(opts)
  if (note != null) console.log(`note: ${note}`)
  if (mode === 'app') {
    const missing = await appsHaveRateFlags()
    if (missing.length > 0) throw new BenchError(`--mode app needs the apps' rate limiter, but this build lacks ${missing.join(', ')} (rebuild with \`pnpm build\`, or use --mode netns as root)`)
  }
  const N = opts.nodes
  const F = Math.round(opts.sizeMiB * MiB)
  const rate = opts.rateBytes
  const bound = lowerBound({ fileBytes: F, nodes: N, serverUp: rate, nodeUp: rate, nodeDown: rate })
  const tStar = bound.seconds
  const httpBound = clientServerBound({ fileBytes: F, nodes: N, serverUp: rate, nodeDown: rate })
  const work = state.work = await mkdtemp(join(tmpdir(), `shoal-bench-${process.pid}-`))
  const cpu = state.cpu
  const procs = state.procs
  const run = {
    mode,
    procs,
    cpu,
    work,
    nodes: N,
    fileBytes: F,
    fileName: `shoal-bench-${opts.sizeMiB}MiB.bin`,
    chunkSize: opts.chunkSize,
    serverUp: rate,
    nodeUp: rate,
    nodeDown: rate,
    swarm: `shoalb-${process.pid}`,
    peersDir: join(work, 'peers'),
    progressEveryMs: PROGRESS_EVERY_MS,
    startTimeoutMs: 60_000 + 2_000 * N,
    announceTimeoutMs: Math.round(60_000 + F / 20e6 * 1000),
    phaseTimeoutMs: Math.ceil(opts.timeoutS ?? Math.max(120, 60 + 10 * tStar)) * 1000,
    httpTimeoutMs: Math.ceil(60 + 3 * httpBound) * 1000,
    rateArgs: mode === 'app' ? ['--max-upload', String(rate), '--max-download', String(rate)] : [],
    topology: undefined
  }
  const file = join(work, 'source', run.fileName)
  await mkdir(join(work, 'source'), { recursive: true })
  await mkdir(run.peersDir, { recursive: true })

  // --- links
  let shaping
  let delayNote = 'one-way delay: 0 ms added (loopback)'
  let cc
  let timestamps
  let payloadShare
  if (mode === 'netns') {
    console.log(`setting up ${N + 1} network namespaces (${NS_PREFIX}${process.pid}-*) and a bridge...`)
    run.topology = state.topology = new Topology({ members: N + 1, upBytes: rate, downBytes: rate })
    shaping = await run.topology.setup()
    const host = await hostCongestionControl()
    const allowed = (host.allowed || host.available).split(/\s+/)
    cc = { namespace: await run.topology.congestionControl(0), host }
    // if a namespace defaults to something the host does not allow, ask for the host's own
    const wanted = opts.tcpCc ?? (!allowed.includes(cc.namespace) ? host.current : '')
    if (wanted !== '' && wanted !== cc.namespace) {
      for (let k = 0; k <= N; k++) cc.namespace = await run.topology.congestionControl(k, wanted)
      if (cc.namespace !== wanted) throw new BenchError(`--tcp-cc ${wanted}: the namespaces could not switch to it (the host allows: ${allowed.join(' ')}); pick one of those`)
    }
    const wantedTimestamps = opts.tcpTimestamps
    if (wantedTimestamps != null) {
      for (let k = 0; k <= N; k++) {
        if (await run.topology.tcpTimestamps(k, wantedTimestamps) !== wantedTimestamps) throw new BenchError(`--tcp-timestamps: namespace ${k} kept net.ipv4.tcp_timestamps as it was; run without the option`)
      }
    }
    timestamps = wantedTimestamps ?? await run.topology.tcpTimestamps(0)
    payloadShare = tcpPayloadShare(timestamps)
    delayNote = `one-way delay: 0 ms added (${await netemAvailable(run.topology) ? 'netem exists but the bench adds no delay' : 'kernel has no netem'})`
    run.prefixFor = k => run.topology.execPrefix(k)
    run.listenFor = k => `/ip4/${run.topology.members[k].addr}/tcp/4010`
  } else {
    run.prefixFor = () => []
    run.listenFor = () => '/ip4/127.0.0.1/tcp/0'
  }

  const header = [
    `Shoal swarm benchmark — mode ${mode}${mode === 'netns' ? ' (a network namespace per process, tc tbf links to a bridge)' : ' (127.0.0.1, the apps\' own rate limiter)'}`,
    `  nodes       ${N} node processes + 1 publisher`,
    `  file        ${fmtMiB(F)} (${F} bytes), random`,
    `  chunk size  ${opts.chunkSize} bytes`,
    `  links       ${fmtRate(rate)} up and the same down, for every node and the publisher`,
    ...(mode === 'app' ? [`  shaping     the apps' --max-upload/--max-download ${rate} (bytes/s) token buckets, which count block bytes only; the HTTP baseline uses one bucket in the server shared by all responses and one per client`] : []),
    ...(shaping != null ? [`  shaping     tbf on both ends of each veth: burst ${shaping.tbfUp.burstBytes} B, queue ${shaping.tbfUp.latencyMs} ms; a tbf cap counts Ethernet/IP/TCP headers, so TCP goodput tops out near ${fmtPct(payloadShare * 100)} of it (≈ ${(1 / payloadShare).toFixed(3)} T*)`] : []),
    ...(shaping?.neighLimits != null ? [`  ARP table   the kernel's ARP table is shared by all namespaces: its limits (net.ipv4.neigh.default.gc_thresh1/2/3) raised from ${Object.values(shaping.neighLimits.before).join('/')} to ${Object.values(shaping.neighLimits.after).join('/')} for this run, restored after`] : []),
    `  ${delayNote}`,
    ...(cc != null ? [`  TCP CC      ${cc.namespace} in the namespaces (host: ${cc.host.current}; available: ${cc.host.available}); timestamps ${timestamps ? 'on' : 'off'}${timestamps && opts.tcpTimestamps == null ? ' (--tcp-timestamps off: 12 more payload bytes per frame)' : ''}`] : []),
    `  T*          ${fmtSeconds(tStar)} = max(F/u_s ${fmtSeconds(bound.terms.serverUpload)}, F/d_min ${fmtSeconds(bound.terms.slowestDownload)}, N·F/(u_s+Σu_i) ${fmtSeconds(bound.terms.aggregateUpload)})`,
    `  HTTP bound  ${fmtSeconds(httpBound)} = N·F/u_s (one server)`,
    `  timeouts    Shoal phase ${run.phaseTimeoutMs / 1000} s, HTTP phase ${run.httpTimeoutMs / 1000} s`,
    `  work dir    ${work}`
  ]
  console.log(header.join('\n'))

  console.log(`writing ${fmtMiB(F)} of random data...`)
  const sha256 = await writeRandomFile(file, F)

  // --- progress lines: phase, elapsed, what the phase reports, wire rate (netns), CPU
  let lastWire
  const progress = async (line, elapsedMs) => {
    let wire = ''
    if (run.topology != null) {
      const c = await run.topology.downlinkBytes().catch(() => undefined)
      if (c != null) {
        const down = [...c.values()].reduce((s, x) => s + x, 0)
        const now = Date.now()
        if (lastWire != null) wire = `, wire ${((down - lastWire.down) / Math.max(0.001, (now - lastWire.at) / 1000) / 1e6).toFixed(1)} MB/s`
        lastWire = { down, at: now }
      }
    }
    console.log(`[${(elapsedMs / 1000).toFixed(1).padStart(6)} s] ${line}${wire}, CPU ${fmtPct(cpu.current, 0)}`)
  }

  // --- Shoal
  console.log(`\n== Shoal: starting ${N} nodes (logs: ${join(work, 'node-<i>.log')})`)
  const nodes = await startNodes(run)
  await Promise.race([sleep(SETTLE_MS), procs.failure])
  const settleStart = Date.now()
  for (let quiet = 0; quiet < QUIET_SAMPLES && Date.now() - settleStart < SETTLE_MAX_MS;) {
    await Promise.race([sleep(cpu.intervalMs), procs.failure])
    quiet = (cpu.current ?? 100) < QUIET_BUSY_PCT ? quiet + 1 : 0
  }
  console.log(`== Shoal: swarm settled after ${((Date.now() - settleStart + SETTLE_MS) / 1000).toFixed(1)} s (CPU ${fmtPct(cpu.current, 0)} busy)`)
  const countersBefore = run.topology != null ? await run.topology.counters() : undefined
  const tcpBefore = await run.topology?.tcpCounters().catch(() => undefined)
  console.log(`== Shoal: all nodes up; publishing (log: ${join(work, 'publisher.log')})`)
  const pub = await startPublisher(run, file)
  const cpuShoal = await cpu.begin()
  console.log(`== Shoal: announced ${pub.artifactId ?? ''} — t0 from the ${pub.t0Source}`)
  lastWire = undefined
  const { timedOut, timeline } = await followShoal(run, nodes, pub, progress)
  const shoalCpu = await cpuShoal.end()
  if (timedOut) console.log(`== Shoal: TIMED OUT after ${run.phaseTimeoutMs / 1000} s; collecting how far it got`)
  console.log(`   CPU during the Shoal phase: ${fmtCpu(shoalCpu)}`)

  // The publisher exits once it has counted N replicas; its last line has its upload counter.
  if (!timedOut) await within(pub.proc.exited, PUBLISHER_EXIT_GRACE_MS, 'the publisher did not exit', procs).catch(() => {})
  const publisherExited = pub.proc.exit?.code === 0
  const countersAfter = run.topology != null ? await run.topology.counters() : undefined
  const tcpAfter = tcpBefore != null ? await run.topology?.tcpCounters().catch(() => undefined) : undefined
  // Stopping the nodes makes each flush a final status (counters that moved after the last poll).
  await procs.stop(nodes.map(n => n.proc).concat(pub.proc))
  await refreshStatuses(nodes, run.fileName)
  pub.peerId ??= nodes.map(n => artifactOf(n, run.fileName)?.publisher).find(id => id != null)
  await completionTimes(nodes, run.fileName)
  // t0 is when the bench read the announcement; a node that says it started earlier moves it back
  const starts = nodes.map(n => artifactOf(n, run.fileName)?.startedAt).filter(Number.isFinite)
  let t0 = pub.announcedAt
  let t0Source = pub.t0Source
  if (starts.length > 0 && Math.min(...starts) < t0) {
    t0 = Math.min(...starts)
    t0Source = `earliest node startedAt (${t0Source} came ${pub.announcedAt - t0} ms later)`
  }

  const completeNodes = nodes.filter(n => n.completedAt != null)
  if (completeNodes.length > 0) {
    console.log(`== Shoal: checking ${completeNodes.length} copies by sha256...`)
    const bad = await verifyCopies(completeNodes, run.fileName, sha256)
    if (bad.length > 0) {
      throw new BenchError(`COPIES DIFFER FROM THE SOURCE: ${bad.map(b => `${b.node.name} (${b.why}: ${b.path})`).join(', ')}`, bad[0].node.logPath)
    }
    console.log(`   ${completeNodes.length === N ? 'all ' : ''}${completeNodes.length} copies match (sha256 ${sha256.slice(0, 16)}…)`)
  }

  const perNode = nodes.map((n) => {
    // a node that never heard of the artifact has no entry: all its counters are zero
    const t = transferOf(n, run.fileName, pub.peerId) ?? { fraction: 0, fromPublisher: 0, fromNodes: 0, sent: 0, duplicate: 0, invalid: 0, manifestsSent: 0 }
    return {
      name: n.name,
      // a node that never completed counts as infinitely late (null in the JSON)
      seconds: n.completedAt != null ? (n.completedAt - t0) / 1000 : Infinity,
      fraction: t.fraction,
      completedSource: n.completedSource,
      startSeconds: Number.isFinite(t.startedAt) ? (t.startedAt - t0) / 1000 : undefined,
      fromPublisher: t.fromPublisher,
      fromNodes: t.fromNodes,
      sent: t.sent,
      duplicate: t.duplicate,
      invalid: t.invalid,
      manifestsSent: t.manifestsSent,
      wireDown: countersAfter != null ? countersAfter[n.index].down - countersBefore[n.index].down : undefined,
      wireUp: countersAfter != null ? countersAfter[n.index].up - countersBefore[n.index].up : undefined
    }
  })
  const times = perNode.map(n => n.seconds)
  const sum = key => perNode.reduce((s, n) => s + (n[key] ?? 0), 0)
  const received = sum('fromPublisher') + sum('fromNodes')
  const shoal = {
    timedOut,
    timeoutSeconds: run.phaseTimeoutMs / 1000,
    complete: completeNodes.length,
    t0,
    t0Source,
    completion: summarize(times),
    completionSources: [...new Set(perNode.map(n => n.completedSource))],
    publisherExited,
    publisherReportedBytes: pub.uploadedBytes,
    publisherWireBytes: countersAfter != null ? countersAfter[0].up - countersBefore[0].up : undefined,
    receivedFromPublisherBytes: sum('fromPublisher'),
    receivedFromNodesBytes: sum('fromNodes'),
    duplicateBytes: sum('duplicate'),
    invalidBlocks: sum('invalid'),
    // copies of the manifest the nodes sent each other (each node needs one, some from the publisher)
    manifestCopiesByNodes: sum('manifestsSent'),
    // and the publisher's, from its done line (undefined if it printed none)
    manifestCopiesByPublisher: pub.manifestCopies,
    // netns: every byte the nodes' links delivered (headers, protocol, blocks later dropped)
    nodesWireDownBytes: countersAfter != null ? sum('wireDown') : undefined,
    // netns: TCP segments sent and retransmitted, and retransmission timeouts, in the publisher's
    // namespace and over all the nodes' (loss on the shaped links; see netns.mjs tcpCounters)
    tcp: tcpDelta(tcpBefore, tcpAfter),
    cpu: shoalCpu,
    // progress over time (seconds from t0) and the steady state it shows
    timeline: timeline.map(p => ({ seconds: (p.at - t0) / 1000, avg: p.avg })),
    nodes: perNode
  }
  shoal.steady = steadyState(shoal.timeline)
  // netns: how busy each node's uplink was until the last node finished (headers included)
  if (countersAfter != null && Number.isFinite(shoal.completion.max)) {
    for (const n of perNode) n.upBusy = n.wireUp / (rate * shoal.completion.max)
    shoal.upBusy = summarize(perNode.map(n => n.upBusy))
  }
  // netns: how long the two links every node waits on were busy in all, at their rate: the
  // publisher's uplink (every first copy crosses it) and a node's own downlink (its copy, with
  // headers, ACKs for its uploads and protocol frames). Completion minus these is start and idle.
  if (countersAfter != null) {
    shoal.linkSeconds = {
      publisherUp: shoal.publisherWireBytes / rate,
      nodeDown: summarize(perNode.map(n => n.wireDown / rate))
    }
  }
  // What the CPU alone allows: bytes delivered per CPU-second of the bench's processes, times all
  // cores. If moving N·F at that speed takes longer than T*, the CPU, not the links, is the limit.
  const bytesPerCpuSecond = shoalCpu.oursCpuSeconds > 0 ? received / shoalCpu.oursCpuSeconds : undefined
  shoal.cpuCeiling = bytesPerCpuSecond != null
    ? { bytesPerCpuSecond, maxSwarmBytesPerSec: bytesPerCpuSecond * shoalCpu.cores, floorSeconds: N * F / (bytesPerCpuSecond * shoalCpu.cores), neededBytesPerSec: N * rate }
    : undefined
  shoal.ratios = {
    maxOverTStar: shoal.completion.max / tStar,
    p50OverTStar: shoal.completion.p50 / tStar,
    p90OverTStar: shoal.completion.p90 / tStar,
    publisherEgressOverF: shoal.publisherReportedBytes != null ? shoal.publisherReportedBytes / F : undefined,
    publisherWireEgressOverF: shoal.publisherWireBytes != null ? shoal.publisherWireBytes / F : undefined,
    receivedFromPublisherOverF: shoal.receivedFromPublisherBytes / F,
    duplicateShare: shoal.duplicateBytes / (N * F),
    nodeToNodeShare: received > 0 ? shoal.receivedFromNodesBytes / received : undefined,
    wireDownOverVerified: shoal.nodesWireDownBytes != null && received > 0 ? shoal.nodesWireDownBytes / received : undefined,
    cpuFloorOverTStar: shoal.cpuCeiling != null ? shoal.cpuCeiling.floorSeconds / tStar : undefined,
    steadyPerFileOverTStar: shoal.steady != null ? shoal.steady.secondsPerFile / tStar : undefined,
    publisherLinkOverTStar: shoal.linkSeconds != null ? shoal.linkSeconds.publisherUp / tStar : undefined,
    nodeDownlinkP50OverTStar: shoal.linkSeconds != null ? shoal.linkSeconds.nodeDown.p50 / tStar : undefined
  }

  // --- HTTP baseline, over the same links (not after a failed Shoal phase)
  let http
  if (opts.baseline && !timedOut) {
    console.log(`\n== HTTP baseline: one server (${fmtRate(rate)} upload) → ${N} concurrent downloads`)
    lastWire = undefined
    const r = await runHttpBaseline(run, { file, sha256, progress })
    console.log(`   all ${N} downloads match the source; CPU during the HTTP phase: ${fmtCpu(r.cpu)}`)
    const httpTimes = r.clients.map(c => c.seconds)
    http = {
      t0: r.t0,
      completion: summarize(httpTimes),
      serverWireBytes: r.serverWireEgressBytes,
      cpu: r.cpu,
      clients: r.clients
    }
    http.ratios = {
      maxOverTStar: http.completion.max / tStar,
      p50OverTStar: http.completion.p50 / tStar,
      serverWireEgressOverF: r.serverWireEgressBytes != null ? r.serverWireEgressBytes / F : undefined
    }
  }

  // --- report
  const late = x => x === Infinity ? `> ${fmtRatio(shoal.timeoutSeconds / tStar)} T*` : `${fmtRatio(x)} T*`
  const targets = [
    { name: 'max completion ≤ 1.2 T*', value: shoal.ratios.maxOverTStar, limit: TARGETS.maxOverTStar, shown: late(shoal.ratios.maxOverTStar) },
    { name: 'p50 completion ≤ 1.1 T*', value: shoal.ratios.p50OverTStar, limit: TARGETS.p50OverTStar, shown: late(shoal.ratios.p50OverTStar) },
    { name: 'publisher egress ≤ 1.5 F (its own counter)', value: shoal.ratios.publisherEgressOverF, limit: TARGETS.egressOverF, shown: shoal.ratios.publisherEgressOverF != null ? `${fmtRatio(shoal.ratios.publisherEgressOverF)} F` : 'n/a' },
    { name: 'duplicate bytes ≤ 2 % of N·F', value: shoal.ratios.duplicateShare, limit: TARGETS.duplicateShare, shown: fmtPct(shoal.ratios.duplicateShare * 100, 2) }
  ].map(t => ({ ...t, pass: t.value == null ? undefined : t.value <= t.limit })) // Infinity (timed out) fails
  const speedup = http != null ? http.completion.max / shoal.completion.max : undefined

  const result = {
    schema: 'shoal-bench/1',
    date: new Date().toISOString(),
    mode,
    host: { cpus: cpus().length, cpuModel: cpus()[0]?.model, kernel: release(), node: process.version, sharedMachineNote: 'other work may run on this machine; see cpu.oursPct vs avgBusyPct' },
    config: {
      nodes: N,
      fileBytes: F,
      chunkSize: opts.chunkSize,
      rateBytesPerSec: rate,
      caps: { publisherUp: rate, publisherDown: rate, nodeUp: rate, nodeDown: rate },
      addedDelayMs: 0,
      shaping: mode === 'netns' ? { qdisc: 'tbf', ...shaping.tbfUp, congestionControl: cc, tcpTimestamps: timestamps, tcpPayloadShare: payloadShare } : { limiter: 'app --max-upload/--max-download' },
      sha256
    },
    tStar: { seconds: tStar, terms: bound.terms, httpBoundSeconds: httpBound },
    shoal,
    http,
    speedupOverHttp: speedup,
    targets: targets.map(({ shown, ...t }) => t)
  }
  printReport({ result, targets, N, F, tStar, shoal, http, speedup, mode, timestamps, payloadShare })

  await mkdir(opts.out, { recursive: true })
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)
  const base = join(opts.out, `bench-${mode}-n${N}-${stamp}`)
  await writeFile(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`)
  await writeFile(`${base}.svg`, renderCdf({
    title: `Shoal${http != null ? ' vs one HTTP server' : ''}: ${N} nodes, ${fmtMiB(F)}, ${fmtRate(rate).split(' (')[0]} links (${mode})`,
    subtitle: `completion CDF; T* = ${fmtSeconds(tStar)}; Shoal max ${fmtRatio(shoal.ratios.maxOverTStar)} T*${http != null ? `, HTTP max ${fmtRatio(http.ratios.maxOverTStar)} T*, speedup ${fmtRatio(speedup, 1)}×` : ''}`,
    tStar,
    httpBound,
    series: [
      { key: 'shoal', label: `Shoal (p50 ${fmtRatio(shoal.ratios.p50OverTStar)} T*, max ${fmtRatio(shoal.ratios.maxOverTStar)} T*)`, times },
      ...(http != null ? [{ key: 'http', label: `one HTTP server (p50 ${fmtRatio(http.ratios.p50OverTStar)} T*, max ${fmtRatio(http.ratios.maxOverTStar)} T*)`, times: http.clients.map(c => c.seconds) }] : [])
    ]
  }))
  console.log(`\nwrote ${relative(process.cwd(), `${base}.json`)} and ${relative(process.cwd(), `${base}.svg`)}`)
  if (timedOut) {
    const avg = perNode.reduce((x, n) => x + n.fraction, 0) / N
    throw new BenchError(`Shoal phase timed out after ${run.phaseTimeoutMs / 1000} s: ${completeNodes.length}/${N} nodes complete, avg ${fmtPct(avg * 100, 0)} (partial results above and in ${relative(process.cwd(), `${base}.json`)})`, nodes.find(n => n.completedAt == null)?.logPath)
  }
}

function printReport ({ targets, N, F, tStar, shoal, http, speedup, mode, timestamps, payloadShare }) {
  const row = (label, a, b = '') => `  ${label.padEnd(30)} ${String(a).padEnd(34)} ${b}`
  const t = (s) => s === Infinity ? `  > ${fmtSeconds(shoal.timeoutSeconds)} (not done)` : `${fmtSeconds(s).padStart(8)}  ${fmtRatio(s / tStar).padStart(5)} T*`
  const lines = ['', `Results (T* = ${fmtSeconds(tStar)}; completion = announcement → node holds a verified copy)`, '']
  if (shoal.timedOut) lines.push(`  SHOAL TIMED OUT after ${fmtSeconds(shoal.timeoutSeconds)}: ${shoal.complete}/${N} nodes complete; figures below are partial`, '')
  lines.push(row('', 'Shoal', http != null ? 'one HTTP server' : ''))
  lines.push(row('completion p50', t(shoal.completion.p50), http != null ? t(http.completion.p50) : ''))
  lines.push(row('completion p90', t(shoal.completion.p90), http != null ? t(http.completion.p90) : ''))
  lines.push(row('completion max', t(shoal.completion.max), http != null ? t(http.completion.max) : ''))
  const egress = [shoal.ratios.publisherEgressOverF != null ? `${fmtRatio(shoal.ratios.publisherEgressOverF)} F (publisher's counter)` : 'n/a (the publisher printed no "done:" line)']
  if (shoal.ratios.publisherWireEgressOverF != null) egress.push(`${fmtRatio(shoal.ratios.publisherWireEgressOverF)} F on the wire`)
  lines.push(row('publisher egress ÷ F', egress[0], http?.ratios.serverWireEgressOverF != null ? `${fmtRatio(http.ratios.serverWireEgressOverF)} F on the wire` : (http != null ? `${N} F (by construction)` : '')))
  if (egress[1] != null) lines.push(row('', egress[1] + ' (incl. headers)'))
  lines.push(row('nodes got from the publisher', `${fmtRatio(shoal.ratios.receivedFromPublisherOverF)} F`, http != null ? `${N} F` : ''))
  lines.push(row('node-to-node share', fmtPct((shoal.ratios.nodeToNodeShare ?? NaN) * 100), http != null ? '0 %' : ''))
  lines.push(row('duplicate bytes ÷ N·F', fmtPct(shoal.ratios.duplicateShare * 100, 2), http != null ? '0 %' : ''))
  lines.push(row('manifest copies sent', `${shoal.manifestCopiesByPublisher ?? '?'} by the publisher, ${shoal.manifestCopiesByNodes} by nodes (each of the ${N} nodes needs one)`))
  if (shoal.ratios.wireDownOverVerified != null) lines.push(row('node links carried ÷ verified', `${fmtRatio(shoal.ratios.wireDownOverVerified)} × the block bytes the nodes verified`))
  if (shoal.tcp != null) {
    // A kernel without the TcpExt timeout counter still reports the rest.
    const timeouts = (c) => Number.isFinite(c.timeouts) ? ` (${c.timeouts} timeouts)` : ''
    const share = (c) => `${fmtPct(c.retransShare * 100, 1)} of ${c.outSegs} segments${timeouts(c)}`
    lines.push(row('TCP retransmitted', `publisher ${share(shoal.tcp.publisher)}; nodes ${share(shoal.tcp.nodes)}`))
  }
  if (shoal.linkSeconds != null) {
    const l = shoal.linkSeconds
    lines.push(row('links\' own time', `publisher's uplink ${fmtRatio(shoal.ratios.publisherLinkOverTStar, 3)} T*, a node's downlink ${fmtRatio(shoal.ratios.nodeDownlinkP50OverTStar, 3)} T* (median; p50 came ${fmtSeconds(shoal.completion.p50 - l.nodeDown.p50)} later)`))
  }
  if (shoal.upBusy != null) lines.push(row('node uplinks busy', `${fmtPct(shoal.upBusy.mean * 100, 0)} on average until the last finished (${fmtPct(shoal.upBusy.min * 100, 0)}–${fmtPct(shoal.upBusy.max * 100, 0)})`))
  if (shoal.steady != null) {
    const st = shoal.steady
    lines.push(row('steady state', `${fmtRatio(shoal.ratios.steadyPerFileOverTStar, 3)} T* per file (${fmtPct(st.from * 100, 0)}–${fmtPct(st.to * 100, 0)} done), start ${fmtSeconds(st.startSeconds)} = ${fmtRatio(st.startSeconds / tStar, 3)} T*`))
  }
  if (shoal.invalidBlocks > 0) lines.push(row('invalid blocks', shoal.invalidBlocks))
  lines.push(row('CPU during the phase', fmtCpu(shoal.cpu)))
  if (shoal.cpuCeiling != null) {
    const c = shoal.cpuCeiling
    lines.push(row('CPU ceiling', `${(c.bytesPerCpuSecond / 1e6).toFixed(1)} MB delivered per CPU-second → at most ${(c.maxSwarmBytesPerSec / 1e6).toFixed(0)} MB/s on ${shoal.cpu.cores} cores = ${fmtRatio(shoal.ratios.cpuFloorOverTStar)} T* (links allow ${(c.neededBytesPerSec / 1e6).toFixed(0)} MB/s)`))
  }
  if (http != null) lines.push(row('', `(HTTP: ${fmtCpu(http.cpu)})`))
  if (speedup != null) lines.push('', `  Shoal's speedup over one HTTP server: ${fmtRatio(speedup, 1)}× (HTTP max ÷ Shoal max)`)

  lines.push('', '  targets')
  for (const tg of targets) {
    const verdict = tg.pass == null ? 'n/a' : tg.pass ? 'pass' : 'FAIL'
    lines.push(`    ${tg.name.padEnd(44)} ${tg.shown.padEnd(12)} ${verdict}`)
  }

  lines.push('', '  per node          started      done    × T*   from publisher   from nodes         sent    duplicate')
  for (const n of [...shoal.nodes].sort((a, b) => a.seconds - b.seconds)) {
    const done = n.seconds === Infinity ? `${(n.fraction * 100).toFixed(0)} %`.padStart(8) : fmtSeconds(n.seconds).padStart(8)
    lines.push(`    ${n.name.padEnd(12)} ${fmtSeconds(n.startSeconds).padStart(8)}  ${done}  ${fmtRatio(n.seconds / tStar).padStart(6)}  ${fmtMiB(n.fromPublisher).padStart(14)}  ${fmtMiB(n.fromNodes).padStart(11)}  ${fmtMiB(n.sent).padStart(11)}  ${fmtMiB(n.duplicate).padStart(11)}`)
  }

  const notes = []
  const sources = shoal.completionSources.filter(x => x !== 'incomplete')
  if (sources.length > 0) notes.push(`completion times from: ${sources.join(', ')}; t0 from the ${shoal.t0Source}`)
  const started = shoal.nodes.map(n => n.startSeconds).filter(Number.isFinite)
  if (started.length > 0) notes.push(`nodes started downloading ${fmtSeconds(Math.min(...started))} to ${fmtSeconds(Math.max(...started))} after t0 (announcement propagation; counted in their times)`)
  if (mode === 'app') notes.push('the app limiter counts block bytes only (headers and protocol messages pass free), so T* itself is reachable in app mode')
  if (!shoal.publisherExited && !shoal.timedOut) notes.push(`the publisher did not exit within ${PUBLISHER_EXIT_GRACE_MS / 1000} s of the last completion, so its own upload counter is missing`)
  if (mode === 'netns') notes.push(`a tbf cap counts frame bytes: at best TCP carries ${fmtPct(payloadShare * 100)} of it (timestamps ${timestamps ? 'on' : 'off'}), so ~${(1 / payloadShare).toFixed(3)} T* is the practical floor here`)
  if (shoal.ratios.wireDownOverVerified > 1.25) notes.push(`the nodes' links carried ${fmtRatio(shoal.ratios.wireDownOverVerified)} × the block bytes they verified (headers alone explain ~${(1 / payloadShare).toFixed(2)} ×): the rest is protocol traffic or blocks received but not counted (e.g. dropped, or still queued in a CPU-starved node)`)
  if (shoal.ratios.cpuFloorOverTStar > 0.8) notes.push(`the CPU ceiling (${fmtRatio(shoal.ratios.cpuFloorOverTStar)} T* even with both cores to itself) is close to or above T*: at this N × rate the run measures this machine's CPU, not the protocol — use fewer nodes or a lower --rate to see the links`)
  if (shoal.cpu.maxBusyPct >= 97 || shoal.cpu.avgBusyPct >= 85) notes.push(`CPU was near saturation during the Shoal phase (avg ${shoal.cpu.avgBusyPct.toFixed(0)} %, max ${shoal.cpu.maxBusyPct.toFixed(0)} %): the result may be CPU-bound, not link-bound — try fewer nodes or a lower --rate`)
  if (shoal.cpu.avgBusyPct - shoal.cpu.oursPct > 20) notes.push(`other processes${shoal.cpu.stealPct >= 5 ? ' and the hypervisor' : ''} took ~${(shoal.cpu.avgBusyPct - shoal.cpu.oursPct).toFixed(0)} % of the CPU during the Shoal phase (shared machine)`)
  lines.push('', ...notes.map(n => `  note: ${n}`))
  console.log(lines.join('\n'))
}

// ---------------------------------------------------------------------------------------------
// Cleanup and main

async function cleanupCommand () {
  if (process.getuid?.() !== 0) {
    console.log('not root: no network namespaces to remove')
  } else {
    const { removed, kept } = await cleanupLeftovers()
    console.log(removed.length > 0 ? `removed ${removed.length} namespace(s): ${removed.join(' ')}` : 'no leftover bench namespaces')
    if (kept.length > 0) console.log(`left ${kept.length} namespace(s) of a bench that is still running: ${kept.join(' ')}`)
  }
  const dirs = (await readdir(tmpdir())).filter(d => /^shoal-bench-\d+-/.test(d))
  for (const d of dirs) {
    const pid = Number(/^shoal-bench-(\d+)-/.exec(d)[1])
    let alive = true
    try { process.kill(pid, 0) } catch (err) { alive = err.code === 'EPERM' }
    if (alive && pid !== process.pid) continue
    // app-mode processes of a killed bench are in no namespace: find them by this unique work
    // dir in their arguments, and stop each by its pid
    const dir = join(tmpdir(), d)
    for (const p of (await readdir('/proc')).filter(p => /^\d+$/.test(p) && Number(p) !== process.pid)) {
      const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '')
      if (cmd.includes(`${dir}/`)) {
        try {
          process.kill(Number(p), 'SIGKILL')
          console.log(`killed leftover process ${p}`)
        } catch {}
      }
    }
    await rm(dir, { recursive: true, force: true })
    console.log(`removed temp dir ${join(tmpdir(), d)}`)
  }
}

/** Stops every process, deletes the namespaces, removes the temp dir unless kept */
async function cleanUp (state, { keep, failed }) {
  await state.procs.stop()
  state.cpu.stop()
  if (state.topology != null) {
    const left = await state.topology.teardown()
    if (left.length > 0) console.error(`bench: could not delete namespace(s) ${left.join(' ')} — run \`node scripts/bench/bench.mjs --cleanup\``)
  }
  if (state.work == null) return
  if (keep || failed) {
    console.log(`work dir kept: ${state.work}`)
  } else {
    await rm(state.work, { recursive: true, force: true })
  }
}

async function main () {
  let opts
  try {
    opts = readOptions(process.argv.slice(2))
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    console.error(`bench: ${err.message}`)
    process.exit(2)
  }
  if (opts.help) {
    process.stdout.write(USAGE)
    return
  }
  if (opts.cleanup) {
    await cleanupCommand()
    return
  }

  const cpu = new CpuMonitor()
  await cpu.start()
  const state = { procs: benchProcesses(cpu), cpu, topology: undefined, work: undefined }
  let cleaning
  const finish = async (code, failed) => {
    cleaning ??= cleanUp(state, { keep: opts.keep, failed })
    await cleaning.catch((err) => { console.error(`bench: cleanup failed: ${err.message}`) })
    process.exit(code)
  }
  // Last resort if the process exits some other way: no namespace or child may outlive it.
  process.on('exit', () => {
    state.procs.killAllNow()
    state.topology?.teardownSync()
  })
  const onSignal = (signal) => {
    if (cleaning != null) {
      state.procs.killAllNow() // a second signal: stop waiting politely
      return
    }
    state.procs.stopping = true // children may get the same signal from the terminal and exit first
    console.error(`\n${signal}: stopping the benchmark and cleaning up...`)
    void finish(signal === 'SIGINT' ? 130 : 143, false)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const onCrash = (err) => {
    console.error(`bench: unexpected error: ${err?.stack ?? err}`)
    void finish(1, true)
  }
  process.on('uncaughtException', onCrash)
  process.on('unhandledRejection', onCrash)

  try {
    await runBench(opts, state)
  } catch (err) {
    if (err instanceof BenchError) {
      console.error(`bench failed: ${err.message}${err.logPath != null ? ` — see ${err.logPath}` : ''}`)
    } else {
      console.error(`bench failed: unexpected error: ${err?.stack ?? err}`)
    }
    return await finish(1, true)
  }
  await finish(0, false)
}

main().catch((err) => {
  console.error(`bench: unexpected error: ${err?.stack ?? err}`)
  process.exit(1)
})
