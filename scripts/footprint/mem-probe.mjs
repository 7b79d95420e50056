/**
 * Preloaded into the node with `--import` when the benchmark runs with --mem-probe, to say
 * where the RSS goes: every 100 ms it appends process.memoryUsage() (V8 heap used/total,
 * `external` and `arrayBuffers` — the Buffer/Uint8Array backing stores the heap does not count)
 * and the GCs since the last line, as JSON lines to $FOOTPRINT_PROBE_OUT.
 *
 * It changes nothing in the node but adds a timer and a GC observer, so the headline peak is
 * taken from a run without it.
 */
import { closeSync, openSync, writeSync } from 'node:fs'
import { PerformanceObserver, constants } from 'node:perf_hooks'

const out = process.env.FOOTPRINT_PROBE_OUT
if (out != null && out !== '') {
  const fd = openSync(out, 'a')
  const kinds = {
    [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
    [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
    [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb'
  }
  let gcs = {}
  let gcMs = 0
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = kinds[e.detail?.kind ?? e.kind] ?? 'other'
      gcs[kind] = (gcs[kind] ?? 0) + 1
      gcMs += e.duration
    }
  })
  obs.observe({ entryTypes: ['gc'] })
  const timer = setInterval(() => {
    const m = process.memoryUsage()
    writeSync(fd, `${JSON.stringify({ t: Date.now(), rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, gcs, gcMs: Math.round(gcMs) })}\n`)
    gcs = {}
    gcMs = 0
  }, 100)
  timer.unref()
  process.on('exit', () => { try { closeSync(fd) } catch {} })
}
