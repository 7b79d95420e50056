#!/usr/bin/env node
/**
 * shoal-node: the long-running Shoal daemon. It joins the swarm, fetches every announced
 * artifact into its output dir (only once complete and verified) and keeps serving it.
 */
import { ShoalNode, ShoalError } from '@shoal/swarm'
import { readOptions, USAGE } from './options.js'
import { StatusFile } from './status.js'
import { formatBytes } from '@shoal/content'
import { log } from './log.js'

async function main (): Promise<void> {
  // `pnpm start -- --flag` passes the `--` through; it means nothing here.
  const argv = process.argv.slice(2)
  const opts = await readOptions(argv[0] === '--' ? argv.slice(1) : argv, process.env)
  if (opts.help) {
    process.stdout.write(USAGE)
    return
  }
  const node = await ShoalNode.create(opts.init)
  // What the store's start-up check found (it re-hashes what a crash may have left half-written).
  for (const r of node.store.repairs) log(`repaired ${r.name}: ${r.problem} (${r.action})`)
  for (const h of node.store.list()) {
    if (!h.isComplete) log(`resuming ${h.manifest.name}: ${h.haveCount}/${h.manifest.chunks.length} chunks verified on disk`)
  }
  await node.start()
  log(`node ${node.peerId.toString()} listening on ${node.multiaddrs.join(' ')}`)
  log(`data dir ${node.config.dataDir}, output dir ${node.config.outputDir}, swarm "${node.config.swarm}"`)

  const status = new StatusFile(node, opts.statusFile)
  // A full disk is retried every few seconds; say so once, not on every retry.
  const warned = new Set<string>()
  const lastLogged = new Map<string, number>()
  node.addEventListener('announcement', (evt) => {
    const a = evt.detail
    if (!lastLogged.has(a.id)) log(`announced: ${a.name} (${formatBytes(a.size)}) id ${a.id} by ${a.publisher}`)
    lastLogged.set(a.id, lastLogged.get(a.id) ?? 0)
  })
  node.addEventListener('progress', (evt) => {
    const p = evt.detail
    const now = Date.now()
    // One line per second per artifact is plenty for a log.
    if (now - (lastLogged.get(p.id) ?? 0) < 1000) return
    lastLogged.set(p.id, now)
    log(`fetching ${p.name ?? p.id}: ${p.have}/${p.chunks ?? '?'} chunks from ${p.peers} peers`)
    status.changed()
  })
  node.addEventListener('complete', (evt) => {
    const p = evt.detail
    const fromPublisher = p.publisher != null ? p.bytesReceivedFrom[p.publisher] ?? 0 : 0
    log(`complete: ${p.name} → ${p.path} (${formatBytes(fromPublisher)} from the publisher, ${formatBytes(p.bytesReceived - fromPublisher)} from other nodes)`)
    for (const line of warned) if (line.includes(p.id)) warned.delete(line)
    status.changed()
  })
  node.addEventListener('evicted', (evt) => {
    log(`evicted ${evt.detail.name} (${evt.detail.id}): ${evt.detail.reason}`)
    status.changed()
  })
  node.addEventListener('error', (evt) => {
    const line = `warning: ${evt.detail.message}`
    if (warned.has(line)) return
    if (warned.size > 1000) warned.clear()
    warned.add(line)
    log(line)
  })
  status.start()

  let stopping = false
  const shutdown = (signal: string): void => {
    if (stopping) return
    stopping = true
    log(`${signal}: shutting down`)
    const force = setTimeout(() => { log('shutdown took too long, exiting'); process.exit(1) }, 10_000)
    force.unref()
    status.stop()
      .then(async () => { await node.stop() })
      .then(() => { log('stopped'); process.exit(0) }, (err) => { log(`error while stopping: ${err.message}`); process.exit(1) })
  }
  process.on('SIGINT', () => { shutdown('SIGINT') })
  process.on('SIGTERM', () => { shutdown('SIGTERM') })
}

main().catch((err: unknown) => {
  const e = err as Error
  process.stderr.write(`shoal-node: ${e instanceof ShoalError || (e as any).code != null ? e.message : e.stack ?? e.message}\n`)
  process.exit(e instanceof ShoalError || (e as any).code === 'ERR_USAGE' ? 2 : 1)
})
