/**
 * `shoal-sim` (`pnpm sim`): run scenarios and print how they compare with T*.
 *
 * With no `--nodes` it runs the two reference scenarios: 5 GB to 1000 and to 5000 nodes, all
 * links 1 Gbit/s both ways, 4 MiB chunks.
 */
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { DEFAULT_CHUNK_SIZE, DEFAULT_MAX_PEERS } from './options.js'
import type { SimInit, SimProgress } from './options.js'
import { formatTable } from './report.js'
import type { SimResult } from './report.js'
import { simulate } from './simulate.js'
import { formatSeconds, formatSize, formatRate, parseRate, parseSize } from './units.js'

const USAGE = `Usage: pnpm sim [options]   (or: shoal-sim [options])

Simulates distributing one artifact from a publisher to N nodes with the real exchange
Scheduler and SuperSeeder over a modelled network, and reports completion times as ratios to
the Kumar-Ross bound T*. Without --nodes it runs the reference scenarios: 5 GB to 1000 and to
5000 nodes, 1 Gbit/s links, 4 MiB chunks.

Options:
  --nodes <n[,n...]>      downloading nodes; a list runs one scenario each (default 1000,5000)
  --size <bytes>          artifact size: bytes or 200MB, 5GB, 4GiB (default 5GB)
  --rate <rate>           every link, both ways: 1gbit, 100mbit, 125MB (bytes/s) (default 1gbit)
  --publisher-rate <rate> the publisher's link (default: --rate)
  --chunk-size <bytes>    bytes per chunk (default 4MiB)
  --latency-ms <min-max>  one-way latency per pair of nodes, uniform, e.g. 5-50 or 20 (default 5-50)
  --max-peers <n>         peers each node dials per artifact (default ${DEFAULT_MAX_PEERS})
  --accept-peers <n>      sessions at which a node refuses more dials (default max-peers + 2,
                          the exchange's acceptPeersPerArtifact)
  --publisher-peers <n>   nodes connected to the publisher (default max-peers)
  --publisher <mode>      super-seed or seed (default super-seed)
  --upload-slots <n>      blocks a node sends at once; its requesters take turns, one block
                          each; 0 or inf: no limit (default: no limit, as the exchange)
  --publisher-upload-slots <n>
                          the publisher's upload slots (default: --upload-slots)
  --seed <n>              random seed for topology, latencies and schedulers (default 1)
  --dt-ms <ms>            simulation time step (default 10)
  --reallocate <n>        passes re-offering unused bandwidth per step (default 1)
  --json <file>           also write the results (with every node's completion time) as JSON
  -q, --quiet             no progress on stderr
  -h, --help              show this help
`

class UsageError extends Error {}

interface CliOptions {
  nodes: number[]
  init: Omit<SimInit, 'nodes'>
  json?: string
  quiet: boolean
}

function readOptions (argv: string[]): CliOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      nodes: { type: 'string' },
      size: { type: 'string' },
      rate: { type: 'string' },
      'publisher-rate': { type: 'string' },
      'chunk-size': { type: 'string' },
      'latency-ms': { type: 'string' },
      'max-peers': { type: 'string' },
      'accept-peers': { type: 'string' },
      'publisher-peers': { type: 'string' },
      publisher: { type: 'string' },
      'upload-slots': { type: 'string' },
      'publisher-upload-slots': { type: 'string' },
      seed: { type: 'string' },
      'dt-ms': { type: 'string' },
      reallocate: { type: 'string' },
      json: { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (values.help === true) return undefined
  const nodes = (values.nodes ?? '1000,5000').split(',').map(n => integer('--nodes', n, 1))
  const rate = parseRate(values.rate ?? '1gbit')
  const init: Omit<SimInit, 'nodes'> = {
    size: parseSize(values.size ?? '5GB'),
    chunkSize: values['chunk-size'] == null ? DEFAULT_CHUNK_SIZE : parseSize(values['chunk-size']),
    link: { up: rate, down: rate }
  }
  if (init.size < 1) throw new UsageError('--size must be at least 1 byte')
  if ((init.chunkSize ?? 0) < 1) throw new UsageError('--chunk-size must be at least 1 byte')
  if (values['publisher-rate'] != null) {
    const p = parseRate(values['publisher-rate'])
    init.publisherLink = { up: p, down: p }
  }
  if (values['latency-ms'] != null) {
    const m = /^\s*([0-9.]+)\s*(?:-\s*([0-9.]+))?\s*$/.exec(values['latency-ms'])
    const min = Number(m?.[1])
    const max = m?.[2] == null ? min : Number(m[2])
    if (m == null || !(min >= 0) || !(max >= min)) throw new UsageError(`--latency-ms must be <min>-<max> or <ms>, got "${values['latency-ms']}"`)
    init.latencyMs = [min, max]
  }
  if (values['max-peers'] != null) init.maxPeers = integer('--max-peers', values['max-peers'], 0)
  if (values['accept-peers'] != null) init.acceptPeers = integer('--accept-peers', values['accept-peers'], init.maxPeers ?? DEFAULT_MAX_PEERS)
  if (values['publisher-peers'] != null) init.publisherPeers = integer('--publisher-peers', values['publisher-peers'], 1)
  if (values.publisher != null) {
    if (values.publisher !== 'seed' && values.publisher !== 'super-seed') throw new UsageError(`--publisher must be super-seed or seed, got "${values.publisher}"`)
    init.publisherMode = values.publisher
  }
  if (values['upload-slots'] != null) init.uploadSlots = slotCount('--upload-slots', values['upload-slots'])
  if (values['publisher-upload-slots'] != null) init.publisherUploadSlots = slotCount('--publisher-upload-slots', values['publisher-upload-slots'])
  if (values.seed != null) init.seed = integer('--seed', values.seed, 0)
  if (values['dt-ms'] != null) {
    const dt = Number(values['dt-ms'])
    if (!(dt > 0)) throw new UsageError(`--dt-ms must be a positive number, got "${values['dt-ms']}"`)
    init.dtMs = dt
  }
  if (values.reallocate != null) init.reallocatePasses = integer('--reallocate', values.reallocate, 0)
  return { nodes, init, json: values.json, quiet: values.quiet === true }
}

function integer (flag: string, text: string, min: number): number {
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`${flag} must be an integer >= ${min}, got "${text}"`)
  return n
}

/** A slot count: an integer >= 0, or inf / infinity / unlimited (0 and these mean no limit) */
function slotCount (flag: string, text: string): number {
  if (/^\s*(inf|infinity|unlimited)\s*$/i.test(text)) return Infinity
  return integer(flag, text, 0)
}

function slotText (n: number): string {
  return Number.isFinite(n) ? String(n) : 'unlimited'
}

function progressLine (p: SimProgress): string {
  return `  simulated ${formatSeconds(p.timeMs / 1000)}: ${p.complete}/${p.nodes} nodes complete, ` +
    `${(p.messages / 1e6).toFixed(1)}M messages, wall ${formatSeconds(p.wallMs / 1000)}`
}

function main (argv: string[]): number {
  let opts: CliOptions | undefined
  try {
    opts = readOptions(argv[0] === '--' ? argv.slice(1) : argv)
  } catch (err: any) {
    process.stderr.write(`shoal-sim: ${err.message as string}\n(see --help)\n`)
    return 2
  }
  if (opts == null) {
    process.stdout.write(USAGE)
    return 0
  }
  const { quiet } = opts
  const tty = process.stderr.isTTY
  const results: SimResult[] = []
  for (const nodes of opts.nodes) {
    const init: SimInit = { ...opts.init, nodes }
    if (!quiet) {
      const link = init.link as { up: number }
      process.stderr.write(`${nodes} nodes, ${formatSize(init.size)}, ${formatRate(link.up)} links, ` +
        `${formatSize(init.chunkSize ?? DEFAULT_CHUNK_SIZE)} chunks\n`)
      init.progressIntervalMs = tty ? 500 : 10_000
      init.onProgress = p => {
        if (tty) process.stderr.write(`\r\x1b[K${progressLine(p)}`)
        else process.stderr.write(`${progressLine(p)}\n`)
      }
    }
    const r = simulate(init)
    results.push(r)
    if (!quiet) {
      if (tty) process.stderr.write('\r\x1b[K')
      process.stderr.write(`  done: ${r.completed}/${r.nodes} nodes in ${formatSeconds(r.simulatedTime)} simulated, ` +
        `wall ${formatSeconds(r.wallMs / 1000)}, max/T* ${r.maxOverBound.toFixed(3)}\n`)
    }
  }
  process.stdout.write(formatTable(results) + '\n')
  const caps = results.every(r => r.maxUpUtilization <= 1 + 1e-9 && r.maxDownUtilization <= 1 + 1e-9 && r.maxSlotUtilization <= 1)
  process.stdout.write(`\nT* = max(F/u_s, F/d_min, N·F/(u_s + Σu_i)). Time steps of ${results[0].dtMs} ms; ` +
    `latency ${results[0].latencyMs[0]}–${results[0].latencyMs[1]} ms one way; ` +
    `${results[0].maxPeers} peers dialled per node, dials refused at ${results[0].acceptPeers}, publisher connected to ${results[0].publisherPeers}; ` +
    `upload slots ${slotText(results[0].uploadSlots)} per node, ${slotText(results[0].publisherUploadSlots)} at the publisher. ` +
    `Caps and upload slots held in every step: ${caps ? 'yes' : 'NO'}.\n`)
  if (opts.json != null) {
    writeFileSync(opts.json, JSON.stringify(results, null, 2) + '\n')
    if (!quiet) process.stderr.write(`results written to ${opts.json}\n`)
  }
  return results.every(r => r.completed === r.nodes) ? 0 : 1
}

process.exitCode = main(process.argv.slice(2))
