#!/usr/bin/env node
/**
 * `pnpm demo` — a local Shoal swarm on 127.0.0.1.
 *
 * What it shows: one publisher pushes a random file to N node daemons, each a separate process,
 * that find each other through a shared rendezvous directory (no hand-made peer lists, no mDNS).
 * While the transfer runs it draws every node's progress from its status.json: how much it got
 * from the publisher and how much from other nodes, and how much it served. At the end it
 * verifies every node's copy against the source's sha256 and reports the completion times, the
 * publisher's upload as a multiple of the file size (1.0 means the swarm did the rest) and the
 * aggregate throughput.
 *
 * Plain ESM on Node 20 built-ins only. Every process it starts is stopped on exit, success or
 * not, and the temp dir is removed unless --keep is given or something failed.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { parseArgs } from 'node:util'
import { NODE_BIN, PUBLISHER_BIN, Processes, RunError as DemoError } from './lib/processes.mjs'
import { artifactOf, completeLineAt, readJson, sha256OfFile, transferOf } from './lib/status.mjs'

const LISTEN = '/ip4/127.0.0.1/tcp/0'
const MiB = 1024 * 1024
const NODES_READY_TIMEOUT_MS = 30_000
const PUBLISHER_TIMEOUT_S = 300
const POLL_MS = 400
const SUMMARY_EVERY_MS = 2_000
/** After the publisher reports success, how long the nodes' status files may lag behind */
const STATUS_LAG_GRACE_MS = 15_000
const KILL_GRACE_MS = 5_000

const USAGE = `Usage: pnpm demo [options]   (or: node scripts/demo.mjs [options])

Starts a local Shoal swarm on 127.0.0.1 (N node daemons + one publisher), pushes a
random file through it with live progress, verifies every copy by sha256 and prints
a summary. Everything runs in a temp dir that is removed afterwards.

Options (environment variable in brackets):
  --nodes <n>     number of node daemons [SHOAL_DEMO_NODES] (default 8)
  --size <MiB>    size of the random file in MiB [SHOAL_DEMO_SIZE_MB] (default 64)
  --keep          keep the temp dir (logs, status files, copies) and print its path
  -h, --help      show this help
`


class UsageError extends Error {}

// ---------------------------------------------------------------------------------------------
// Options

function readOptions (argv, env) {
  let values
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        nodes: { type: 'string' },
        size: { type: 'string' },
        keep: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' }
      }
    }))
  } catch (err) {
    throw new UsageError(`${err.message.split('\n')[0]} — see --help`)
  }
  return {
    help: values.help === true,
    keep: values.keep === true,
    nodes: positiveInteger(values.nodes ?? env.SHOAL_DEMO_NODES ?? '8', '--nodes'),
    sizeMiB: positiveInteger(values.size ?? env.SHOAL_DEMO_SIZE_MB ?? '64', '--size')
  }
}

function positiveInteger (raw, flag) {
  const n = Number(raw)
  if (!/^\d+$/.test(String(raw).trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`${flag} must be a positive integer, got "${raw}"`)
  }
  return n
}

// ---------------------------------------------------------------------------------------------
// Files

/** Streams `sizeMiB` MiB of random bytes to `path` in 1 MiB pieces; returns the sha256 (hex) */
async function writeRandomFile (path, sizeMiB) {
  const hash = createHash('sha256')
  async function * pieces () {
    for (let i = 0; i < sizeMiB; i++) {
      const piece = randomBytes(MiB)
      hash.update(piece)
      yield piece
    }
  }
  await pipeline(Readable.from(pieces()), createWriteStream(path))
  return hash.digest('hex')
}

function startNodes (procs, work, count) {
  const nodes = []
  for (let i = 1; i <= count; i++) {
    const dir = join(work, `node-${i}`)
    const statusFile = join(dir, 'status.json')
    const proc = procs.start(`node-${i}`, [
      process.execPath, NODE_BIN,
      '--data-dir', dir,
      '--listen', LISTEN,
      '--peers-dir', join(work, 'peers'),
      '--no-mdns',
      '--status-file', statusFile
    ], { logPath: join(work, `node-${i}.log`) })
    procs.failOnAnyExit(proc)
    nodes.push({ name: `node-${i}`, dir, statusFile, proc, status: undefined, completedAt: undefined })
  }
  return nodes
}

/** Resolves once every node has written its status file; fails after NODES_READY_TIMEOUT_MS */
async function waitForNodesReady (procs, nodes) {
  const deadline = Date.now() + NODES_READY_TIMEOUT_MS
  for (;;) {
    await refreshStatuses(nodes)
    const missing = nodes.filter(n => n.status?.peerId == null)
    if (missing.length === 0) return
    if (Date.now() > deadline) {
      throw new DemoError(`${missing.length}/${nodes.length} node(s) wrote no status file within ${NODES_READY_TIMEOUT_MS / 1000} s (first: ${missing[0].name})`, missing[0].proc.logPath)
    }
    await Promise.race([sleep(200), procs.failure])
  }
}

function startPublisher (procs, work, file, replicas) {
  const proc = procs.start('publisher', [
    process.execPath, PUBLISHER_BIN, 'push', file,
    '--replicas', String(replicas),
    '--listen', LISTEN,
    '--peers-dir', join(work, 'peers'),
    '--no-mdns',
    '--data-dir', join(work, 'publisher'),
    '--timeout', String(PUBLISHER_TIMEOUT_S)
  ], { logPath: join(work, 'publisher.log'), captureStdout: true })
  procs.failOnError(proc, 'the publisher')
  return proc
}

// ---------------------------------------------------------------------------------------------
// Progress

/** Re-reads every node's status.json and notes when each first reported completion */
async function refreshStatuses (nodes, fileName) {
  await Promise.all(nodes.map(async (node) => {
    const status = await readJson(node.statusFile)
    if (status == null) return
    node.status = status
    const artifact = artifactOf(node, fileName)
    if (artifact?.complete === true && node.completedAt == null) node.completedAt = status.at ?? Date.now()
  }))
}

/** The publisher's peer id: from the nodes' announcements, else from the publisher's own log */
async function publisherPeerId (nodes, fileName, publisherLog) {
  for (const node of nodes) {
    const id = artifactOf(node, fileName)?.publisher
    if (id != null) return id
  }
  const log = await readFile(publisherLog, 'utf8').catch(() => '')
  return /^publisher (\S+) listening/m.exec(log)?.[1]
}

/** What the publisher says it uploaded (its `done:` line), or undefined */
async function publisherBytesSent (publisherLog) {
  const log = await readFile(publisherLog, 'utf8').catch(() => '')
  const sent = /^done: .* uploaded (\d+) bytes/m.exec(log)?.[1]
  return sent != null ? Number(sent) : undefined
}

/**
 * Refines each node's completion time from the timestamp of its `complete:` log line: the status
 * file is only rewritten every 500 ms, the log line is written the moment the copy is in place.
 */
async function readCompletionTimes (nodes, fileName) {
  await Promise.all(nodes.map(async (node) => {
    node.completedAt = await completeLineAt(node.proc.logPath, fileName) ?? node.completedAt
  }))
}

/** Redraws a block of lines in place on a TTY */
class LiveBlock {
  constructor (out) {
    this.out = out
    this.lines = 0
  }

  draw (lines) {
    const width = Math.max(20, (this.out.columns || 120) - 1)
    const up = this.lines > 0 ? `\x1b[${this.lines}F` : ''
    this.out.write(`${up}\x1b[J${lines.map(l => l.slice(0, width)).join('\n')}\n`)
    this.lines = lines.length
  }
}

function progressLines (nodes, ctx) {
  const pub = ctx.publisher
  const header = `Shoal demo · ${nodes.length} nodes · ${mib(ctx.size)} · elapsed ${seconds(Date.now() - ctx.startedAt)}` +
    ` · publisher ${ctx.publisherProc.exit == null ? 'running' : 'done'}${pub != null ? ` ${shortId(pub)}` : ''}`
  const rows = nodes.map((node) => {
    const t = transferOf(node, ctx.fileName, pub)
    if (t == null) return `${node.name.padEnd(8)} ${bar(0)}   waiting for the announcement`
    const done = node.completedAt != null ? `  done ${seconds(node.completedAt - ctx.startedAt)}` : ''
    return `${node.name.padEnd(8)} ${bar(t.fraction)} ${percent(t.fraction)}  ${String(t.peers).padStart(2)} peers` +
      `  from pub ${mibCol(t.fromPublisher)}  from nodes ${mibCol(t.fromNodes)}  sent ${mibCol(t.sent)}${done}`
  })
  return [header, ...rows]
}

function summaryLine (nodes, ctx) {
  const transfers = nodes.map(n => transferOf(n, ctx.fileName, ctx.publisher)).filter(t => t != null)
  const complete = nodes.filter(n => n.completedAt != null).length
  const avg = transfers.reduce((s, t) => s + t.fraction, 0) / nodes.length
  const fromPub = transfers.reduce((s, t) => s + t.fromPublisher, 0)
  const fromNodes = transfers.reduce((s, t) => s + t.fromNodes, 0)
  return `[${seconds(Date.now() - ctx.startedAt).padStart(7)}] complete ${complete}/${nodes.length}, avg ${percent(avg).trim()},` +
    ` from publisher ${mib(fromPub)} (${(fromPub / ctx.size).toFixed(2)} x file), from nodes ${mib(fromNodes)}`
}

/**
 * Polls the status files until every node reports the artifact complete. The publisher exiting 0
 * means the same thing; the status files may trail it by a poll or two.
 */
async function followTransfer (procs, nodes, ctx) {
  const tty = process.stdout.isTTY === true
  const live = tty ? new LiveBlock(process.stdout) : undefined
  let lastSummary = 0
  for (;;) {
    await refreshStatuses(nodes, ctx.fileName)
    ctx.publisher ??= nodes.map(n => artifactOf(n, ctx.fileName)?.publisher).find(id => id != null)
    const allComplete = nodes.every(n => n.completedAt != null)
    if (live != null) {
      live.draw(progressLines(nodes, ctx))
    } else if (allComplete || Date.now() - lastSummary >= SUMMARY_EVERY_MS) {
      lastSummary = Date.now()
      console.log(summaryLine(nodes, ctx))
    }
    if (allComplete) return
    const pubExit = ctx.publisherProc.exit
    if (pubExit?.code === 0 && Date.now() - ctx.publisherExitedAt > STATUS_LAG_GRACE_MS) {
      const behind = nodes.find(n => n.completedAt == null)
      throw new DemoError(`the publisher reported ${nodes.length} replicas but ${behind.name} never reported the artifact complete`, behind.proc.logPath)
    }
    await Promise.race([sleep(POLL_MS), procs.failure])
  }
}

// ---------------------------------------------------------------------------------------------
// Result

async function verifyCopies (nodes, fileName, expected) {
  const results = await Promise.all(nodes.map(async (node) => {
    const path = join(node.dir, 'artifacts', fileName)
    try {
      return { node, path, ok: (await sha256OfFile(path)) === expected }
    } catch (err) {
      return { node, path, ok: false, error: err.code ?? err.message }
    }
  }))
  return results.filter(r => !r.ok)
}

function printSummary (nodes, ctx) {
  const transfers = nodes.map(n => transferOf(n, ctx.fileName, ctx.publisher))
  const finishedAt = Math.max(...nodes.map(n => n.completedAt))
  const totalMs = finishedAt - ctx.startedAt
  const sum = (key) => transfers.reduce((s, t) => s + (t?.[key] ?? 0), 0)
  const fromPub = sum('fromPublisher')
  const fromNodes = sum('fromNodes')
  const lines = [
    '',
    `All ${nodes.length} copies match the source (sha256 ${ctx.sha256.slice(0, 16)}…).`,
    `  file              ${ctx.fileName}, ${mib(ctx.size)}`,
    `  total time        ${seconds(totalMs)} (publisher start → last node complete)`,
    `  per node          ${nodes.map(n => `${n.name} ${seconds(n.completedAt - ctx.startedAt)}`).join(', ')}`,
    `  received          ${mib(fromPub)} from the publisher, ${mib(fromNodes)} from other nodes` +
      ` (${percentOf(fromNodes, fromPub + fromNodes)} peer-to-peer)`,
    `  publisher upload  ${(fromPub / ctx.size).toFixed(2)} x the file size (received by the nodes)` +
      (ctx.publisherSent != null ? `; the publisher counts ${(ctx.publisherSent / ctx.size).toFixed(2)} x sent` : ''),
    `  throughput        ${mib(nodes.length * ctx.size / (totalMs / 1000))}/s aggregate (${nodes.length} x ${mib(ctx.size)} in ${seconds(totalMs)})`
  ]
  const duplicate = sum('duplicate')
  const invalid = sum('invalid')
  if (duplicate > 0 || invalid > 0) lines.push(`  waste             ${mib(duplicate)} duplicate, ${invalid} invalid block(s)`)
  if (ctx.publisherProc.stdout.trim() !== '') lines.push(`  artifact id       ${ctx.publisherProc.stdout.trim()}`)
  console.log(lines.join('\n'))
}

// ---------------------------------------------------------------------------------------------
// Formatting

function mib (bytes) {
  return `${(bytes / MiB).toFixed(1)} MiB`
}

function mibCol (bytes) {
  return mib(bytes).padStart(9)
}

function seconds (ms) {
  return `${(ms / 1000).toFixed(1)} s`
}

function percent (fraction) {
  return `${(fraction * 100).toFixed(1)}%`.padStart(6)
}

function percentOf (part, whole) {
  return whole > 0 ? `${Math.round(part / whole * 100)}%` : '0%'
}

function bar (fraction, width = 24) {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width)
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`
}

function shortId (peerId) {
  return `…${peerId.slice(-8)}`
}

function sleep (ms) {
  return new Promise(resolve => setTimeout(resolve, ms))
}

// ---------------------------------------------------------------------------------------------
// Main

async function runDemo (opts, procs, work) {
  const fileName = `shoal-demo-${opts.sizeMiB}MiB.bin`
  const file = join(work, fileName)
  console.log(`work dir ${work}`)
  console.log(`writing ${opts.sizeMiB} MiB of random data to ${fileName}...`)
  const sha256 = await writeRandomFile(file, opts.sizeMiB)
  await mkdir(join(work, 'peers'), { recursive: true })

  console.log(`starting ${opts.nodes} nodes (logs: ${join(work, 'node-<i>.log')})...`)
  const nodes = startNodes(procs, work, opts.nodes)
  await waitForNodesReady(procs, nodes)

  console.log(`all nodes up; publishing ${fileName} to ${opts.nodes} replicas (log: ${join(work, 'publisher.log')})`)
  const ctx = { fileName, size: opts.sizeMiB * MiB, sha256, startedAt: Date.now(), publisher: undefined, publisherExitedAt: 0 }
  ctx.publisherProc = startPublisher(procs, work, file, opts.nodes)
  ctx.publisherProc.exited.then(() => { ctx.publisherExitedAt = Date.now() })
  await followTransfer(procs, nodes, ctx)
  // The publisher exits by itself once it counts all replicas; let it, to show the artifact id.
  await Promise.race([ctx.publisherProc.exited, sleep(KILL_GRACE_MS), procs.failure])
  await refreshStatuses(nodes, fileName) // the counters may have moved since the last poll
  await readCompletionTimes(nodes, fileName)
  ctx.publisher ??= await publisherPeerId(nodes, fileName, ctx.publisherProc.logPath)
  ctx.publisherSent = await publisherBytesSent(ctx.publisherProc.logPath)

  const mismatched = await verifyCopies(nodes, fileName, sha256)
  if (mismatched.length > 0) {
    const list = mismatched.map(m => `${m.node.name} (${m.error ?? 'sha256 differs'}: ${m.path})`).join(', ')
    throw new DemoError(`copies differ from the source: ${list}`, mismatched[0].node.proc.logPath)
  }
  printSummary(nodes, ctx)
}

/** Stops every process, then removes the work dir unless it must be kept; returns the exit code */
async function cleanUp (procs, work, { keep, failed }) {
  await procs.stop()
  if (work == null) return
  if (keep || failed) {
    console.log(`work dir kept: ${work}`)
  } else {
    await rm(work, { recursive: true, force: true })
  }
}

async function main () {
  let opts
  try {
    opts = readOptions(process.argv.slice(2), process.env)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    console.error(`demo: ${err.message}`)
    process.exit(2)
  }
  if (opts.help) {
    process.stdout.write(USAGE)
    return
  }

  const procs = new Processes()
  const work = await mkdtemp(join(tmpdir(), 'shoal-demo-'))
  let cleaning
  const finish = async (code, failed) => {
    cleaning ??= cleanUp(procs, work, { keep: opts.keep, failed })
    await cleaning.catch((err) => { console.error(`demo: cleanup failed: ${err.message}`) })
    process.exit(code)
  }
  const onSignal = (signal) => {
    if (cleaning != null) {
      procs.killAllNow() // a second signal: stop waiting politely
      return
    }
    procs.stopping = true // children in our process group may get the same signal and exit first
    console.error(`\n${signal}: stopping the swarm...`)
    void finish(signal === 'SIGINT' ? 130 : 143, false)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const onCrash = (err) => {
    console.error(`demo: unexpected error: ${err?.stack ?? err}`)
    void finish(1, true)
  }
  process.on('uncaughtException', onCrash)
  process.on('unhandledRejection', onCrash)

  try {
    await runDemo(opts, procs, work)
  } catch (err) {
    if (err instanceof DemoError) {
      console.error(`demo failed: ${err.message}${err.logPath != null ? ` — see ${err.logPath}` : ''}`)
    } else {
      console.error(`demo failed: unexpected error: ${err?.stack ?? err}`)
    }
    return await finish(1, true)
  }
  await finish(0, false)
}

main().catch((err) => {
  console.error(`demo: unexpected error: ${err?.stack ?? err}`)
  process.exit(1)
})
