/**
 * Parsing and printing of sizes, rates and durations for the CLI and the report.
 */
import { parseRate as parseLinkRate } from '@shoal/content'

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4
}

/**
 * Bytes from `"5e9"`, `"5GB"` (decimal), `"4MiB"` (binary), `"200 MB"`.
 *
 * @throws {RangeError} on anything else
 */
export function parseSize (text: string): number {
  const m = /^\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([kmgt]?i?b?)\s*$/i.exec(text)
  const unit = m?.[2].toLowerCase()
  if (m == null || unit == null || !Object.hasOwn(SIZE_UNITS, unit)) {
    throw new RangeError(`not a size: "${text}" (use bytes, or a unit: 200MB, 5GB, 4MiB)`)
  }
  const bytes = Math.round(Number(m[1]) * SIZE_UNITS[unit])
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`size out of range: "${text}"`)
  return bytes
}

/**
 * Bytes per second from `"1gbit"`, `"100mbit"`, `"40Mbps"` (bits, decimal, as links are sold)
 * or `"125MB"`, `"10MiB/s"`, `"125000000"` (bytes): the node's own `--max-upload` parser, which
 * must also be positive here (a link of 0 would never finish).
 *
 * @throws {RangeError} on anything else
 */
export function parseRate (text: string): number {
  const rate = parseLinkRate(text)
  if (!(rate > 0)) throw new RangeError(`rate must be positive: "${text}"`)
  return rate
}

/** `"1 Gbit/s"`, `"40 Mbit/s"` from bytes per second */
export function formatRate (bytesPerSec: number): string {
  const bits = bytesPerSec * 8
  if (bits >= 1e9) return `${trim(bits / 1e9)} Gbit/s`
  if (bits >= 1e6) return `${trim(bits / 1e6)} Mbit/s`
  if (bits >= 1e3) return `${trim(bits / 1e3)} kbit/s`
  return `${trim(bits)} bit/s`
}

/** `"5 GB"`, `"4 MiB"`, `"1.5 GB"`: the largest unit, decimal or binary, that divides exactly, else decimal */
export function formatSize (bytes: number): string {
  const units = [['GiB', 1024 ** 3], ['GB', 1e9], ['MiB', 1024 ** 2], ['MB', 1e6], ['KiB', 1024], ['kB', 1e3]] as const
  for (const [unit, n] of units) {
    if (bytes >= n && bytes % n === 0) return `${bytes / n} ${unit}`
  }
  for (const [unit, n] of [['TB', 1e12], ['GB', 1e9], ['MB', 1e6], ['kB', 1e3]] as const) {
    if (bytes >= n) return `${trim(bytes / n)} ${unit}`
  }
  return `${bytes} B`
}

/** Seconds with sensible precision: `"41.3 s"`, `"0.168 s"` */
export function formatSeconds (s: number): string {
  if (!Number.isFinite(s)) return '—'
  if (s >= 100) return `${s.toFixed(0)} s`
  if (s >= 1) return `${s.toFixed(1)} s`
  return `${s.toFixed(3)} s`
}

function trim (x: number): string {
  return Number(x.toPrecision(3)).toString()
}
