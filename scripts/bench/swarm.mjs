/**
 * The processes of a benchmark run and the Shoal phase: N node daemons and one publisher, each
 * a separate process (inside its own network namespace in netns mode), meeting through a shared
 * rendezvous directory. Completion times come from the nodes' status files (`completedAt`), or,
 * for builds without it, from the timestamp of each node's `complete:` log line, or at worst from
 * the poll that first saw the artifact complete; each time says which.
 */
import { join } from 'node:path'
import { NODE_BIN, PUBLISHER_BIN, Processes, REPO_ROOT, RunError as BenchError, describeExit, lastLineOf } from '../lib/processes.mjs'
import { artifactOf, completeLineAt, readJson, sha256OfFile, transferOf } from '../lib/status.mjs'
import { fmtMiB, fmtPct, sleep } from './stats.mjs'

export { BenchError, NODE_BIN, PUBLISHER_BIN, REPO_ROOT, describeExit, lastLineOf }
const POLL_MS = 500
/** If no node has even heard of the artifact this long after the announcement, stop waiting */
const ANNOUNCE_REACH_MS = 60_000

// ---------------------------------------------------------------------------------------------
// Processes: see scripts/lib/processes.mjs. The bench gives its daemons a longer grace period to
// shut down (8 s): a node inside a busy namespace may take a while to close its connections.

/** Every process the bench starts, each CPU-tracked */
export function benchProcesses (cpu) {
  return new Processes({ killGraceMs: 8_000, onStart: (pid) => { cpu?.track(pid) } })
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
    manifestCopies: undefined,
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
      const copies = /and (\d+) cop(?:y|ies) of the manifest/.exec(line)?.[1]
      if (copies != null) pub.manifestCopies = Number(copies)
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

/**
 * Polls until every node reports the artifact complete, printing a progress line every
 * `run.progressEveryMs`. Resolves `{ timedOut, timeline }`: on timeout the caller still reports
 * how far the swarm got before failing the run. `timeline` holds one `{ at, avg }` per line
 * (epoch ms, the nodes' mean fraction of the file).
 */
export async function followShoal (run, nodes, pub, progress) {
  const deadline = pub.announcedAt + run.phaseTimeoutMs
  let lastLine = 0
  let lastBytes = 0
  let lastAt = Date.now()
  const timeline = []
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
      timeline.push({ at: now, avg })
      await progress(`shoal: ${done}/${nodes.length} complete, avg ${fmtPct(avg * 100, 0)}, goodput ${(rate / 1e6).toFixed(1)} MB/s`, now - pub.announcedAt)
    }
    if (done === nodes.length) return { timedOut: false, timeline }
    if (now - pub.announcedAt > ANNOUNCE_REACH_MS && nodes.every(n => artifactOf(n, run.fileName) == null)) {
      throw new BenchError(`no node heard of the artifact within ${ANNOUNCE_REACH_MS / 1000} s of the announcement` +
        (run.mode === 'app' && run.nodes >= 9 ? ' (with 10+ peers on one IP, gossipsub\'s default IP-colocation score penalty may be graylisting them; netns mode gives each process its own IP)' : ''), nodes[0].logPath)
    }
    if (now > deadline) return { timedOut: true, timeline }
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
    const at = await completeLineAt(node.logPath, fileName)
    if (at != null) {
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
