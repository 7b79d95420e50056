/**
 * The naive baseline, run in the same bench after the Shoal phase: one HTTP server with the
 * publisher's upload cap and N concurrent downloads with the nodes' download caps. In netns mode
 * the server runs in the publisher's namespace and each client in its node's namespace, so the
 * same tbf links cap them; in app mode everything is on 127.0.0.1 and token buckets in the server
 * (shared by all responses) and in the clients (one per download) stand in for the links.
 */
import { join } from 'node:path'
import { BenchError, within } from './swarm.mjs'
import { sleep } from './stats.mjs'

const SERVER_SCRIPT = new URL('./http-server.mjs', import.meta.url).pathname
const CLIENT_SCRIPT = new URL('./http-client.mjs', import.meta.url).pathname
const HTTP_PORT = 8080

/**
 * @param {object} run   the bench's run context (procs, work, nodes, mode, topology, caps, …)
 * @param {object} o     { file, sha256, progress(line, elapsedMs) }
 */
export async function runHttpBaseline (run, { file, sha256, progress }) {
  const netns = run.mode === 'netns'
  const serverLog = join(run.work, 'http-server.log')
  let onListening
  const listening = new Promise((resolve) => { onListening = resolve })
  const server = run.procs.start('http-server', [...run.prefixFor(0), process.execPath, SERVER_SCRIPT,
    '--file', file,
    '--host', netns ? run.topology.members[0].addr : '127.0.0.1',
    '--port', netns ? String(HTTP_PORT) : '0',
    '--rate', netns ? '0' : String(run.serverUp)
  ], {
    logPath: serverLog,
    onStdoutLine: (line) => {
      const m = /^listening (\S+) (\d+)/.exec(line)
      if (m != null) onListening(`http://${m[1]}:${m[2]}/${encodeURIComponent(run.fileName)}`)
    }
  })
  run.procs.failOnAnyExit(server)
  const url = await within(listening, 20_000, 'the HTTP server did not start listening within 20 s', run.procs, serverLog)

  // clients: one process per node namespace (netns), or one process with N downloads (app)
  const groups = netns
    ? Array.from({ length: run.nodes }, (_, i) => ({ k: i + 1, first: i + 1, count: 1 }))
    : [{ k: undefined, first: 1, count: run.nodes }]
  const results = new Map() // client → done record
  const received = new Map() // client → bytes so far
  const errors = []
  const readiness = []
  const clients = groups.map((g) => {
    let onReady
    readiness.push(new Promise((resolve) => { onReady = resolve }))
    const logPath = join(run.work, netns ? `http-client-${g.first}.log` : 'http-clients.log')
    const proc = run.procs.start(netns ? `http-client-${g.first}` : 'http-clients', [
      ...(netns ? run.prefixFor(g.k) : []), process.execPath, CLIENT_SCRIPT,
      '--url', url, '--count', String(g.count), '--first', String(g.first),
      '--rate', netns ? '0' : String(run.nodeDown)
    ], {
      logPath,
      stdin: true,
      onStdoutLine: (line) => {
        let msg
        try { msg = JSON.parse(line) } catch { return }
        if (msg.type === 'ready') onReady()
        else if (msg.type === 'progress') msg.received.forEach((b, i) => received.set(msg.first + i, b))
        else if (msg.type === 'done') results.set(msg.client, msg)
        else if (msg.type === 'error') errors.push(`client ${msg.client}: ${msg.message}`)
      }
    })
    run.procs.failOnError(proc, `HTTP client ${g.first}`)
    return proc
  })
  await within(Promise.all(readiness), 60_000, 'the HTTP clients did not start within 60 s', run.procs, serverLog)

  const before = netns ? await run.topology.counters() : undefined
  const cpuPhase = await run.cpu.begin()
  const t0 = Date.now()
  for (const c of clients) c.child.stdin.end('go\n')

  const deadline = t0 + run.httpTimeoutMs
  let lastLine = 0
  let lastBytes = 0
  let lastAt = t0
  for (;;) {
    const now = Date.now()
    const done = results.size
    if (now - lastLine >= run.progressEveryMs || done === run.nodes) {
      const bytes = [...received.values()].reduce((s, b) => s + b, 0)
      const rate = (bytes - lastBytes) / Math.max(0.001, (now - lastAt) / 1000)
      lastBytes = bytes
      lastAt = now
      lastLine = now
      const avg = bytes / (run.nodes * run.fileBytes)
      await progress(`http: ${done}/${run.nodes} complete, avg ${(avg * 100).toFixed(0)} %, goodput ${(rate / 1e6).toFixed(1)} MB/s`, now - t0)
    }
    if (errors.length > 0) throw new BenchError(`HTTP baseline: ${errors[0]}`, serverLog)
    if (done === run.nodes) break
    if (now > deadline) throw new BenchError(`HTTP baseline timed out after ${run.httpTimeoutMs / 1000} s: ${done}/${run.nodes} downloads complete`, serverLog)
    await Promise.race([sleep(250), run.procs.failure])
  }
  const cpu = await cpuPhase.end()
  const after = netns ? await run.topology.counters() : undefined
  await Promise.all(clients.map(c => c.exited))
  await run.procs.stop([server])

  const bad = [...results.values()].filter(r => r.sha256 !== sha256 || r.bytes !== run.fileBytes)
  if (bad.length > 0) {
    throw new BenchError(`HTTP baseline: ${bad.length} download(s) differ from the source (client ${bad[0].client}: ${bad[0].bytes} bytes, sha256 ${bad[0].sha256.slice(0, 16)}…)`, serverLog)
  }
  return {
    t0,
    clients: [...results.values()].sort((a, b) => a.client - b.client).map(r => ({
      client: r.client,
      seconds: (r.completedAt - t0) / 1000,
      startDelaySeconds: (r.startedAt - t0) / 1000
    })),
    serverWireEgressBytes: netns ? after[0].up - before[0].up : undefined,
    cpu
  }
}
