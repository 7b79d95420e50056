#!/usr/bin/env node
/**
 * publisher: `publisher push <file>` chunks a file, announces it to the swarm and serves it
 * until enough nodes hold a full verified copy, then prints the artifact id and exits 0.
 */
import { ShoalNode, ShoalError } from '@shoal/swarm'
import { readOptions, USAGE } from './options.js'
import { Progress } from './progress.js'

async function main (): Promise<void> {
  // `pnpm start -- --flag` passes the `--` through; it means nothing here.
  const argv = process.argv.slice(2)
  const opts = await readOptions(argv[0] === '--' ? argv.slice(1) : argv, process.env)
  if (opts.help) {
    process.stdout.write(USAGE)
    return
  }
  const say = (line: string): void => { if (!opts.quiet) process.stderr.write(`${line}\n`) }
  const abort = new AbortController()
  let node: ShoalNode | undefined
  const onSignal = (signal: string): void => {
    if (abort.signal.aborted) return
    say(`${signal}: stopping`)
    // Before the node runs there is nothing to stop cleanly.
    if (node == null) process.exit(130)
    abort.abort(new ShoalError('ERR_INTERRUPTED', `interrupted by ${signal} before ${opts.replicas} replica(s) were reached`))
  }
  process.on('SIGINT', () => { onSignal('SIGINT') })
  process.on('SIGTERM', () => { onSignal('SIGTERM') })
  node = await ShoalNode.create(opts.init)

  await node.start()
  try {
    say(`publisher ${node.peerId.toString()} listening on ${node.multiaddrs.join(' ')}`)
    const progress = new Progress('chunking', process.stderr, !opts.quiet)
    const { id, manifest, reused } = await node.publish(opts.file, {
      chunkSize: opts.chunkSize,
      signal: abort.signal,
      onProgress: (done, total) => { progress.update(done, total) }
    })
    progress.done()
    if (reused) say(`reusing ${id.toString()}: ${opts.file} is unchanged since it was last pushed`)
    say(`published ${manifest.name}: ${manifest.size} bytes in ${manifest.chunks.length} chunks`)
    say(`artifact id ${id.toString()}`)
    say(`announced at ${Date.now()} (epoch ms)`)
    say(`serving until ${opts.replicas} node(s) hold a full verified copy...`)
    node.addEventListener('replica', (evt) => {
      if (evt.detail.id === id.toString()) say(`  ${evt.detail.replicas}/${opts.replicas} replicas (latest: ${evt.detail.peer})`)
    })
    const signals = [abort.signal]
    if (opts.timeoutMs != null) signals.push(AbortSignal.timeout(opts.timeoutMs))
    try {
      await node.waitForReplicas(id, opts.replicas, { signal: AbortSignal.any(signals) })
    } catch (err: any) {
      if (err?.name === 'TimeoutError') throw new ShoalError('ERR_TIMEOUT', `timed out after ${opts.timeoutMs} ms with ${node.replicasOf(id).length}/${opts.replicas} replicas — are nodes running in swarm "${node.config.swarm}"?`)
      throw err
    }
    const stats = node.stats().find(s => s.id === id.toString())
    const sent = stats?.bytesSent ?? 0
    const copies = stats?.manifestsSent ?? 0
    say(`done: ${opts.replicas} replica(s); the publisher uploaded ${sent} bytes (${(sent / Math.max(1, manifest.size)).toFixed(2)} x the file) and ${copies} cop${copies === 1 ? 'y' : 'ies'} of the manifest`)
    process.stdout.write(`${id.toString()}\n`)
  } finally {
    await node.stop()
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  const e = err as Error & { code?: string }
  process.stderr.write(`publisher: ${e.code != null ? e.message : e.stack ?? e.message}\n`)
  process.exit(e.code === 'ERR_USAGE' ? 2 : 1)
})
