/**
 * The processes of a benchmark run and the Shoal phase: N node daemons and one publisher, each
 * a separate process (inside its own network namespace in netns mode), meeting through a shared
 * rendezvous directory. Completion times come from the nodes' status files (`completedAt`), or,
 * for builds without it, from the timestamp of each node's `complete:` log line, or at worst from
 * the poll that first saw the artifact complete; each time says which.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { closeSync, createReadStream, openSync, writeSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { fmtMiB, fmtPct, sleep } from './stats.mjs'

export const REPO_ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))))
export const NODE_BIN = join(REPO_ROOT, 'apps/node/bin/shoal-node.js')
export const PUBLISHER_BIN = join(REPO_ROOT, 'apps/publisher/bin/publisher.js')
const KILL_GRACE_MS = 8_000
const POLL_MS = 500
/** If no node has even heard of the artifact this long after the announcement, stop waiting */
const ANNOUNCE_REACH_MS = 60_000

/** A failure worth one line, with the log that explains it (the work dir is then kept) */
export class BenchError extends Error {
  constructor (message, logPath) {
    super(message)
    this.logPath = logPath
  }
}

// ---------------------------------------------------------------------------------------------
// Processes

/**
 * Every process the bench starts, by pid. `failure` rejects as soon as one of them stops when it
 * should not, so every wait can race against it. Stopping signals each pid on its own: never a
 * process group or a name, since other engineers run the same binaries on this machine.
 */
export class Processes {
  constructor (cpu) {
    this.cpu = cpu
    this.list = []
    this.stopping = false
    this.failure = new Promise((resolve, reject) => { this.fail = reject })
    this.failure.catch(() => {})
  }

  /**
   * Starts `argv` (e.g. `[ip, netns, exec, ns, node, script, …]`: `ip netns exec` execs in place,
   * so the pid is the program's own). Output goes to `logPath`; with `onStdoutLine` and/or
   * `onStderrLine`, that stream is also read line by line (and still copied to the log).
   */
  start (name, argv, { logPath, onStdoutLine, onStderrLine, stdin = false }) {
    const fd = openSync(logPath, 'a')
    const child = spawn(argv[0], argv.slice(1), {
      cwd: REPO_ROOT,
      stdio: [stdin ? 'pipe' : 'ignore', onStdoutLine != null ? 'pipe' : fd, onStderrLine != null ? 'pipe' : fd]
    })
    const proc = { name, child, pid: child.pid, logPath, exit: undefined, startedAt: Date.now() }
    let open = 1
    const closeLog = () => { if (--open === 0) closeSync(fd) }
    for (const [stream, onLine] of [[child.stdout, onStdoutLine], [child.stderr, onStderrLine]]) {
      if (onLine == null) continue
      open++
      createInterface({ input: stream, crlfDelay: Infinity })
        .on('line', (line) => {
          try { writeSync(fd, `${line}\n`) } catch {}
          onLine(line, Date.now())
        })
        .on('close', closeLog)
    }
    proc.exited = new Promise((resolve) => {
      child.on('error', (err) => {
        proc.exit ??= { code: null, signal: null, error: err }
        resolve(proc.exit)
      })
      child.on('close', (code, signal) => { // after 'exit', once its pipes are drained
        proc.exit ??= { code, signal }
        resolve(proc.exit)
      })
    })
    proc.exited.then(closeLog)
    this.cpu?.track(child.pid)
    this.list.push(proc)
    return proc
  }

  /** A process that must not exit on its own while the bench runs (a node daemon) */
  failOnAnyExit (proc) {
    proc.exited.then((exit) => {
      if (!this.stopping && !proc.expectedExit) this.fail(new BenchError(`${proc.name} exited early (${describeExit(exit)})`, proc.logPath))
    })
  }

  /** A process that must exit 0 (publisher, HTTP client) */
  failOnError (proc, what = proc.name) {
    proc.exited.then(async (exit) => {
      if (this.stopping || proc.expectedExit || exit.code === 0) return
      const why = await lastLineOf(proc.logPath)
      this.fail(new BenchError(`${what} failed (${describeExit(exit)}${why != null ? `: ${why}` : ''})`, proc.logPath))
    })
  }

  /** SIGTERM the given processes (default: all), SIGKILL any still there after a grace period */
  async stop (procs = this.list) {
    if (procs === this.list) this.stopping = true
    for (const p of procs) p.expectedExit = true
    await Promise.all(procs.map(stopProcess))
  }

  killAllNow () {
    for (const proc of this.list) if (proc.exit == null) signalPid(proc.pid, 'SIGKILL')
  }
}

async function stopProcess (proc) {
  if (proc.exit != null || proc.pid == null) return
  signalPid(proc.pid, 'SIGTERM')
  const timer = setTimeout(() => { signalPid(proc.pid, 'SIGKILL') }, KILL_GRACE_MS)
  await proc.exited
  clearTimeout(timer)
}

function signalPid (pid, signal) {
  try {
    process.kill(pid, signal)
  } catch {} // already gone
}

export function describeExit (exit) {
  if (exit.error != null) return `could not start: ${exit.error.message}`
  return exit.signal != null ? `killed by ${exit.signal}` : `exit code ${exit.code}`
}

export async function lastLineOf (path) {
  const text = await readFile(path, 'utf8').catch(() => '')
  return text.split('\n').map(l => l.trim()).filter(l => l !== '').at(-1)
}

/** Waits for `promise`, the first process failure, or `ms`; on timeout throws `message` */
export async function within (promise, ms, message, procs, logPath) {
  let timer
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new BenchError(message, logPath)), ms)
  })
  try {
    return await Promise.race([promise, timeout, procs.failure])
  } finally {
    clearTimeout(timer)
  }
}

// ---------------------------------------------------------------------------------------------
// Files

export async function sha256OfFile (path) {
  const hash = createHash('sha256')
  await pipeline(createReadStream(path), hash)
  return hash.digest('hex')
}

async function readJson (path) {
  try {
    return JSON.parse(await readFile(path, 'utf8'))
  } catch {
    return undefined // not written yet, or caught mid-rename
  }
}

// ---------------------------------------------------------------------------------------------
// The Shoal phase

/**
 * Starts the nodes and waits until each has written its status file (it is then listening and
 * has put its addresses in the rendezvous directory).
 *
 * @param {object} run  { procs, work, nodes, topology?, rateArgs, swarm, peersDir, listenFor(k) }
 */
export async function startNodes (run) {
  const nodes = []
  for (let i = 1; i <= run.nodes; i++) {
    const dir = join(run.work, `node-${i}`)
    const node = {
      name: `node-${i}`,
      index: i,
      dir,
      outputDir: join(dir, 'out'),
      statusFile: join(dir, 'status.json'),
      logPath: join(run.work, `node-${i}.log`),
      status: undefined,
      polledCompleteAt: undefined
    }
    node.proc = run.procs.start(node.name, [...run.prefixFor(i), process.execPath, NODE_BIN,
      '--data-dir', dir,
      '--output-dir', node.outputDir,
      '--status-file', node.statusFile,
      '--listen', run.listenFor(i),
      '--peers-dir', run.peersDir,
      '--swarm', run.swarm,
      '--no-mdns',
      ...run.rateArgs
    ], { logPath: node.logPath })
    run.procs.failOnAnyExit(node.proc)
    nodes.push(node)
  }
  const deadline = Date.now() + run.startTimeoutMs
  for (;;) {
    await refreshStatuses(nodes)
    const missing = nodes.filter(n => n.status?.peerId == null)
    if (missing.length === 0) return nodes
    if (Date.now() > deadline) {
      throw new BenchError(`${missing.length}/${nodes.length} node(s) wrote no status file within ${run.startTimeoutMs / 1000} s (first: ${missing[0].name})`, missing[0].logPath)
    }
    await Promise.race([sleep(250), run.procs.failure])
  }
}

/** Re-reads every node's status.json; notes the first poll that saw the artifact complete */
export async function refreshStatuses (nodes, fileName) {
  const now = Date.now()
  await Promise.all(nodes.map(async (node) => {
    const status = await readJson(node.statusFile)
    if (status == null) return
    node.status = status
    const a = artifactOf(node, fileName)
    if (a?.complete === true && node.polledCompleteAt == null) node.polledCompleteAt = status.at ?? now
  }))
}

export function artifactOf (node, fileName) {
  const artifacts = node.status?.artifacts ?? []
  return artifacts.find(a => a.name === fileName)
}

/**
 * Starts the publisher and resolves once it has announced the artifact, with t0 = the moment its
 * "serving until" line arrived (an `announced at <epoch ms>` line, if a build prints one, wins).
 */
export async function startPublisher (run, file) {
  const pub = {
    logPath: join(run.work, 'publisher.log'),
    peerId: undefined,
    artifactId: undefined,
    announcedAt: undefined,
    t0Source: undefined,
    uploadedBytes: undefined,
    doneAt: undefined
  }
  let onAnnounced
  const announced = new Promise((resolve) => { onAnnounced = resolve })
  const onLine = (line, at) => {
    let m
    if ((m = /^publisher (\S+) listening/.exec(line)) != null) pub.peerId = m[1]
    else if ((m = /^artifact id (\S+)/.exec(line)) != null) pub.artifactId = m[1]
    else if ((m = /announced at (\d{12,})/.exec(line)) != null) {
      pub.announcedAt = Number(m[1])
      pub.t0Source = 'publisher timestamp'
    } else if (/^serving until/.test(line)) {
      if (pub.announcedAt == null) {
        pub.announcedAt = at
        pub.t0Source = 'bench read the publisher\'s "serving until" line'
      }
      onAnnounced()
    } else if ((m = /^done: .* uploaded (\d+) bytes/.exec(line)) != null) {
      pub.uploadedBytes = Number(m[1])
      pub.doneAt = at
    }
  }
  pub.proc = run.procs.start('publisher', [...run.prefixFor(0), process.execPath, PUBLISHER_BIN,
    'push', file,
    '--replicas', String(run.nodes),
    '--chunk-size', String(run.chunkSize),
    '--listen', run.listenFor(0),
    '--peers-dir', run.peersDir,
    '--swarm', run.swarm,
    '--no-mdns',
    '--data-dir', join(run.work, 'publisher'),
    '--timeout', String(Math.ceil(run.phaseTimeoutMs / 1000) + 60),
    ...run.rateArgs
  ], { logPath: pub.logPath, onStderrLine: onLine, onStdoutLine: (line) => { if (/^\S{20,}$/.test(line)) pub.artifactId ??= line } })
  run.procs.failOnError(pub.proc, 'the publisher')
  await within(announced, run.announceTimeoutMs,
    `the publisher did not announce within ${run.announceTimeoutMs / 1000} s (chunking ${fmtMiB(run.fileBytes)})`, run.procs, pub.logPath)
  return pub
}

/** Per-node transfer figures from its status; `publisher` is the publisher's peer id */
export function transferOf (node, fileName, publisher) {
  const a = artifactOf(node, fileName)
  if (a == null) return undefined
  const fromPublisher = publisher != null ? a.bytesReceivedFrom?.[publisher] ?? 0 : 0
  return {
    fraction: a.chunks > 0 ? a.have / a.chunks : 0,
    complete: a.complete === true,
    received: a.bytesReceived ?? 0,
    fromPublisher,
    fromNodes: (a.bytesReceived ?? 0) - fromPublisher,
    sent: a.bytesSent ?? 0,
    duplicate: a.duplicateBytes ?? 0,
    invalid: a.invalidBlocks ?? 0,
    startedAt: a.startedAt,
    completedAt: a.completedAt,
    path: a.path
  }
}

/**
 * Polls until every node reports the artifact complete, printing a progress line every
 * `run.progressEveryMs`. Resolves `{ timedOut }`: on timeout the caller still reports how far
 * the swarm got before failing the run.
 */
export async function followShoal (run, nodes, pub, progress) {
  const deadline = pub.announcedAt + run.phaseTimeoutMs
  let lastLine = 0
  let lastBytes = 0
  let lastAt = Date.now()
  for (;;) {
    await refreshStatuses(nodes, run.fileName)
    pub.peerId ??= nodes.map(n => artifactOf(n, run.fileName)?.publisher).find(id => id != null)
    const done = nodes.filter(n => artifactOf(n, run.fileName)?.complete === true).length
    const now = Date.now()
    if (now - lastLine >= run.progressEveryMs || done === nodes.length) {
      const transfers = nodes.map(n => transferOf(n, run.fileName, pub.peerId)).filter(t => t != null)
      const received = transfers.reduce((s, t) => s + t.received, 0)
      const avg = transfers.reduce((s, t) => s + t.fraction, 0) / nodes.length
      const rate = (received - lastBytes) / Math.max(0.001, (now - lastAt) / 1000)
      lastBytes = received
      lastAt = now
      lastLine = now
      await progress(`shoal: ${done}/${nodes.length} complete, avg ${fmtPct(avg * 100, 0)}, goodput ${(rate / 1e6).toFixed(1)} MB/s`, now - pub.announcedAt)
    }
    if (done === nodes.length) return { timedOut: false }
    if (now - pub.announcedAt > ANNOUNCE_REACH_MS && nodes.every(n => artifactOf(n, run.fileName) == null)) {
      throw new BenchError(`no node heard of the artifact within ${ANNOUNCE_REACH_MS / 1000} s of the announcement` +
        (run.mode === 'app' && run.nodes >= 9 ? ' (with 10+ peers on one IP, gossipsub\'s default IP-colocation score penalty may be graylisting them; netns mode gives each process its own IP)' : ''), nodes[0].logPath)
    }
    if (now > deadline) return { timedOut: true }
    await Promise.race([sleep(POLL_MS), run.procs.failure])
  }
}

/**
 * Each node's completion time in epoch ms and where it came from: the status file's
 * `completedAt`, else its `complete:` log line, else the poll that first saw it complete.
 */
export async function completionTimes (nodes, fileName) {
  await Promise.all(nodes.map(async (node) => {
    const a = artifactOf(node, fileName)
    if (a?.complete !== true) {
      node.completedAt = undefined
      node.completedSource = 'incomplete'
      return
    }
    if (Number.isFinite(a?.completedAt)) {
      node.completedAt = a.completedAt
      node.completedSource = 'status completedAt'
      return
    }
    const log = await readFile(node.logPath, 'utf8').catch(() => '')
    const line = log.split('\n').find(l => l.includes(` complete: ${fileName} `))
    const at = Date.parse(line?.split(' ')[0] ?? '')
    if (Number.isFinite(at)) {
      node.completedAt = at
      node.completedSource = 'node log line (ms)'
    } else {
      node.completedAt = node.polledCompleteAt
      node.completedSource = `status poll (±${POLL_MS + 500} ms)`
    }
  }))
}

/** sha256 of every node's copy, two at a time; returns the nodes whose copy differs or is missing */
export async function verifyCopies (nodes, fileName, expected) {
  const bad = []
  let next = 0
  await Promise.all([0, 1].map(async () => {
    while (next < nodes.length) {
      const node = nodes[next++]
      const path = artifactOf(node, fileName)?.path ?? join(node.outputDir, fileName)
      try {
        node.sha256 = await sha256OfFile(path)
        if (node.sha256 !== expected) bad.push({ node, path, why: 'sha256 differs' })
      } catch (err) {
        bad.push({ node, path, why: err.code ?? err.message })
      }
    }
  }))
  return bad
}
